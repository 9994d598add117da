package trace

import (
	"context"
	"sort"
	"sync"
	"time"

	"github.com/epollnet/epollnet"
	"github.com/epollnet/epollnet/cmd/epollnet/internal/tracefmt"
)

// recorder collects the engine's trace (it is Options.Tracer) and the
// notes a scenario adds, and lets the scenario wait for events.
type recorder struct {
	start time.Time // taken just before epollnet.New: the clock of notes

	mu      sync.Mutex
	recs    []tracefmt.Record
	last    time.Duration
	waiters []*waiter
	live    chan<- tracefmt.Record // if set, every record is also sent here
}

// waiter is a pending waitFor: left more records matching pred.
type waiter struct {
	pred func(tracefmt.Record) bool
	left int
	done chan struct{}
}

func newRecorder() *recorder { return &recorder{start: time.Now()} }

// trace is the engine's Tracer: called on loop goroutines, and on any
// goroutine that writes, so it locks.
func (r *recorder) trace(ev *epollnet.TraceEvent) {
	if ev.Kind == epollnet.TraceTimer && ev.Detail == "func" {
		return // the scenario's own AfterFunc timers: scaffolding, not engine behaviour
	}
	r.add(tracefmt.FromTraceEvent(ev))
}

// note adds a remark at the current time, never before the last event.
func (r *recorder) note(side, text string) {
	r.mu.Lock()
	t := max(time.Since(r.start), r.last)
	r.mu.Unlock()
	r.add(tracefmt.Note(t, side, text))
}

func (r *recorder) add(rec tracefmt.Record) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.recs = append(r.recs, rec)
	r.last = max(r.last, rec.T)
	kept := r.waiters[:0]
	for _, w := range r.waiters {
		if w.pred(rec) {
			w.left--
		}
		if w.left <= 0 {
			close(w.done)
			continue
		}
		kept = append(kept, w)
	}
	r.waiters = kept
	if r.live != nil {
		r.live <- rec
	}
}

// setLive starts or stops copying records to ch.
func (r *recorder) setLive(ch chan<- tracefmt.Record) {
	r.mu.Lock()
	r.live = ch
	r.mu.Unlock()
}

// waitFor waits until n records (counting those already recorded) match
// pred, or ctx ends.
func (r *recorder) waitFor(ctx context.Context, n int, pred func(tracefmt.Record) bool) error {
	w := &waiter{pred: pred, left: n, done: make(chan struct{})}
	r.mu.Lock()
	for _, rec := range r.recs {
		if pred(rec) {
			w.left--
		}
	}
	if w.left <= 0 {
		r.mu.Unlock()
		return nil
	}
	r.waiters = append(r.waiters, w)
	r.mu.Unlock()
	select {
	case <-w.done:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// records returns the trace in time order. Events from different
// goroutines may have been recorded slightly out of order; notes keep their
// place among events of the same time.
func (r *recorder) records() []tracefmt.Record {
	r.mu.Lock()
	out := append([]tracefmt.Record(nil), r.recs...)
	r.mu.Unlock()
	sort.SliceStable(out, func(i, j int) bool { return out[i].T < out[j].T })
	return out
}

// kind matches records of kind and role ("" for any role).
func kind(k, role string) func(tracefmt.Record) bool {
	return func(r tracefmt.Record) bool { return r.Kind == k && (role == "" || r.Role == role) }
}

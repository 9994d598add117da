package epollnet

import (
	"sync/atomic"
	"time"
)

// timerEntry is one deadline in a loop's min-heap. A connection that needs
// one keeps it in its connTimer, so its own timeouts, linger and send
// deadlines cost no allocation per deadline and no goroutine: activity only
// updates a timestamp, and when the entry fires the loop checks whether the
// deadline really passed and, if not, pushes it back (the lazy re-arm that
// keeps the heap untouched on the read path). The engine-wide idle and read
// timeouts need no entry per connection (timeout_sweep.go).
type timerEntry struct {
	when  int64 // on the loop clock, nanoseconds since the engine started
	index int   // position in the heap; -1 when not queued
	owner timerOwner
}

// timerOwner is what a timer entry belongs to: a *Conn, a listener's
// *lnHandle or a *Timer. fire runs on the loop when the entry expires.
type timerOwner interface{ fire(l *loop) }

type timerHeap []*timerEntry

func (h timerHeap) less(i, j int) bool { return h[i].when < h[j].when }

func (h timerHeap) swap(i, j int) {
	h[i], h[j] = h[j], h[i]
	h[i].index = i
	h[j].index = j
}

func (h timerHeap) up(i int) {
	for i > 0 {
		p := (i - 1) / 2
		if !h.less(i, p) {
			return
		}
		h.swap(i, p)
		i = p
	}
}

func (h timerHeap) down(i int) {
	for {
		l := 2*i + 1
		if l >= len(h) {
			return
		}
		m := l
		if r := l + 1; r < len(h) && h.less(r, l) {
			m = r
		}
		if !h.less(m, i) {
			return
		}
		h.swap(i, m)
		i = m
	}
}

// schedule inserts e, or moves it if already queued.
func (h *timerHeap) schedule(e *timerEntry, when int64) {
	e.when = when
	if e.index >= 0 {
		h.down(e.index)
		h.up(e.index)
		return
	}
	e.index = len(*h)
	*h = append(*h, e)
	h.up(e.index)
}

// remove takes e out of the heap if it is queued.
func (h *timerHeap) remove(e *timerEntry) {
	i := e.index
	if i < 0 {
		return
	}
	last := len(*h) - 1
	if i != last {
		h.swap(i, last)
	}
	(*h)[last] = nil
	*h = (*h)[:last]
	e.index = -1
	if i != last {
		h.down(i)
		h.up(i)
	}
}

// Timer is a one-shot callback scheduled on an event loop by
// Engine.AfterFunc or Conn.AfterFunc. Its methods are safe from any goroutine.
type Timer struct {
	e     timerEntry // owned by the loop
	l     *loop
	c     *Conn // Conn.AfterFunc's connection, for the trace; nil for Engine.AfterFunc
	f     func()
	state atomic.Int32 // 0 pending, 1 fired, 2 stopped
}

// Stop prevents the timer from firing. It reports whether it did so: false
// means the function already ran or is running, or Stop was called before.
// A stopped timer is dropped from its loop's heap when its time comes.
func (t *Timer) Stop() bool { return t.state.CompareAndSwap(0, 2) }

// Reset makes the timer fire after d from now, whether it was pending,
// stopped or had already fired, reusing it: a handler can keep one Timer
// per connection for a recurring deadline instead of allocating one each
// time. It reports whether the timer was pending. If the function is
// running when Reset is called, it runs again after d.
func (t *Timer) Reset(d time.Duration) bool {
	wasPending := t.state.Swap(0) == 0
	t.l.enqueue(task{kind: taskTimer, t: t, when: t.l.eng.clock() + durNanos(d)})
	return wasPending
}

func newTimer(l *loop, c *Conn, f func()) *Timer {
	t := &Timer{l: l, c: c, f: f}
	t.e.index = -1
	t.e.owner = t
	return t
}

func (t *Timer) fire(l *loop) {
	if l.opts.Tracer != nil {
		fd := -1
		if c := t.c; c != nil && c.state != stateClosed {
			fd = c.fd
		}
		l.traceDetail(TraceTimer, fd, t.c, 0, "func", nil)
	}
	if t.state.CompareAndSwap(0, 1) {
		t.f()
	}
}

func durNanos(d time.Duration) int64 {
	if d < 0 {
		return 0
	}
	return int64(d)
}

package proxy

import (
	"sync/atomic"
	"time"

	"github.com/epollnet/epollnet"
)

// backend is one --backend and its counters and health. Every loop's
// relays use it, so the fields are atomic; each is written once per
// connection at most, never per message.
type backend struct {
	backendSpec
	idx int

	active  atomic.Int64              // relays assigned to it now, connecting ones included
	total   atomic.Uint64             // connects that succeeded
	retries atomic.Uint64             // clients sent on to another backend after a failed connect here
	up, dn  atomic.Uint64             // bytes relayed to it, and from it
	failed  [numClasses]atomic.Uint64 // failed connects by class
	broken  [numClasses]atomic.Uint64 // relays its side ended abnormally, by class
	checkOK atomic.Uint64             // active checks that connected
	checkKO atomic.Uint64             // active checks that failed

	// Health. consecutive counts failed connects since the last success;
	// at --fails the backend is down until downUntil (passive) or until
	// a check succeeds (with --check-interval).
	consecutive atomic.Int32
	down        atomic.Bool
	downUntil   atomic.Int64 // Unix nanoseconds
	toDown      atomic.Uint64
	toUp        atomic.Uint64

	check atomic.Pointer[epollnet.Timer] // the next active check, if any
}

// numClasses sizes the per-class counters: epollnet.ErrorClass values,
// ClassNone (unused) to ClassOther.
const numClasses = int(epollnet.ClassOther) + 1

// health is what the relays and checks report to a backend.
type health struct {
	fails    int32
	downTime time.Duration
	checks   bool // active checks decide when a down backend is up again
}

// usable reports whether b may get a new connection at now.
func (b *backend) usable(now int64, h *health) bool {
	if !b.down.Load() {
		return true
	}
	// Passive health only: after the down time the next client tries it
	// (its consecutive count still at the threshold, one more failure
	// marks it down again).
	return !h.checks && now >= b.downUntil.Load()
}

// connected records a successful connect (or check): the backend is up.
func (b *backend) connected() {
	if b.consecutive.Load() != 0 {
		b.consecutive.Store(0)
	}
	if b.down.Load() && b.down.CompareAndSwap(true, false) {
		b.toUp.Add(1)
	}
}

// failedConnect records a failed connect (or check) at now.
func (b *backend) failedConnect(now int64, h *health) {
	if b.consecutive.Add(1) < h.fails {
		return
	}
	b.downUntil.Store(now + int64(h.downTime))
	if !b.down.Load() && b.down.CompareAndSwap(false, true) {
		b.toDown.Add(1)
	}
}

// maxBackends bounds --backend, so that a relay's set of backends already
// tried is a fixed bitmap (tried).
const maxBackends = 256

// tried is the set of backends one client's connects went to.
type tried [maxBackends / 64]uint64

func (t *tried) has(i int) bool { return t[i/64]&(1<<(i%64)) != 0 }
func (t *tried) add(i int)      { t[i/64] |= 1 << (i % 64) }

// picker chooses backends for one loop's clients. Each loop has its own,
// used only on its goroutine, so round robin needs no lock; the loops'
// rotations are independent, and together still spread connections in
// proportion to the weights.
type picker struct {
	bs        []*backend
	leastConn bool
	h         *health
	current   []int // smooth weighted round robin: each backend's current weight
	start     int   // leastconn: where ties begin, rotating
}

// pick returns a backend not in t, preferring those usable at now; when
// every untried backend is down it returns one of them anyway (a down
// backend may be back, and the client has nowhere else to go), and nil
// when every backend was tried.
func (p *picker) pick(t *tried, now int64) *backend {
	if b := p.choose(t, func(b *backend) bool { return b.usable(now, p.h) }); b != nil {
		return b
	}
	return p.choose(t, func(*backend) bool { return true })
}

func (p *picker) choose(t *tried, ok func(*backend) bool) *backend {
	if p.leastConn {
		return p.least(t, ok)
	}
	return p.roundRobin(t, ok)
}

// roundRobin is nginx's smooth weighted round robin: every candidate's
// current weight grows by its weight, the largest is chosen and loses the
// candidates' total. Weights 5, 1, 1 give a a b a c a a, not a a a a a b c.
func (p *picker) roundRobin(t *tried, ok func(*backend) bool) *backend {
	best, total := -1, 0
	for i, b := range p.bs {
		if t.has(i) || !ok(b) {
			continue
		}
		p.current[i] += b.weight
		total += b.weight
		if best < 0 || p.current[i] > p.current[best] {
			best = i
		}
	}
	if best < 0 {
		return nil
	}
	p.current[best] -= total
	return p.bs[best]
}

// least returns the candidate with the fewest active relays per unit of
// weight; ties go to the first from a rotating start.
func (p *picker) least(t *tried, ok func(*backend) bool) *backend {
	var best *backend
	var bestActive int64
	n := len(p.bs)
	p.start = (p.start + 1) % n
	for k := range n {
		i := (p.start + k) % n
		b := p.bs[i]
		if t.has(i) || !ok(b) {
			continue
		}
		a := b.active.Load()
		// a/b.weight < bestActive/best.weight, in integers.
		if best == nil || a*int64(best.weight) < bestActive*int64(b.weight) {
			best, bestActive = b, a
		}
	}
	return best
}

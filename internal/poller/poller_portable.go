//go:build !linux || epollnet_portable

package poller

// Notes about the portable backend, as this package uses it:
//
//   - Descriptors are internal/sys handles, whose goroutines notify the
//     poller (Notify) whenever a handle's state may have changed: data or
//     a FIN arrived, output drained, a dial ended, a connection was
//     accepted. The poller queues the handle and, at the next Poll, asks
//     sys.Readiness what holds now, as epoll polls a socket on its ready
//     list.
//   - Level-triggered registrations stay queued while they report
//     something, so they are asked again at every Poll, as epoll puts them
//     back on its ready list. Edge-triggered ones (Edge) leave the queue
//     once reported, until the next notification: one report per new
//     arrival or freed space.
//   - Add and Mod queue the handle, so they report its current state, as
//     EPOLL_CTL_ADD and EPOLL_CTL_MOD do. Error and Hangup are reported
//     whatever the interest.
//   - Closing a handle removes its registration (Forget), as close(2)
//     removes a socket from its epoll sets: the engine closes the sockets
//     it created without a Del first.
//   - Wait parks on a channel that Notify and Wake both fill; a spurious
//     return (a token left by a notification already handled) reports no
//     events, which the loop takes in its stride.

import (
	"sync"
	"time"

	"github.com/epollnet/epollnet/internal/sys"
)

type registration struct {
	gen      uint32
	interest Events
	queued   bool
}

type event struct {
	tag Tag
	ev  Events
}

// Poller is the portable readiness multiplexer. Every method except Wake
// and Notify must be called from the owning loop goroutine.
type Poller struct {
	mu    sync.Mutex
	regs  map[int]*registration
	queue []int // handles to ask, each once (registration.queued)
	spare []int

	wake   chan struct{}
	timer  *time.Timer
	events []event
}

// New creates a poller that returns up to maxEvents per Wait.
func New(maxEvents int) (*Poller, error) {
	if maxEvents <= 0 {
		maxEvents = 256
	}
	return &Poller{regs: map[int]*registration{}, wake: make(chan struct{}, 1),
		events: make([]event, maxEvents)}, nil
}

// Add registers fd with the given interest, tagged with gen.
func (p *Poller) Add(fd int, gen uint32, interest Events) error {
	p.mu.Lock()
	if p.regs[fd] != nil {
		p.mu.Unlock()
		return sys.Wrap("poller_add", errExist)
	}
	p.regs[fd] = &registration{gen: gen, interest: interest}
	p.queueLocked(fd)
	p.mu.Unlock()
	if err := sys.Watch(fd, p); err != nil {
		p.mu.Lock()
		delete(p.regs, fd)
		p.mu.Unlock()
		return sys.Wrap("poller_add", err)
	}
	return nil
}

// Mod changes fd's interest and reports its current state again.
func (p *Poller) Mod(fd int, gen uint32, interest Events) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	r := p.regs[fd]
	if r == nil {
		return sys.Wrap("poller_mod", errNoEnt)
	}
	r.gen, r.interest = gen, interest
	p.queueLocked(fd)
	return nil
}

// Del removes fd.
func (p *Poller) Del(fd int) error {
	p.mu.Lock()
	_, ok := p.regs[fd]
	delete(p.regs, fd)
	p.mu.Unlock()
	if !ok {
		return sys.Wrap("poller_del", errNoEnt)
	}
	sys.Unwatch(fd)
	return nil
}

// Notify queues fd to be asked for its readiness and wakes Wait. It is
// called by the handles' goroutines.
func (p *Poller) Notify(fd int) {
	p.mu.Lock()
	p.queueLocked(fd)
	p.mu.Unlock()
	p.Wake()
}

// Forget drops fd's registration: its handle was closed without a Del,
// which close(2) does for an epoll set. sys.Close calls it on the closing
// goroutine, the loop's.
func (p *Poller) Forget(fd int) {
	p.mu.Lock()
	delete(p.regs, fd)
	p.mu.Unlock()
}

func (p *Poller) queueLocked(fd int) {
	if r := p.regs[fd]; r != nil && !r.queued {
		r.queued = true
		p.queue = append(p.queue, fd)
	}
}

// PrepareSleep announces that the loop is about to block in Wait. A wake
// token outlives it, so nothing needs doing here.
func (p *Poller) PrepareSleep() {}

// Wait parks until an event is ready, a Wake, or timeout passes (a
// negative timeout: no limit), and returns the number of events available
// through Event.
func (p *Poller) Wait(timeout time.Duration) (int, error) {
	// The first look leaves any wake token in place: a Wake that came
	// after the loop last checked its tasks must end the sleep below.
	if n := p.collect(); n > 0 || timeout == 0 {
		return n, nil
	}
	if timeout < 0 {
		<-p.wake
		return p.collect(), nil
	}
	if p.timer == nil {
		p.timer = time.NewTimer(timeout)
	} else {
		p.timer.Reset(timeout)
	}
	select {
	case <-p.wake:
		p.timer.Stop()
	case <-p.timer.C:
	}
	return p.collect(), nil
}

// Poll returns the events ready now without blocking. It consumes a
// pending wake-up: the loop, awake, runs its tasks after it.
func (p *Poller) Poll() (int, error) {
	select {
	case <-p.wake:
	default:
	}
	return p.collect(), nil
}

// collect asks the queued handles for their readiness and fills events.
func (p *Poller) collect() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	n := 0
	next := p.spare[:0]
	for i, fd := range p.queue {
		if n == len(p.events) {
			next = append(next, p.queue[i:]...)
			break
		}
		r := p.regs[fd]
		if r == nil {
			continue // deleted meanwhile
		}
		ev := Events(sys.Readiness(fd)) & (r.interest&^Edge | Error | Hangup)
		if ev == 0 || r.interest&Edge != 0 {
			r.queued = false
		} else {
			next = append(next, fd) // level-triggered: asked again next time
		}
		if ev != 0 {
			p.events[n] = event{Tag{FD: int32(fd), Gen: r.gen}, ev}
			n++
		}
	}
	clear(p.queue)
	p.queue, p.spare = next, p.queue[:0]
	return n
}

// Event returns the i'th event of the last Wait or Poll.
func (p *Poller) Event(i int) (Tag, Events) {
	e := &p.events[i]
	return e.tag, e.ev
}

// Wake interrupts a Wait in progress, or the next one. It is safe from any
// goroutine; wakes collapse into one token.
func (p *Poller) Wake() error {
	select {
	case p.wake <- struct{}{}:
	default:
	}
	return nil
}

// Close releases the poller.
func (p *Poller) Close() error {
	p.mu.Lock()
	fds := make([]int, 0, len(p.regs))
	for fd := range p.regs {
		fds = append(fds, fd)
	}
	p.regs = map[int]*registration{}
	p.mu.Unlock()
	for _, fd := range fds {
		sys.Unwatch(fd)
	}
	if p.timer != nil {
		p.timer.Stop()
	}
	return nil
}

//go:build linux && !epollnet_portable

package poller

// Notes about epoll, as this package uses it:
//
//   - The caller chooses per registration: Edge in the interest asks for
//     EPOLLET. The engine registers listeners level-triggered (under EPOLLET
//     a listener that hit EMFILE, or that accepted fewer than all queued
//     connections, would strand them until the next arrival; see
//     docs/kernel.md, "Edge- versus level-triggered listener") and
//     connections edge-triggered (the engine's interest.go).
//   - epoll tracks the open file description, not the fd number: after a
//     dup() the registration outlives close(fd) (see docs/kernel.md, "epoll
//     watches the open file, not the descriptor"). The engine
//     therefore always calls Del before closing an fd it registered.
//   - EPOLLERR and EPOLLHUP cannot be masked; interest 0 still reports them.
//   - The data word carries fd | generation<<32, never a Go pointer, so the
//     garbage collector never has to know about kernel-held references.
//   - The loop never blocks an OS thread in epoll_wait. Its epoll fd is
//     itself pollable, so it is handed to the Go runtime's netpoller (nested
//     epoll) and the loop goroutine parks there like any goroutine reading a
//     socket. When it becomes ready the scheduler may run the loop on the
//     very thread that made it ready, so a message does not wait for a
//     sleeping thread on another CPU to be woken (futex wake, IPI) and
//     scheduled. The runtime registers the fd edge-triggered, so the loop
//     parks only right after an epoll_wait(0) found nothing; any later
//     event is a new edge.

import (
	"errors"
	"os"
	"sync/atomic"
	"syscall"
	"time"
	"unsafe"

	"github.com/epollnet/epollnet/internal/sys"
	"golang.org/x/sys/unix"
)

// Poller is one epoll instance with an eventfd for wake-ups.
// Every method except Wake must be called from the owning loop goroutine.
type Poller struct {
	epfd   int
	wakefd int
	events []unix.EpollEvent
	file   *os.File        // epfd, registered with the Go netpoller
	raw    syscall.RawConn // parks the loop goroutine until epfd is readable
	waitN  int
	waitE  unix.Errno
	waitFn func(uintptr) bool
	dl     time.Time // the read deadline currently set on file

	// sleeping is 1 from PrepareSleep until Wait returns. Wake writes the
	// eventfd only then, and wakeSig collapses concurrent wakes into one
	// write (Go's netpollWakeSig). Both are sequentially consistent, so a
	// producer that queued work either sees sleeping==1 or the loop sees the
	// work before it parks.
	sleeping atomic.Int32
	wakeSig  atomic.Int32
	wakeBuf  [8]byte
}

// New creates an epoll instance that returns up to maxEvents per Wait.
func New(maxEvents int) (*Poller, error) {
	if maxEvents <= 0 {
		maxEvents = 256
	}
	epfd, err := unix.EpollCreate1(unix.EPOLL_CLOEXEC)
	if err != nil {
		return nil, sys.Wrap("epoll_create1", err)
	}
	wfd, err := unix.Eventfd(0, unix.EFD_NONBLOCK|unix.EFD_CLOEXEC)
	if err != nil {
		unix.Close(epfd)
		return nil, sys.Wrap("eventfd", err)
	}
	p := &Poller{epfd: epfd, wakefd: wfd, events: make([]unix.EpollEvent, maxEvents)}
	ev := unix.EpollEvent{Events: unix.EPOLLIN, Fd: int32(wfd), Pad: -1}
	if err := unix.EpollCtl(epfd, unix.EPOLL_CTL_ADD, wfd, &ev); err != nil {
		unix.Close(wfd)
		unix.Close(epfd)
		return nil, sys.Wrap("epoll_ctl", err)
	}
	// O_NONBLOCK makes os.NewFile register the fd with the runtime poller.
	if err := unix.SetNonblock(epfd, true); err != nil {
		unix.Close(wfd)
		unix.Close(epfd)
		return nil, sys.Wrap("fcntl", err)
	}
	p.file = os.NewFile(uintptr(epfd), "epoll")
	if p.raw, err = p.file.SyscallConn(); err != nil {
		p.Close()
		return nil, err
	}
	p.waitFn = p.pollOnce
	return p, nil
}

// Add registers fd with the given interest, tagged with gen.
func (p *Poller) Add(fd int, gen uint32, interest Events) error {
	ev := unix.EpollEvent{Events: uint32(interest), Fd: int32(fd), Pad: int32(gen)}
	return sys.Wrap("epoll_ctl", epollCtl(p.epfd, unix.EPOLL_CTL_ADD, fd, &ev))
}

// Mod changes fd's interest. Interest 0 silences everything but ERR and HUP.
func (p *Poller) Mod(fd int, gen uint32, interest Events) error {
	ev := unix.EpollEvent{Events: uint32(interest), Fd: int32(fd), Pad: int32(gen)}
	return sys.Wrap("epoll_ctl", epollCtl(p.epfd, unix.EPOLL_CTL_MOD, fd, &ev))
}

// Del removes fd. A non-nil event pointer is passed because kernels before
// 2.6.9 required one even for EPOLL_CTL_DEL.
func (p *Poller) Del(fd int) error {
	var ev unix.EpollEvent
	return sys.Wrap("epoll_ctl", epollCtl(p.epfd, unix.EPOLL_CTL_DEL, fd, &ev))
}

// PrepareSleep announces that the loop is about to block in Wait. The loop
// must check its task queue after calling it and pass a zero timeout to Wait
// if work is queued.
func (p *Poller) PrepareSleep() { p.sleeping.Store(1) }

// Wait parks the loop goroutine until an event is ready or timeout passes
// (a negative timeout: no limit), and returns the number of events
// available through Event. A wake-up through Wake is consumed here; its slot
// is reported with FD -1 so the caller skips it.
func (p *Poller) Wait(timeout time.Duration) (int, error) {
	var dl time.Time
	if timeout >= 0 {
		dl = time.Now().Add(timeout)
	}
	if dl != p.dl {
		p.file.SetReadDeadline(dl)
		p.dl = dl
	}
	p.waitN, p.waitE = 0, 0
	err := p.raw.Read(p.waitFn)
	p.sleeping.Store(0)
	switch {
	case errors.Is(err, os.ErrDeadlineExceeded):
		p.dl = time.Time{} // the runtime has let the deadline go
		p.file.SetReadDeadline(p.dl)
		return 0, nil
	case err != nil:
		return 0, err
	case p.waitE != 0:
		return 0, sys.Wrap("epoll_wait", p.waitE)
	}
	p.markWake(p.waitN)
	return p.waitN, nil
}

// pollOnce is the RawConn callback: it reports true (done) when
// epoll_wait(0) returned events or an error, false to park until the epoll
// fd is readable.
func (p *Poller) pollOnce(uintptr) bool {
	n, e := p.rawWait()
	if e == unix.EINTR {
		return false
	}
	p.waitN, p.waitE = n, e
	return n > 0 || e != 0
}

func (p *Poller) rawWait() (int, unix.Errno) {
	n, _, e := syscall.RawSyscall6(unix.SYS_EPOLL_WAIT, uintptr(p.epfd),
		uintptr(unsafe.Pointer(&p.events[0])), uintptr(len(p.events)), 0, 0, 0)
	if e != 0 {
		return 0, e
	}
	return int(n), 0
}

// markWake consumes a wake-up among the first n events.
func (p *Poller) markWake(n int) {
	for i := 0; i < n; i++ {
		if p.events[i].Pad == -1 && int(p.events[i].Fd) == p.wakefd {
			// Drain first, then clear the signal (the Go runtime's order).
			// Cleared first, a second Wake could write between the two and
			// be drained here, leaving wakeSig set with an empty eventfd:
			// every later Wake would then fail its CAS and the loop would
			// sleep through its tasks. A Wake that finds the signal still
			// set in between does nothing, and needs nothing: the loop is
			// awake and checks its queue before it sleeps again.
			unix.Read(p.wakefd, p.wakeBuf[:])
			p.wakeSig.Store(0)
			p.events[i].Fd = -1
		}
	}
}

// Poll returns the events ready now without blocking. It is a raw system
// call: it cannot block, so the scheduler need not be told.
func (p *Poller) Poll() (int, error) {
	if p.sleeping.Load() != 0 {
		p.sleeping.Store(0) // PrepareSleep was called, but the loop will not park
	}
	n, e := p.rawWait()
	if e != 0 {
		if e == unix.EINTR {
			return 0, nil
		}
		return 0, sys.Wrap("epoll_wait", e)
	}
	p.markWake(n)
	return n, nil
}

// Event returns the i'th event of the last Wait: its tag and readiness.
func (p *Poller) Event(i int) (Tag, Events) {
	e := &p.events[i]
	return Tag{FD: e.Fd, Gen: uint32(e.Pad)}, Events(e.Events)
}

// Wake interrupts a Wait in progress, or the next one if the loop is between
// PrepareSleep and Wait. It is safe from any goroutine and writes the eventfd
// at most once per sleep.
func (p *Poller) Wake() error {
	if p.sleeping.Load() == 0 || !p.wakeSig.CompareAndSwap(0, 1) {
		return nil
	}
	one := uint64(1)
	buf := (*[8]byte)(unsafe.Pointer(&one))[:]
	for {
		_, err := unix.Write(p.wakefd, buf)
		if err == unix.EINTR {
			continue
		}
		if err == unix.EAGAIN { // counter saturated: a wake is pending anyway
			return nil
		}
		return sys.Wrap("write", err)
	}
}

// Close releases the epoll instance and the eventfd.
func (p *Poller) Close() error {
	err1 := unix.Close(p.wakefd)
	var err2 error
	if p.file != nil {
		err2 = p.file.Close() // deregisters from the runtime, then closes epfd
	} else {
		err2 = sys.Wrap("close", unix.Close(p.epfd))
	}
	if err1 != nil {
		return sys.Wrap("close", err1)
	}
	return err2
}

// epollCtl is epoll_ctl(2) as a raw system call: it never blocks, and the
// loop makes two per connection, so entersyscall and exitsyscall would only
// add work (see sys.Read).
func epollCtl(epfd, op, fd int, ev *unix.EpollEvent) error {
	_, _, e := syscall.RawSyscall6(unix.SYS_EPOLL_CTL, uintptr(epfd), uintptr(op), uintptr(fd),
		uintptr(unsafe.Pointer(ev)), 0, 0)
	if e != 0 {
		return e
	}
	return nil
}

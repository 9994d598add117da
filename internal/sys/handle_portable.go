//go:build !linux || epollnet_portable

package sys

// The portable backend: descriptors are handles into a table of Go net
// objects, and each call of the Linux API is answered from per-handle state
// that goroutines keep current. A connection has a reader goroutine that
// fills an input queue (Read serves it, EAGAIN when empty) and a writer
// goroutine that drains a bounded output queue (Send fills it, EAGAIN when
// full); a listener has an accept goroutine feeding a queue; a dial is a
// goroutine (Connect says EINPROGRESS, SocketError gives its result once).
// Whenever that state changes, the handle tells its watcher (the poller
// that registered it), which asks Readiness what holds now. The engine
// above sees the same system calls, errnos and readiness as on Linux.

import (
	"sync"
	"sync/atomic"
	"syscall"
)

// Backend names the implementation under the engine: "portable" here.
const Backend = "portable"

// Readiness bits reported by Readiness, equal to the poller's Events (and
// so to epoll's values).
const (
	EvReadable   = 0x1
	EvWritable   = 0x4
	EvError      = 0x8
	EvHangup     = 0x10
	EvReadHangup = 0x2000
)

// Notifier is told that a handle's readiness may have changed. Notify is
// called from the handle's goroutines, never with a handle's lock held.
// Forget is called by Close of a handle still watched, on the closing
// goroutine: as close(2) takes a socket out of every epoll set, the
// registration goes with the handle (the engine closes its own sockets
// without a Del first).
type Notifier interface {
	Notify(fd int)
	Forget(fd int)
}

type handleKind uint8

const (
	kindSocket     handleKind = iota // created, not yet listening or connecting
	kindListener                     // listening: accepts from its group
	kindConnecting                   // a dial in flight, or failed
	kindConn                         // connected: reader and writer running
)

// handle is one descriptor of the portable backend. mu guards every field;
// cond (on mu) wakes the handle's goroutines.
type handle struct {
	mu   sync.Mutex
	cond sync.Cond
	kind handleKind

	family     int
	noDelay    int8 // 0 unset (Go's default, on), 1 on, -1 off
	keepIdle   int  // seconds, 0 off
	reusePort  bool
	v6only     bool
	lingerZero bool
	bound      any // net.Addr from Bind
	closed     bool

	w   Notifier
	wfd int

	group *lnGroup // kindListener

	cancel  func() // kindConnecting: ends the dial
	failed  bool   // kindConnecting: the dial failed
	soError syscall.Errno

	stream *stream // kindConn
}

// watcher returns the watcher to tell once mu is released.
func (h *handle) watcher() (Notifier, int) { return h.w, h.wfd }

func notify(n Notifier, fd int) {
	if n != nil {
		n.Notify(fd)
	}
}

const (
	pageShift = 9
	pageSize  = 1 << pageShift
)

type page [pageSize]atomic.Pointer[handle]

// table maps descriptor numbers to handles. Lookups are lock-free (the
// hot path: every Read and Send); allocation takes mu. Numbers are reused
// lowest first, like the kernel's, so a table stays small.
var table struct {
	mu    sync.Mutex
	pages atomic.Pointer[[]*page]
	free  []int // freed numbers, lowest last
	next  int
}

// firstFD keeps handle numbers clear of 0, 1 and 2, which read as stdio in
// traces.
const firstFD = 3

func lookup(fd int) *handle {
	if fd < 0 {
		return nil
	}
	pp := table.pages.Load()
	if pp == nil {
		return nil
	}
	pages := *pp
	p := fd >> pageShift
	if p >= len(pages) {
		return nil
	}
	return pages[p][fd&(pageSize-1)].Load()
}

// install enters h under a free number.
func install(h *handle) int {
	h.cond.L = &h.mu
	table.mu.Lock()
	defer table.mu.Unlock()
	var fd int
	if n := len(table.free); n > 0 {
		fd = table.free[n-1]
		table.free = table.free[:n-1]
	} else {
		if table.next < firstFD {
			table.next = firstFD
		}
		fd = table.next
		table.next++
	}
	var pages []*page
	if pp := table.pages.Load(); pp != nil {
		pages = *pp
	}
	if p := fd >> pageShift; p >= len(pages) {
		grown := make([]*page, p+1)
		copy(grown, pages)
		for i := len(pages); i <= p; i++ {
			grown[i] = new(page)
		}
		table.pages.Store(&grown)
		pages = grown
	}
	pages[fd>>pageShift][fd&(pageSize-1)].Store(h)
	return fd
}

// release removes fd from the table and frees its number.
func release(fd int) *handle {
	table.mu.Lock()
	defer table.mu.Unlock()
	h := lookup(fd)
	if h == nil {
		return nil
	}
	(*table.pages.Load())[fd>>pageShift][fd&(pageSize-1)].Store(nil)
	// Keep free sorted descending so the lowest number is reused first.
	i := len(table.free)
	table.free = append(table.free, fd)
	for i > 0 && table.free[i-1] < fd {
		table.free[i] = table.free[i-1]
		i--
	}
	table.free[i] = fd
	return h
}

// Watch makes n the watcher of fd: it is notified, with fd, whenever fd's
// readiness may have changed.
func Watch(fd int, n Notifier) error {
	h := lookup(fd)
	if h == nil {
		return syscall.EBADF
	}
	h.mu.Lock()
	h.w, h.wfd = n, fd
	h.mu.Unlock()
	return nil
}

// Unwatch stops notifications for fd.
func Unwatch(fd int) error {
	h := lookup(fd)
	if h == nil {
		return syscall.EBADF
	}
	h.mu.Lock()
	h.w = nil
	h.mu.Unlock()
	return nil
}

// Readiness returns what holds for fd now, in the Ev bits: what epoll's
// poll of the socket would report.
func Readiness(fd int) uint32 {
	h := lookup(fd)
	if h == nil {
		return 0
	}
	h.mu.Lock()
	if h.kind == kindListener {
		g := h.group
		h.mu.Unlock()
		if g.ready() {
			return EvReadable
		}
		return 0
	}
	defer h.mu.Unlock()
	switch h.kind {
	case kindSocket:
		return EvWritable | EvHangup // an unconnected socket, as Linux reports it
	case kindConnecting:
		if h.failed {
			return EvReadable | EvWritable | EvError | EvHangup
		}
	case kindConn:
		return h.stream.readiness(h.soError != 0)
	}
	return 0
}

// OpenHandles returns the number of live handles, for leak checks.
func OpenHandles() int {
	pp := table.pages.Load()
	if pp == nil {
		return 0
	}
	n := 0
	for _, pg := range *pp {
		for i := range pg {
			if pg[i].Load() != nil {
				n++
			}
		}
	}
	return n
}

//go:build linux

package epollnet

import (
	"net/netip"
	"runtime"
	"testing"
	"time"
	"unsafe"

	"github.com/epollnet/epollnet/internal/nettest"
	"golang.org/x/sys/unix"
)

// TestIdleConnectionHeapCost measures what an idle accepted TCP/IPv4
// connection costs the Go heap, with the engine's idle and read timeouts
// on: its 112-byte Conn and nothing else (no buffer, timer or goroutine). A first round of connections, opened and
// closed, leaves the descriptor table's pages in place (with one to spare),
// so the measured round reuses them; the clients are raw blocking sockets, so the test
// itself allocates nothing per connection. Any allocation added per
// connection, or a Conn grown to the next size class (128), fails it.
func TestIdleConnectionHeapCost(t *testing.T) {
	nettest.NeedEpoll(t, "an idle connection without goroutines of its own")
	const n = 500
	e := newEngine(t, Options{Loops: 1, IdleTimeout: time.Hour, ReadTimeout: time.Hour})
	h := newRecorder() // its channels hold 4096 events: no allocation per event
	ln := listen(t, e, h, nil)
	ap := netip.MustParseAddrPort(ln.Addr().String())
	sa := unix.RawSockaddrInet4{Family: unix.AF_INET, Addr: ap.Addr().As4()}
	sa.Port = ap.Port()>>8 | ap.Port()<<8 // network byte order
	fds := make([]int, 0, n)
	t.Cleanup(func() { closeAll(fds) })

	// Warm-up: the descriptor table's pages, with a page (512 descriptors,
	// 256 connections) to spare: if other descriptors are open during the
	// measured round, its numbers shift up, and a page allocated then would
	// add 16 bytes per connection (a rare failure under -race).
	const warm = n + 256
	fds = connectN(t, h, fds, warm, &sa)
	closeAll(fds)
	fds = fds[:0]
	waitN(t, h.closed, warm, "closed")

	// The best of three rounds: a one-off allocation elsewhere in the
	// process during a round (the race detector's, a runtime structure
	// growing) adds a few bytes per connection to that round only, while
	// a cost per connection shows in every round.
	var rounds []float64
	for range 3 {
		before := heapAlloc()
		fds = connectN(t, h, fds, n, &sa)
		perConn := (float64(heapAlloc()) - float64(before)) / n
		rounds = append(rounds, perConn)
		if perConn <= 120 {
			t.Logf("%.1f heap bytes per idle connection (rounds %.1f)", perConn, rounds)
			return
		}
		closeAll(fds)
		fds = fds[:0]
		waitN(t, h.closed, n, "closed")
	}
	t.Fatalf("heap bytes per idle connection %.1f in three rounds, want at most 120 (Conn is 112)", rounds)
}

// TestEngineTimeoutsAllocateNothingPerConnection: the engine's idle and
// read timeouts cost a connection no allocation beyond its Conn: opening
// it (which starts the sweep), a sweep that finds it active, and the sweep
// that closes it for idleness allocate nothing. The loop is not running;
// the test drives it, on socketpairs, moving its clock by hand.
func TestEngineTimeoutsAllocateNothingPerConnection(t *testing.T) {
	nettest.NeedEpoll(t, "the loop driven by hand on socketpair descriptors")
	const idle = time.Minute
	e := newEngine(t, Options{Loops: 1, IdleTimeout: idle, ReadTimeout: 2 * idle})
	l, err := newLoop(e, 1)
	if err != nil {
		t.Fatal(err)
	}
	defer l.p.Close()
	h := &closeCounter{}
	src := &connSource{h: h}
	runs := 0
	n := testing.AllocsPerRun(100, func() {
		runs++
		fds, err := unix.Socketpair(unix.AF_UNIX, unix.SOCK_STREAM|unix.SOCK_NONBLOCK|unix.SOCK_CLOEXEC, 0)
		if err != nil {
			panic(err) // AllocsPerRun's function cannot fail the test
		}
		defer unix.Close(fds[1])
		c := newConn(l, fds[0], "tcp", src, RoleDialed) // the one allocation
		if err := l.open(c); err != nil {
			panic(err)
		}
		l.now += int64(idle) / 2
		l.runTimers() // the sweep: not yet idle
		l.now += int64(idle)
		l.runTimers() // the sweep: idle, closed
	})
	if n != 1 {
		t.Fatalf("%v allocations per connection opened, swept and closed by its idle timeout, want 1 (the Conn)", n)
	}
	if h.idle != runs || h.other != 0 {
		t.Fatalf("%d idle-timeout closes and %d others in %d runs, want one idle-timeout close a run", h.idle, h.other, runs)
	}
}

// closeCounter counts closes by reason, without allocating.
type closeCounter struct {
	BaseHandler
	idle, other int
}

func (h *closeCounter) OnClose(c *Conn, why error) {
	if why == ErrIdleTimeout {
		h.idle++
	} else {
		h.other++
	}
}

func connectN(t *testing.T, h *recorder, fds []int, n int, sa *unix.RawSockaddrInet4) []int {
	t.Helper()
	for range n {
		fd, err := unix.Socket(unix.AF_INET, unix.SOCK_STREAM|unix.SOCK_CLOEXEC, 0)
		if err != nil {
			t.Fatal(err)
		}
		fds = append(fds, fd)
		_, _, errno := unix.RawSyscall(unix.SYS_CONNECT, uintptr(fd), uintptr(unsafe.Pointer(sa)), unix.SizeofSockaddrInet4)
		if errno != 0 {
			t.Fatalf("connect: %v", errno)
		}
	}
	waitN(t, h.opened, n, "opened")
	return fds
}

func waitN[T any](t *testing.T, ch <-chan T, n int, what string) {
	t.Helper()
	timeout := time.NewTimer(10 * time.Second)
	defer timeout.Stop()
	for i := range n {
		select {
		case <-ch:
		case <-timeout.C:
			t.Fatalf("%d of %d connections %s after 10 s", i, n, what)
		}
	}
}

func closeAll(fds []int) {
	for _, fd := range fds {
		unix.Close(fd)
	}
}

// heapAlloc returns the live heap. Two collections: sync.Pool keeps what
// one collection frees from it (its victim cache) until the next.
func heapAlloc() uint64 {
	runtime.GC()
	runtime.GC()
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	return m.HeapAlloc
}

// TestQueuingLoopRequestsAllocatesNothing: the requests other goroutines
// hand a loop on busy paths (PauseRead, ResumeRead, Timer.Reset, Close,
// Abort, a Write waiting for EPOLLOUT, an accepted connection or a dial
// handed over, a listener re-armed below MaxConns) are queued as values:
// queuing one allocates nothing. The loop is not running, so the queue
// only fills, in a slice sized beforehand.
func TestQueuingLoopRequestsAllocatesNothing(t *testing.T) {
	e := newEngine(t, Options{Loops: 1})
	l, err := newLoop(e, 1)
	if err != nil {
		t.Fatal(err)
	}
	defer l.p.Close()
	l.tasks = make([]task, 0, 4096)
	c := &Conn{loop: l}
	tm := newTimer(l, nil, func() {})
	lh := &lnHandle{loop: l}
	n := testing.AllocsPerRun(100, func() {
		c.PauseRead()
		c.ResumeRead()
		tm.Reset(time.Hour)
		// The public calls, each on a fresh connection state (each
		// queues its task once per connection).
		c.mf = 0
		c.reqs.Store(0)
		c.Close()
		c.mf = 0
		c.reqs.Store(0)
		c.Abort()
		c.mf = 0
		c.reqs.Store(0)
		c.CloseWrite()
		l.enqueue(task{kind: taskAbort, c: c, err: ErrWriteCapExceeded})
		l.enqueue(task{kind: taskArmOut, c: c})
		l.enqueue(task{kind: taskAdopt, c: c})
		l.enqueue(task{kind: taskDial, c: c})
		l.enqueue(task{kind: taskUncap, lh: lh})
	})
	if n != 0 {
		t.Fatalf("%v allocations per round of queued requests, want 0", n)
	}
}

// TestChurnAllocatesOnlyTheConn: a connection that is accepted, echoes one
// message and is closed at the client's FIN allocates its Conn and nothing
// else (no timer, no buffer, no task, no error value). The clients are raw
// blocking sockets, one at a time, so the test allocates nothing per
// connection itself; the best of three rounds, since a one-off allocation
// elsewhere in the process (a runtime structure growing) would land in one
// round only.
func TestChurnAllocatesOnlyTheConn(t *testing.T) {
	nettest.NeedEpoll(t, "a connection without goroutines and net.Conn of its own")
	const n = 500
	e := newEngine(t, Options{Loops: 1})
	h := &closeSignal{closed: make(chan struct{}, 1)}
	ln := listen(t, e, h, nil)
	ap := netip.MustParseAddrPort(ln.Addr().String())
	sa := unix.RawSockaddrInet4{Family: unix.AF_INET, Addr: ap.Addr().As4()}
	sa.Port = ap.Port()>>8 | ap.Port()<<8 // network byte order
	msg := make([]byte, 64)
	deadline := time.NewTimer(time.Minute) // one for the test: time.After would allocate per connection
	defer deadline.Stop()
	churn := func() {
		fd, err := unix.Socket(unix.AF_INET, unix.SOCK_STREAM|unix.SOCK_CLOEXEC, 0)
		if err != nil {
			t.Fatal(err)
		}
		defer unix.Close(fd)
		if _, _, errno := unix.RawSyscall(unix.SYS_CONNECT, uintptr(fd), uintptr(unsafe.Pointer(&sa)), unix.SizeofSockaddrInet4); errno != 0 {
			t.Fatalf("connect: %v", errno)
		}
		if _, err := unix.Write(fd, msg); err != nil {
			t.Fatal(err)
		}
		if m, err := unix.Read(fd, msg); m != len(msg) || err != nil {
			t.Fatalf("echo: %d bytes, %v", m, err)
		}
		unix.Shutdown(fd, unix.SHUT_WR)
		select {
		case <-h.closed:
		case <-deadline.C:
			t.Fatal("no OnClose within a minute")
		}
	}
	for range n { // warm-up: the descriptor table, the loop's queues
		churn()
	}
	var rounds []float64
	for range 3 {
		var m0, m1 runtime.MemStats
		runtime.ReadMemStats(&m0)
		for range n {
			churn()
		}
		runtime.ReadMemStats(&m1)
		perConn := float64(m1.Mallocs-m0.Mallocs) / n
		rounds = append(rounds, perConn)
		if perConn < 1.1 { // a second allocation in even one connection of ten would show
			t.Logf("%.3f allocations per connection (rounds %.3f)", perConn, rounds)
			return
		}
	}
	t.Fatalf("allocations per connection %.3f in three rounds, want 1 (the Conn)", rounds)
}

// closeSignal echoes and signals each close.
type closeSignal struct {
	echoHandler
	closed chan struct{}
}

func (h *closeSignal) OnClose(*Conn, error) { h.closed <- struct{}{} }

//go:build linux

package epollnet

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/epollnet/epollnet/internal/nettest"
	"golang.org/x/sys/unix"
)

// The conformance suite checks the engine against the kernel behaviour it
// is built on (docs/kernel.md describes each behaviour and names its
// tests): each test runs the engine against real
// sockets in a private network namespace with nftables rules, and asserts
// through the engine's own trace (Options.Tracer) and handler callbacks.
// This file holds the shared fixture.

// traceLog records an engine's trace so tests can wait for an event or
// check that none came. Waiting is event driven: every record wakes the
// waiters, no polling.
type traceLog struct {
	mu     sync.Mutex
	evs    []TraceEvent
	notify chan struct{}
}

func newTraceLog() *traceLog { return &traceLog{notify: make(chan struct{})} }

// record is the Options.Tracer.
func (tl *traceLog) record(ev *TraceEvent) {
	tl.mu.Lock()
	tl.evs = append(tl.evs, *ev)
	close(tl.notify)
	tl.notify = make(chan struct{})
	tl.mu.Unlock()
}

// match selects trace events.
type match func(*TraceEvent) bool

// connEv matches events of kind for connection c.
func connEv(kind TraceKind, c *Conn) match {
	return func(ev *TraceEvent) bool { return ev.Kind == kind && ev.Conn == c.ID() }
}

// lnEv matches events of kind for the listening descriptor fd.
func lnEv(kind TraceKind, fd int) match {
	return func(ev *TraceEvent) bool { return ev.Kind == kind && ev.Role == RoleListener && ev.FD == fd }
}

// and matches events that match m and also satisfy f.
func (m match) and(f func(*TraceEvent) bool) match {
	return func(ev *TraceEvent) bool { return m(ev) && f(ev) }
}

// errIs matches events whose Err is target.
func errIs(target error) func(*TraceEvent) bool {
	return func(ev *TraceEvent) bool { return errors.Is(ev.Err, target) }
}

// after matches events later than ev.
func after(ev TraceEvent) func(*TraceEvent) bool {
	return func(e *TraceEvent) bool { return e.Time > ev.Time }
}

// mark returns a position in the log, for waitSince.
func (tl *traceLog) mark() int {
	tl.mu.Lock()
	defer tl.mu.Unlock()
	return len(tl.evs)
}

// find returns the first event from position from on matching m, and the
// channel that the next record closes. m runs with tl.mu held.
func (tl *traceLog) find(from int, m match) (TraceEvent, bool, <-chan struct{}) {
	tl.mu.Lock()
	defer tl.mu.Unlock()
	for i := from; i < len(tl.evs); i++ {
		if m(&tl.evs[i]) {
			return tl.evs[i], true, nil
		}
	}
	return TraceEvent{}, false, tl.notify
}

// waitFor returns the first event matching m, waiting at most d for it.
func (tl *traceLog) waitFor(d time.Duration, m match) (TraceEvent, bool) {
	return tl.waitSince(0, d, m)
}

// waitSince is waitFor for the events recorded after mark.
func (tl *traceLog) waitSince(mark int, d time.Duration, m match) (TraceEvent, bool) {
	timeout := time.NewTimer(d)
	defer timeout.Stop()
	for {
		ev, ok, next := tl.find(mark, m)
		if ok {
			return ev, true
		}
		select {
		case <-next:
		case <-timeout.C:
			ev, ok, _ := tl.find(mark, m)
			return ev, ok
		}
	}
}

// await is waitFor that fails the test when no event comes.
func (tl *traceLog) await(t *testing.T, what string, d time.Duration, m match) TraceEvent {
	t.Helper()
	ev, ok := tl.waitFor(d, m)
	if !ok {
		t.Fatalf("no %s within %v; trace:\n%s", what, d, tl)
	}
	return ev
}

// quiet fails the test if an event matching m is recorded within d: the
// "nothing happens" half of a behaviour, measured with a timer.
func (tl *traceLog) quiet(t *testing.T, what string, d time.Duration, m match) {
	t.Helper()
	if ev, ok := tl.waitFor(d, m); ok {
		t.Fatalf("%s: got %s; trace:\n%s", what, fmtEvent(&ev), tl)
	}
}

// count returns how many events match m.
func (tl *traceLog) count(m match) int {
	tl.mu.Lock()
	defer tl.mu.Unlock()
	n := 0
	for i := range tl.evs {
		if m(&tl.evs[i]) {
			n++
		}
	}
	return n
}

// String renders the last events, for failure messages.
func (tl *traceLog) String() string {
	tl.mu.Lock()
	defer tl.mu.Unlock()
	var b strings.Builder
	for i := max(0, len(tl.evs)-80); i < len(tl.evs); i++ {
		b.WriteString(fmtEvent(&tl.evs[i]) + "\n")
	}
	return b.String()
}

func fmtEvent(ev *TraceEvent) string {
	s := fmt.Sprintf("%9.3fms fd=%d conn=%d %v %v", float64(ev.Time)/1e6, ev.FD, ev.Conn, ev.Role, ev.Kind)
	if ev.Kind == TraceReady || ev.Kind == TraceInterest {
		s += " " + ev.Ready.String()
	}
	if ev.Detail != "" {
		s += " " + ev.Detail
	}
	if ev.N != 0 {
		s += fmt.Sprintf(" n=%d", ev.N)
	}
	if ev.Err != nil {
		s += " err=" + ev.Err.Error()
	}
	if ev.TCPState != 0 {
		s += " " + ev.TCPState.String()
	}
	return s
}

// dialHandler records a dialed or accepted connection's callbacks on
// channels, counting them to prove "exactly once".
type dialHandler struct {
	BaseHandler
	opened chan *Conn
	closed chan closed
	data   chan []byte
	mu     sync.Mutex
	opens  int
	closes int
}

type closed struct {
	c   *Conn
	err error
}

func newDialHandler() *dialHandler {
	return &dialHandler{opened: make(chan *Conn, 64), closed: make(chan closed, 64), data: make(chan []byte, 64)}
}

func (h *dialHandler) OnOpen(c *Conn) {
	h.mu.Lock()
	h.opens++
	h.mu.Unlock()
	h.opened <- c
}

func (h *dialHandler) OnData(c *Conn, in []byte) int {
	h.data <- append([]byte(nil), in...)
	return len(in)
}

func (h *dialHandler) OnClose(c *Conn, err error) {
	h.mu.Lock()
	h.closes++
	h.mu.Unlock()
	h.closed <- closed{c, err}
}

func (h *dialHandler) counts() (opens, closes int) {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.opens, h.closes
}

// nsEnv is one conformance test's world: a private network namespace, an
// engine with one loop whose trace is recorded, and helpers to listen and
// dial inside the namespace.
type nsEnv struct {
	ns  *nettest.NS
	eng *Engine
	tl  *traceLog
}

// newNSEnv skips the test unless it runs as root. The namespace is made
// before the engine, so the leak check counts its descriptors as existing.
func newNSEnv(t *testing.T, o Options) *nsEnv {
	t.Helper()
	ns := nettest.NewNS(t)
	tl := newTraceLog()
	if o.Loops == 0 {
		o.Loops = 1
	}
	o.Tracer = tl.record
	return &nsEnv{ns: ns, eng: newEngine(t, o), tl: tl}
}

// rawListen makes a TCP listener on the namespace's loopback of family and
// returns it with its "host:port" address. The test owns it: it is closed
// at the end, before the leak check.
func (env *nsEnv) rawListen(t *testing.T, family, backlog int) (int, string) {
	t.Helper()
	fd, port, err := env.ns.ListenLoopback(family, backlog)
	if errors.Is(err, unix.EADDRNOTAVAIL) || errors.Is(err, unix.EAFNOSUPPORT) {
		t.Skipf("no loopback of family %d in the namespace: %v", family, err)
	}
	if err != nil {
		t.Fatal(err)
	}
	host := "127.0.0.1"
	if family == unix.AF_INET6 {
		host = "::1"
	}
	return fd, net.JoinHostPort(host, fmt.Sprint(port))
}

// closeAtEnd closes a test-owned descriptor when the test ends.
func closeAtEnd(t *testing.T, fd int) { t.Cleanup(func() { unix.Close(fd) }) }

// listen serves h from an IPv4 listener inside the namespace, through
// Engine.ListenFD, and returns the listener, its descriptor and address.
func (env *nsEnv) listen(t *testing.T, h Handler, backlog int) (*Listener, int, string) {
	t.Helper()
	fd, addr := env.rawListen(t, unix.AF_INET, backlog)
	ln, err := env.eng.ListenFD(fd, h, nil)
	if err != nil {
		unix.Close(fd)
		t.Fatalf("ListenFD: %v", err)
	}
	env.tl.await(t, "listener registration", 2*time.Second, lnEv(TraceListen, fd))
	return ln, fd, addr
}

// closedPort returns an address in the namespace where nothing listens.
func (env *nsEnv) closedPort(t *testing.T) string {
	t.Helper()
	fd, addr := env.rawListen(t, unix.AF_INET, 1)
	unix.Close(fd)
	return addr
}

// cfg returns a DialConfig that creates its socket inside the namespace.
func (env *nsEnv) cfg(c DialConfig) *DialConfig {
	c.Socket = env.ns.Socket
	return &c
}

// dial starts an asynchronous dial from inside the namespace.
func (env *nsEnv) dial(t *testing.T, addr string, h Handler, c DialConfig) *Conn {
	t.Helper()
	conn, err := env.eng.DialAsync("tcp", addr, h, env.cfg(c))
	if err != nil {
		t.Fatalf("DialAsync(%s): %v", addr, err)
	}
	return conn
}

// port returns the port of a "host:port" address.
func port(t *testing.T, addr string) uint16 {
	t.Helper()
	_, p, err := net.SplitHostPort(addr)
	if err != nil {
		t.Fatal(err)
	}
	var n uint16
	fmt.Sscan(p, &n)
	return n
}

// tcpStateOf reads the TCP state of a descriptor the engine owns. Tests
// call it only while the connection is known to be alive.
func tcpStateOf(t *testing.T, fd int) TCPState {
	t.Helper()
	info, err := unix.GetsockoptTCPInfo(fd, unix.IPPROTO_TCP, unix.TCP_INFO)
	if err != nil {
		t.Fatalf("TCP_INFO on fd %d: %v", fd, err)
	}
	return TCPState(info.State)
}

// pollNow returns the poll(2) readiness of fd at this instant, as a second
// opinion on the kernel state next to the engine's epoll.
func pollNow(t *testing.T, fd int) (in, out bool) {
	t.Helper()
	p := []unix.PollFd{{Fd: int32(fd), Events: unix.POLLIN | unix.POLLOUT}}
	if _, err := unix.Poll(p, 0); err != nil {
		t.Fatalf("poll: %v", err)
	}
	return p[0].Revents&unix.POLLIN != 0, p[0].Revents&unix.POLLOUT != 0
}

// checkDialError fails the test unless err has the shape of a dial error,
// in the spirit of Go's net parseDialError: a *net.OpError with Op "dial",
// a Net, no typed-nil address, and an Err that is a named syscall error
// (then an errno), a timeout, a context error, a resolution or address
// error, or one of the engine's sentinels.
func checkDialError(t *testing.T, err error) {
	t.Helper()
	if err := dialErrorShape(err); err != nil {
		t.Error(err)
	}
}

func dialErrorShape(err error) error {
	oe, ok := err.(*net.OpError)
	if !ok {
		return fmt.Errorf("dial error %v: type %T, want *net.OpError", err, err)
	}
	if oe.Op != "dial" || oe.Net == "" || oe.Err == nil {
		return fmt.Errorf("dial error %v: Op %q Net %q Err %v", err, oe.Op, oe.Net, oe.Err)
	}
	for _, a := range []net.Addr{oe.Source, oe.Addr} {
		if a != nil && isNilAddr(a) {
			return fmt.Errorf("dial error %v: typed nil address %#v", err, a)
		}
	}
	switch inner := oe.Err.(type) {
	case *os.SyscallError:
		if _, ok := inner.Err.(syscall.Errno); !ok || inner.Syscall == "" {
			return fmt.Errorf("dial error %v: syscall error %q wraps %T", err, inner.Syscall, inner.Err)
		}
		return nil
	case *timeoutError, *net.DNSError, *net.AddrError, net.UnknownNetworkError:
		return nil
	}
	for _, s := range []error{ErrEngineShutdown, ErrEngineClosed, ErrAborted, errNilHandler,
		errDialOnLoop, errDialConfig, context.Canceled, context.DeadlineExceeded} {
		if oe.Err == s {
			return nil
		}
	}
	return fmt.Errorf("dial error %v: unexpected Err type %T", err, oe.Err)
}

// expectListenerFiresOnData checks that the listener lfd stays quiet until
// the client c sends msg, then fires at once and the server receives msg:
// what a lost final ACK and TCP_DEFER_ACCEPT have in common (see
// docs/kernel.md, "First data can complete the handshake" and
// "TCP_DEFER_ACCEPT").
func expectListenerFiresOnData(t *testing.T, tl *traceLog, lfd int, c *Conn, srv *dialHandler, msg string) {
	t.Helper()
	tl.quiet(t, "listener readiness before data", quietWindow, lnEv(TraceReady, lfd))
	if _, err := c.Write([]byte(msg)); err != nil {
		t.Fatal(err)
	}
	wr := tl.await(t, "client write", 5*time.Second, connEv(TraceWrite, c))
	ready := tl.await(t, "listener readiness", 5*time.Second, lnEv(TraceReady, lfd))
	if d := ready.Time - wr.Time; d > 700*time.Millisecond {
		t.Errorf("listener readable %v after the data, want at once", d)
	}
	recv(t, srv.opened, "server OnOpen")
	if got := recv(t, srv.data, "server data"); string(got) != msg {
		t.Errorf("server got %q, want %q", got, msg)
	}
}

// expectReadableOnlyOnData checks that c reports no readiness (matching
// quiet) while its peer is silent, and IN once the peer writes msg, which
// h then receives: a new socket, accepted or dialed, is readable only when
// something arrived.
func expectReadableOnlyOnData(t *testing.T, tl *traceLog, c *Conn, quiet match, peer *Conn, h *dialHandler, msg string) {
	t.Helper()
	tl.quiet(t, "readiness while the peer is silent", 200*time.Millisecond, quiet)
	if _, err := peer.Write([]byte(msg)); err != nil {
		t.Fatal(err)
	}
	ready := tl.await(t, "readiness after the peer's data", 5*time.Second, quiet)
	if ready.Ready&ReadyIn == 0 {
		t.Errorf("after the peer's data: %v, want IN", ready.Ready)
	}
	if got := recv(t, h.data, "data"); string(got) != msg {
		t.Errorf("got %q, want %q", got, msg)
	}
}

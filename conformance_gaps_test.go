//go:build linux

package epollnet

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"syscall"
	"testing"
	"time"

	"github.com/epollnet/epollnet/internal/nettest"
	"golang.org/x/sys/unix"
)

// The kernel behaviours around failures and queues, checked through the
// engine: failed connects, deadlines, full backlogs, TCP_DEFER_ACCEPT. Each
// is described in docs/kernel.md.

// expectDialFailure waits for the dial's OnClose and checks the error's
// shape, errno and class, and that OnOpen never ran.
func expectDialFailure(t *testing.T, h *dialHandler, errno error, class ErrorClass) error {
	t.Helper()
	cl := recv(t, h.closed, "OnClose with the dial error")
	checkDialError(t, cl.err)
	if errno != nil && !errors.Is(cl.err, errno) {
		t.Errorf("dial error %v, want %v", cl.err, errno)
	}
	if got := Classify(cl.err); got != class {
		t.Errorf("Classify(%v) = %v, want %v", cl.err, got, class)
	}
	if opens, closes := h.counts(); opens != 0 || closes != 1 {
		t.Errorf("OnOpen %d times, OnClose %d times; want 0 and 1", opens, closes)
	}
	return cl.err
}

// TestConnectRefusedReportsSOError: a refused connect still returns
// EINPROGRESS, then reports IN|OUT|ERR|HUP (here OUT|ERR|HUP, the engine
// asks for OUT only) with SO_ERROR ECONNREFUSED, read once; a firewall's
// "reject with tcp reset" looks the same (see docs/kernel.md, "A refused
// connect").
func TestConnectRefusedReportsSOError(t *testing.T) {
	nettest.NeedEpoll(t, "raw sockets and kernel readiness")
	for _, tc := range []struct {
		name  string
		setup func(*testing.T, *nsEnv) string
	}{
		{"ClosedPort", func(t *testing.T, env *nsEnv) string { return env.closedPort(t) }},
		{"RejectTCPReset", func(t *testing.T, env *nsEnv) string {
			_, _, addr := env.listen(t, newDialHandler(), 16)
			if _, err := env.ns.RejectTCPReset(port(t, addr)); err != nil {
				t.Fatal(err)
			}
			return addr
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			env := newNSEnv(t, Options{})
			addr := tc.setup(t, env)
			cli := newDialHandler()
			c := env.dial(t, addr, cli, DialConfig{})
			err := expectDialFailure(t, cli, syscall.ECONNREFUSED, ClassRefused)
			if conn, _ := env.tl.waitFor(0, connEv(TraceConnect, c)); !errors.Is(conn.Err, syscall.EINPROGRESS) {
				t.Errorf("connect: %v, want EINPROGRESS, never an immediate refusal", conn.Err)
			}
			ready, _ := env.tl.waitFor(0, connEv(TraceReady, c))
			if want := ReadyOut | ReadyErr | ReadyHup; ready.Ready&want != want {
				t.Errorf("refused connect reported %v, want OUT|ERR|HUP", ready.Ready)
			}
			if n := env.tl.count(connEv(TraceSOError, c).and(errIs(syscall.ECONNREFUSED))); n != 1 {
				t.Errorf("SO_ERROR ECONNREFUSED read %d times, want once", n)
			}
			if sc := syscallName(err); sc != "connect" {
				t.Errorf("dial error names %q, want connect", sc)
			}
		})
	}
}

// TestICMPRejectFailsDialAtOnce: over IPv4 an ICMP reject reports EPOLLERR
// alone, without OUT, while the socket is still in SYN_SENT, for about a
// second. A loop waiting for EPOLLOUT would miss it; the engine reads
// SO_ERROR on any event and fails the dial at once (see docs/kernel.md,
// "An ICMP-rejected connect").
func TestICMPRejectFailsDialAtOnce(t *testing.T) {
	nettest.NeedEpoll(t, "DialConfig.Socket in a network namespace")
	for _, tc := range []struct {
		code  nettest.ICMPCode
		errno syscall.Errno
		class ErrorClass
	}{
		{nettest.ICMPPortUnreachable, syscall.ECONNREFUSED, ClassRefused},
		{nettest.ICMPHostUnreachable, syscall.EHOSTUNREACH, ClassUnreachable},
		{nettest.ICMPAdminProhibited, syscall.EHOSTUNREACH, ClassUnreachable},
		{nettest.ICMPNoRoute, syscall.ENETUNREACH, ClassUnreachable},
	} {
		t.Run(tc.code.String(), func(t *testing.T) {
			env := newNSEnv(t, Options{})
			_, _, addr := env.listen(t, newDialHandler(), 16)
			if _, err := env.ns.RejectICMP(port(t, addr), tc.code); err != nil {
				t.Fatal(err)
			}
			cli := newDialHandler()
			c := env.dial(t, addr, cli, DialConfig{})
			expectDialFailure(t, cli, tc.errno, tc.class)
			ready, _ := env.tl.waitFor(0, connEv(TraceReady, c))
			if ready.Ready != ReadyErr || ready.TCPState.String() != "SYN_SENT" {
				t.Errorf("ICMP reject reported %v in %v, want ERR alone in SYN_SENT", ready.Ready, ready.TCPState)
			}
			conn, _ := env.tl.waitFor(0, connEv(TraceConnect, c))
			if d := ready.Time - conn.Time; d > 800*time.Millisecond {
				t.Errorf("dial failed %v after connect, want at once, not at the SYN retransmission", d)
			}
		})
	}
}

// TestICMPv6AdminProhibitedIsEACCES: over IPv6 the same reject reports
// nothing until the SYN retransmission (~1 s), and the errno is EACCES,
// which Classify still calls unreachable.
func TestICMPv6AdminProhibitedIsEACCES(t *testing.T) {
	nettest.NeedEpoll(t, "ListenFD in a network namespace")
	env := newNSEnv(t, Options{})
	fd, addr := env.rawListen(t, unix.AF_INET6, 16)
	closeAtEnd(t, fd)
	if _, err := env.ns.RejectICMP(port(t, addr), nettest.ICMPAdminProhibited); err != nil {
		t.Fatal(err)
	}
	cli := newDialHandler()
	c := env.dial(t, addr, cli, DialConfig{})
	expectDialFailure(t, cli, syscall.EACCES, ClassUnreachable)
	conn, _ := env.tl.waitFor(0, connEv(TraceConnect, c))
	ready, _ := env.tl.waitFor(0, connEv(TraceReady, c))
	t.Logf("IPv6 admin-prohibited: %v after connect, events %v", ready.Time-conn.Time, ready.Ready)
}

// TestBlackholedDialTimesOutAndClosesSocket: with SYNs dropped the kernel
// would wait ~134 s; the engine's deadline closes the socket, the error is
// a timeout, and no descriptor is left (see docs/kernel.md, "A blackholed
// connect").
func TestBlackholedDialTimesOutAndClosesSocket(t *testing.T) {
	nettest.NeedEpoll(t, "ListenFD in a network namespace")
	env := newNSEnv(t, Options{})
	_, _, addr := env.listen(t, newDialHandler(), 16)
	if _, err := env.ns.DropSYN(port(t, addr)); err != nil {
		t.Fatal(err)
	}
	before := openFDs(t)
	cli := newDialHandler()
	start := time.Now()
	_, err := env.eng.Dial(context.Background(), "tcp", addr, cli, env.cfg(DialConfig{Timeout: quietWindow}))
	elapsed := time.Since(start)
	if elapsed < quietWindow || elapsed > time.Second {
		t.Errorf("Dial failed after %v, want the %v deadline", elapsed, quietWindow)
	}
	var ne net.Error
	if !errors.As(err, &ne) || !ne.Timeout() || !errors.Is(err, os.ErrDeadlineExceeded) {
		t.Errorf("error %v is not a timeout", err)
	}
	if got := expectDialFailure(t, cli, nil, ClassTimeout); got != err {
		t.Errorf("OnClose got %v, Dial returned %v", got, err)
	}
	env.tl.await(t, "dial-timeout timer", 0, func(ev *TraceEvent) bool { return ev.Detail == "dial-timeout" })
	cl := env.tl.await(t, "close", 0, func(ev *TraceEvent) bool { return ev.Kind == TraceClose && ev.Err == err })
	if cl.FD < 0 {
		t.Errorf("no socket was closed")
	}
	if after := openFDs(t); after != before {
		t.Errorf("descriptors %d before the dial, %d after", before, after)
	}
}

// TestKernelConnectTimeoutIsTimeout: when the kernel gives up first
// (TCP_USER_TIMEOUT, set through DialConfig.Socket), SO_ERROR is ETIMEDOUT
// and the error is a timeout too (see docs/kernel.md, "A blackholed
// connect").
func TestKernelConnectTimeoutIsTimeout(t *testing.T) {
	nettest.NeedEpoll(t, "ListenFD in a network namespace")
	env := newNSEnv(t, Options{})
	_, _, addr := env.listen(t, newDialHandler(), 16)
	if _, err := env.ns.DropSYN(port(t, addr)); err != nil {
		t.Fatal(err)
	}
	cfg := env.cfg(DialConfig{})
	cfg.Socket = func(family, sotype, proto int) (int, error) {
		fd, err := env.ns.Socket(family, sotype, proto)
		if err == nil {
			err = unix.SetsockoptInt(fd, unix.IPPROTO_TCP, unix.TCP_USER_TIMEOUT, 300)
		}
		return fd, err
	}
	cli := newDialHandler()
	_, err := env.eng.Dial(context.Background(), "tcp", addr, cli, cfg)
	var ne net.Error
	if !errors.Is(err, syscall.ETIMEDOUT) || !errors.As(err, &ne) || !ne.Timeout() {
		t.Errorf("error %v, want ETIMEDOUT with Timeout() true", err)
	}
	expectDialFailure(t, cli, syscall.ETIMEDOUT, ClassTimeout)
	env.tl.await(t, "SO_ERROR ETIMEDOUT", 0, func(ev *TraceEvent) bool {
		return ev.Kind == TraceSOError && errors.Is(ev.Err, syscall.ETIMEDOUT)
	})
}

// TestDialContextEndsDial: canceling Dial's context closes the connecting
// socket and fails with context.Canceled; a context deadline is a timeout.
func TestDialContextEndsDial(t *testing.T) {
	nettest.NeedEpoll(t, "DialConfig.Socket in a network namespace")
	env := newNSEnv(t, Options{})
	_, _, addr := env.listen(t, newDialHandler(), 16)
	if _, err := env.ns.DropSYN(port(t, addr)); err != nil {
		t.Fatal(err)
	}
	t.Run("Canceled", func(t *testing.T) {
		ctx, cancel := context.WithCancel(context.Background())
		cli := newDialHandler()
		res := make(chan error, 1)
		mark := env.tl.mark()
		go func() {
			_, err := env.eng.Dial(ctx, "tcp", addr, cli, env.cfg(DialConfig{}))
			res <- err
		}()
		if _, ok := env.tl.waitSince(mark, 5*time.Second, func(ev *TraceEvent) bool { return ev.Kind == TraceConnect }); !ok {
			t.Fatalf("no connect; trace:\n%s", env.tl)
		}
		cancel()
		err := recv(t, res, "Dial's return")
		if !errors.Is(err, context.Canceled) {
			t.Errorf("error %v, want context.Canceled", err)
		}
		expectDialFailure(t, cli, context.Canceled, ClassCanceled)
	})
	t.Run("Deadline", func(t *testing.T) {
		ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
		defer cancel()
		cli := newDialHandler()
		_, err := env.eng.Dial(ctx, "tcp", addr, cli, env.cfg(DialConfig{}))
		var ne net.Error
		if !errors.Is(err, context.DeadlineExceeded) || !errors.As(err, &ne) || !ne.Timeout() {
			t.Errorf("error %v, want a timeout matching context.DeadlineExceeded", err)
		}
		expectDialFailure(t, cli, context.DeadlineExceeded, ClassTimeout)
	})
}

// TestFullBacklogDelaysConnectNotError: listen(fd, 1) queues 2; a 3rd
// client's SYN is dropped without an RST, so it stays in SYN_SENT with no
// event, and once a slot frees it connects at its next SYN retransmission:
// a whole-second latency, not an error (see docs/kernel.md, "A full
// backlog drops SYNs silently").
func TestFullBacklogDelaysConnectNotError(t *testing.T) {
	nettest.NeedEpoll(t, "DialConfig.Socket and the kernel's backlog")
	env := newNSEnv(t, Options{})
	lfd, addr := env.rawListen(t, unix.AF_INET, 1)
	closeAtEnd(t, lfd)
	for i := 0; i < 2; i++ {
		if _, err := env.eng.Dial(context.Background(), "tcp", addr, newDialHandler(), env.cfg(DialConfig{})); err != nil {
			t.Fatalf("client %d: %v", i+1, err)
		}
	}
	cli := newDialHandler()
	c := env.dial(t, addr, cli, DialConfig{})
	conn := env.tl.await(t, "3rd connect", 5*time.Second, connEv(TraceConnect, c))
	env.tl.quiet(t, "readiness of the 3rd client while the queue is full", quietWindow, connEv(TraceReady, c))
	if st := tcpStateOf(t, conn.FD); st.String() != "SYN_SENT" {
		t.Fatalf("3rd client in %v, want SYN_SENT", st)
	}
	afd, _, err := unix.Accept4(lfd, unix.SOCK_NONBLOCK|unix.SOCK_CLOEXEC)
	if err != nil {
		t.Fatal(err)
	}
	closeAtEnd(t, afd)
	open := env.tl.await(t, "3rd client open", 5*time.Second, connEv(TraceOpen, c))
	if d := open.Time - conn.Time; d < 900*time.Millisecond {
		t.Errorf("3rd client connected after %v, want at its SYN retransmission (~1 s)", d)
	}
	recv(t, cli.opened, "3rd client OnOpen")
}

// TestDeferAcceptListenerFiresOnlyOnData: with TCP_DEFER_ACCEPT the
// client is connected at once but the listener fires only when its data
// arrives, and the accepted socket already holds it (see docs/kernel.md,
// "TCP_DEFER_ACCEPT").
// Loopback suffices: nothing needs to be dropped.
func TestDeferAcceptListenerFiresOnlyOnData(t *testing.T) {
	nettest.NeedEpoll(t, "TCP_DEFER_ACCEPT")
	tl := newTraceLog()
	e := newEngine(t, Options{Loops: 1, Tracer: tl.record})
	srv := newDialHandler()
	ln, err := e.Listen("tcp", "127.0.0.1:0", srv, &ListenConfig{DeferAccept: time.Second})
	if err != nil {
		t.Fatal(err)
	}
	lfd := tl.await(t, "listen", 5*time.Second, func(ev *TraceEvent) bool { return ev.Kind == TraceListen }).FD
	cli := newDialHandler()
	c, err := e.Dial(context.Background(), "tcp", ln.Addr().String(), cli, nil)
	if err != nil {
		t.Fatal(err)
	}
	expectListenerFiresOnData(t, tl, lfd, c, srv, "hi")
}

// TestImmediateConnectErrorIsDeliveredAsync: connect() can fail at once
// (ENETUNREACH: the namespace has no route off loopback); the failure is
// still reported from the loop, after DialAsync returned, even when
// DialAsync is called on that very loop: the engine never calls a handler
// back from inside the caller's own call. (docs/kernel.md, "connect returns
// EINPROGRESS, even on loopback", lists connect's other results.)
func TestImmediateConnectErrorIsDeliveredAsync(t *testing.T) {
	nettest.NeedEpoll(t, "ListenFD in a network namespace")
	env := newNSEnv(t, Options{})
	cli := newDialHandler()
	if dialFromLoop(t, env.eng, "tcp", "192.0.2.1:80", cli, env.cfg(DialConfig{})) {
		t.Errorf("OnClose ran inside DialAsync")
	}
	expectDialFailure(t, cli, syscall.ENETUNREACH, ClassUnreachable)
	env.tl.await(t, "connect ENETUNREACH", 0, func(ev *TraceEvent) bool {
		return ev.Kind == TraceConnect && errors.Is(ev.Err, syscall.ENETUNREACH)
	})
}

// dialFromLoop calls DialAsync from a callback on the engine's only loop
// and reports whether OnClose had already run when DialAsync returned.
func dialFromLoop(t *testing.T, e *Engine, network, addr string, h *dialHandler, cfg *DialConfig) bool {
	t.Helper()
	type result struct {
		closedInside bool
		err          error
	}
	res := make(chan result, 1)
	e.AfterFunc(0, func() {
		_, err := e.DialAsync(network, addr, h, cfg)
		res <- result{len(h.closed) > 0, err}
	})
	r := recv(t, res, "DialAsync on the loop")
	if r.err != nil {
		t.Fatalf("DialAsync: %v", r.err)
	}
	return r.closedInside
}

// TestEphemeralPortExhaustionIsNoLocalPorts: with two ephemeral ports, a
// third connection to the same destination fails at once with
// EADDRNOTAVAIL, classified ClassNoLocalPorts.
func TestEphemeralPortExhaustionIsNoLocalPorts(t *testing.T) {
	nettest.NeedEpoll(t, "ListenFD in a network namespace")
	env := newNSEnv(t, Options{})
	_, _, addr := env.listen(t, newDialHandler(), 16)
	setPortRange(t, env, port(t, addr))
	for i := 0; i < 2; i++ {
		if _, err := env.eng.Dial(context.Background(), "tcp", addr, newDialHandler(), env.cfg(DialConfig{})); err != nil {
			t.Fatalf("client %d: %v", i+1, err)
		}
	}
	cli := newDialHandler()
	env.dial(t, addr, cli, DialConfig{})
	expectDialFailure(t, cli, syscall.EADDRNOTAVAIL, ClassNoLocalPorts)
}

// setPortRange leaves the namespace two ephemeral ports, away from the
// listener's port.
func setPortRange(t *testing.T, env *nsEnv, avoid uint16) {
	t.Helper()
	lo := 40000
	if avoid >= 40000 && avoid <= 40001 {
		lo = 50000
	}
	if err := env.ns.SetSysctl("net/ipv4/ip_local_port_range", fmt.Sprintf("%d %d", lo, lo+1)); err != nil {
		t.Fatal(err)
	}
}

// TestShutdownFailsConnectingDial: Engine.Shutdown fails a dial still in
// SYN_SENT with ErrEngineShutdown and closes its socket.
func TestShutdownFailsConnectingDial(t *testing.T) {
	nettest.NeedEpoll(t, "ListenFD in a network namespace")
	env := newNSEnv(t, Options{})
	_, _, addr := env.listen(t, newDialHandler(), 16)
	if _, err := env.ns.DropSYN(port(t, addr)); err != nil {
		t.Fatal(err)
	}
	cli := newDialHandler()
	c := env.dial(t, addr, cli, DialConfig{})
	env.tl.await(t, "connect", 5*time.Second, connEv(TraceConnect, c))
	if err := env.eng.Shutdown(context.Background()); err != nil {
		t.Fatal(err)
	}
	expectDialFailure(t, cli, ErrEngineShutdown, ClassOther)
}

// TestDialDeadlineWithIdleAndReadTimeouts: idle and read timeouts start
// when a connection opens; while it dials, only the dial deadline counts.
// (Counted from zero, they would lie in the past and the loop's timer
// would fire for ever without reaching epoll_wait again.)
func TestDialDeadlineWithIdleAndReadTimeouts(t *testing.T) {
	nettest.NeedEpoll(t, "an AF_UNIX connect that returns EAGAIN")
	env := newNSEnv(t, Options{IdleTimeout: 50 * time.Millisecond, ReadTimeout: 50 * time.Millisecond})
	_, _, addr := env.listen(t, newDialHandler(), 16)
	if _, err := env.ns.DropSYN(port(t, addr)); err != nil {
		t.Fatal(err)
	}
	cli := newDialHandler()
	env.dial(t, addr, cli, DialConfig{Timeout: quietWindow})
	expectDialFailure(t, cli, nil, ClassTimeout)
}

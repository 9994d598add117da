//go:build linux

package epollnet

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net/netip"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/epollnet/epollnet/internal/nettest"
)

// The basic behaviour of non-blocking connect, accept, listen, send and recv
// under epoll, checked through the engine: one test per behaviour, each
// described in docs/kernel.md. Quiet windows are 300 ms (200 ms for idle
// sockets); the kernel's first SYN and SYN+ACK retransmissions come after
// 1 s.

const quietWindow = 300 * time.Millisecond

// TestConnectReturnsEINPROGRESS pins that a non-blocking TCP connect
// returns EINPROGRESS, even on loopback where the handshake has already
// finished when connect() returns, so the engine waits for the event (see
// docs/kernel.md, "connect returns EINPROGRESS, even on loopback").
func TestConnectReturnsEINPROGRESS(t *testing.T) {
	nettest.NeedEpoll(t, "a raw socket's connect")
	env := newNSEnv(t, Options{})
	_, _, addr := env.listen(t, newDialHandler(), 16)
	cli := newDialHandler()
	c := env.dial(t, addr, cli, DialConfig{})
	recv(t, cli.opened, "client OnOpen")
	conn := env.tl.await(t, "connect", 5*time.Second, connEv(TraceConnect, c))
	if !errors.Is(conn.Err, syscall.EINPROGRESS) {
		t.Fatalf("connect returned %v, want EINPROGRESS", conn.Err)
	}
	ready := env.tl.await(t, "readiness", 5*time.Second, connEv(TraceReady, c))
	open := env.tl.await(t, "open", 5*time.Second, connEv(TraceOpen, c))
	if !(conn.Time <= ready.Time && ready.Time <= open.Time) {
		t.Errorf("order connect %v, ready %v, open %v: OnOpen must follow the event", conn.Time, ready.Time, open.Time)
	}
}

// TestNoWritabilityWhileSYNsDropped pins that while the SYNs are lost the
// socket stays in SYN_SENT with no epoll event at all, and once they get
// through the connect completes at the next SYN retransmission (~1 s) (see
// docs/kernel.md, "No writability while SYNs are lost").
func TestNoWritabilityWhileSYNsDropped(t *testing.T) {
	nettest.NeedEpoll(t, "raw sockets and kernel readiness")
	env := newNSEnv(t, Options{})
	_, _, addr := env.listen(t, newDialHandler(), 16)
	undo, err := env.ns.DropSYN(port(t, addr))
	if err != nil {
		t.Fatal(err)
	}
	cli := newDialHandler()
	c := env.dial(t, addr, cli, DialConfig{})
	conn := env.tl.await(t, "connect", 5*time.Second, connEv(TraceConnect, c))
	if !errors.Is(conn.Err, syscall.EINPROGRESS) || conn.TCPState.String() != "SYN_SENT" {
		t.Fatalf("connect: %v in %v, want EINPROGRESS in SYN_SENT", conn.Err, conn.TCPState)
	}
	env.tl.quiet(t, "readiness while SYNs are dropped", quietWindow, connEv(TraceReady, c))
	if st := tcpStateOf(t, conn.FD); st.String() != "SYN_SENT" {
		t.Fatalf("state %v while SYNs are dropped, want SYN_SENT", st)
	}
	undo()
	open := env.tl.await(t, "open after the rule is lifted", 5*time.Second, connEv(TraceOpen, c))
	if d := open.Time - conn.Time; d < 900*time.Millisecond {
		t.Errorf("connected %v after connect, want at the SYN retransmission (~1 s)", d)
	}
	recv(t, cli.opened, "client OnOpen")
}

// TestConnectCompletionReportsOUTAndSOErrorZero pins that a successful
// connect reports EPOLLOUT with SO_ERROR 0, read exactly once, and that data
// can then be sent (see docs/kernel.md, "EPOLLOUT is not success: read
// SO_ERROR once").
func TestConnectCompletionReportsOUTAndSOErrorZero(t *testing.T) {
	nettest.NeedEpoll(t, "raw sockets and kernel readiness")
	env := newNSEnv(t, Options{})
	srv := newDialHandler()
	_, _, addr := env.listen(t, srv, 16)
	cli := newDialHandler()
	c := env.dial(t, addr, cli, DialConfig{})
	recv(t, cli.opened, "client OnOpen")
	ready := env.tl.await(t, "readiness", 5*time.Second, connEv(TraceReady, c))
	if ready.Ready&ReadyOut == 0 || ready.Ready&(ReadyErr|ReadyHup) != 0 {
		t.Errorf("completion reported %v, want OUT without ERR or HUP", ready.Ready)
	}
	so := env.tl.await(t, "SO_ERROR", 5*time.Second, connEv(TraceSOError, c))
	if so.Err != nil {
		t.Errorf("SO_ERROR %v, want 0", so.Err)
	}
	if n := env.tl.count(connEv(TraceSOError, c)); n != 1 {
		t.Errorf("SO_ERROR read %d times, want exactly once", n)
	}
	if _, err := c.Write([]byte("hello")); err != nil {
		t.Fatal(err)
	}
	recv(t, srv.opened, "server OnOpen")
	if got := recv(t, srv.data, "server data"); string(got) != "hello" {
		t.Errorf("server got %q", got)
	}
}

// TestListenerReadableOnlyAfterFinalACK pins that the listener becomes
// readable only on the final ACK, not when the server sends its SYN+ACK, as
// a common picture of the handshake has it: with the client's final ACK
// dropped, the client reports EPOLLOUT (ESTABLISHED) at once, but the
// listener stays unreadable; it fires only when an ACK gets through, here
// the answer to the server's SYN+ACK retransmission ~1 s after the first
// (see docs/kernel.md, "The listener fires on the final ACK, not at
// SYN+ACK").
func TestListenerReadableOnlyAfterFinalACK(t *testing.T) {
	nettest.NeedEpoll(t, "raw sockets and kernel readiness")
	env := newNSEnv(t, Options{})
	srv := newDialHandler()
	_, lfd, addr := env.listen(t, srv, 16)
	undo, err := env.ns.DropPureACK(port(t, addr))
	if err != nil {
		t.Fatal(err)
	}
	cli := newDialHandler()
	c := env.dial(t, addr, cli, DialConfig{})
	open := env.tl.await(t, "client open", 5*time.Second, connEv(TraceOpen, c))
	ready := env.tl.await(t, "client readiness", 5*time.Second, connEv(TraceReady, c))
	if ready.Ready&ReadyOut == 0 || ready.TCPState.String() != "ESTABLISHED" {
		t.Fatalf("client: %v in %v, want OUT in ESTABLISHED", ready.Ready, ready.TCPState)
	}
	env.tl.quiet(t, "listener readiness while the final ACK is dropped", quietWindow, lnEv(TraceReady, lfd))
	if n := env.tl.count(lnEv(TraceAccept, lfd)); n != 0 {
		t.Fatalf("%d accept4 calls before the handshake completed", n)
	}
	undo()
	lready := env.tl.await(t, "listener readiness after undo", 5*time.Second, lnEv(TraceReady, lfd))
	env.tl.await(t, "accept", 5*time.Second, lnEv(TraceAccept, lfd).and(errIs(nil)))
	recv(t, srv.opened, "server OnOpen")
	t.Logf("client open at %v, listener readable %v later", open.Time, lready.Time-open.Time)
}

// TestFirstDataCompletesHandshakeWhenFinalACKLost pins that a data segment
// carries the ACK too, so with pure ACKs still dropped the listener fires as
// soon as the client sends, and the accepted socket already holds the data
// (see docs/kernel.md, "First data can complete the handshake").
func TestFirstDataCompletesHandshakeWhenFinalACKLost(t *testing.T) {
	nettest.NeedEpoll(t, "raw sockets and kernel readiness")
	env := newNSEnv(t, Options{})
	srv := newDialHandler()
	_, lfd, addr := env.listen(t, srv, 16)
	if _, err := env.ns.DropPureACK(port(t, addr)); err != nil {
		t.Fatal(err)
	}
	cli := newDialHandler()
	c := env.dial(t, addr, cli, DialConfig{})
	recv(t, cli.opened, "client OnOpen")
	expectListenerFiresOnData(t, env.tl, lfd, c, srv, "x")
}

// TestAcceptedSocketWritableNotReadableUntilData pins, for a silent client,
// that the accepted socket is writable at once and not readable, and
// becomes readable when the client sends (see docs/kernel.md, "New sockets
// are writable, and readable only when something arrived").
func TestAcceptedSocketWritableNotReadableUntilData(t *testing.T) {
	nettest.NeedEpoll(t, "raw sockets and kernel readiness")
	env := newNSEnv(t, Options{})
	srv := newDialHandler()
	_, lfd, addr := env.listen(t, srv, 16)
	cli := newDialHandler()
	c := env.dial(t, addr, cli, DialConfig{})
	recv(t, cli.opened, "client OnOpen")
	a := recv(t, srv.opened, "server OnOpen")
	acc := env.tl.await(t, "accept", 5*time.Second, lnEv(TraceAccept, lfd).and(errIs(nil)))
	if in, out := pollNow(t, acc.N); in || !out {
		t.Fatalf("accepted socket: POLLIN %v POLLOUT %v, want writable and not readable", in, out)
	}
	expectReadableOnlyOnData(t, env.tl, a, connEv(TraceReady, a), c, srv, "c")
	// And writable at once: the first send goes straight to the socket.
	if _, err := a.Write([]byte("s")); err != nil {
		t.Fatal(err)
	}
	if wr := env.tl.await(t, "server write", 5*time.Second, connEv(TraceWrite, a)); wr.N != 1 || wr.Err != nil {
		t.Errorf("direct send on the accepted socket: n=%d err=%v, want 1 byte at once", wr.N, wr.Err)
	}
}

// TestDialedSocketWritableNotReadableUntilData pins the same on the client:
// after the connect the socket is writable and not readable until the
// server sends; TCP treats both ends alike (see docs/kernel.md, "New
// sockets are writable, and readable only when something arrived").
func TestDialedSocketWritableNotReadableUntilData(t *testing.T) {
	nettest.NeedEpoll(t, "raw sockets and kernel readiness")
	env := newNSEnv(t, Options{})
	srv := newDialHandler()
	_, _, addr := env.listen(t, srv, 16)
	cli := newDialHandler()
	c := env.dial(t, addr, cli, DialConfig{})
	recv(t, cli.opened, "client OnOpen")
	a := recv(t, srv.opened, "server OnOpen")
	open := env.tl.await(t, "client open", 5*time.Second, connEv(TraceOpen, c))
	if in, out := pollNow(t, open.FD); in || !out {
		t.Fatalf("dialed socket: POLLIN %v POLLOUT %v, want writable and not readable", in, out)
	}
	expectReadableOnlyOnData(t, env.tl, c, connEv(TraceReady, c).and(after(open)), a, cli, "s")
}

// TestEAGAINOnEmptyAcceptAndRecv pins that accept4 on an empty queue gives
// EAGAIN (the engine accepts until it does) and so does recv on a socket
// with nothing to read (see docs/kernel.md, "EAGAIN on send, recv and
// accept").
func TestEAGAINOnEmptyAcceptAndRecv(t *testing.T) {
	nettest.NeedEpoll(t, "raw sockets and kernel readiness")
	env := newNSEnv(t, Options{})
	srv := newDialHandler()
	_, lfd, addr := env.listen(t, srv, 16)
	cli := newDialHandler()
	c := env.dial(t, addr, cli, DialConfig{})
	recv(t, cli.opened, "client OnOpen")
	recv(t, srv.opened, "server OnOpen")
	acc := env.tl.await(t, "accept", 5*time.Second, lnEv(TraceAccept, lfd).and(errIs(nil)))
	env.tl.await(t, "accept4 EAGAIN", 5*time.Second, lnEv(TraceAccept, lfd).and(errIs(syscall.EAGAIN)).and(after(acc)))
	open := env.tl.await(t, "client open", 5*time.Second, connEv(TraceOpen, c))
	buf := make([]byte, 1)
	if _, _, err := unix.Recvfrom(open.FD, buf, unix.MSG_PEEK|unix.MSG_DONTWAIT); err != syscall.EAGAIN {
		t.Errorf("recv on an empty socket: %v, want EAGAIN", err)
	}
}

// TestListenNeverBlocksOrReturnsEINPROGRESS pins that listen() on a
// non-blocking socket returns 0 at once, also when called again to change
// the backlog, and that no server-side call reports EINPROGRESS (see
// docs/kernel.md, "listen never blocks").
func TestListenNeverBlocksOrReturnsEINPROGRESS(t *testing.T) {
	env := newNSEnv(t, Options{})
	var first, again time.Duration
	err := env.ns.Do(func() error {
		fd, err := unix.Socket(unix.AF_INET, unix.SOCK_STREAM|unix.SOCK_NONBLOCK|unix.SOCK_CLOEXEC, 0)
		if err != nil {
			return err
		}
		defer unix.Close(fd)
		if err := unix.Bind(fd, &unix.SockaddrInet4{Addr: [4]byte{127, 0, 0, 1}}); err != nil {
			return err
		}
		start := time.Now()
		if err := unix.Listen(fd, 16); err != nil {
			return err
		}
		first = time.Since(start)
		start = time.Now()
		err = unix.Listen(fd, 128)
		again = time.Since(start)
		return err
	})
	if err != nil {
		t.Fatalf("listen: %v, want 0", err)
	}
	if first > 500*time.Millisecond || again > 500*time.Millisecond {
		t.Errorf("listen took %v, again %v: it must not block", first, again)
	}
	start := time.Now()
	ln, err := env.eng.Listen("tcp", "127.0.0.1:0", newDialHandler(), nil)
	if err != nil {
		t.Fatalf("Engine.Listen: %v", err)
	}
	defer ln.Close()
	if d := time.Since(start); d > 500*time.Millisecond {
		t.Errorf("Engine.Listen took %v", d)
	}
	if n := env.tl.count(func(ev *TraceEvent) bool { return errors.Is(ev.Err, syscall.EINPROGRESS) }); n != 0 {
		t.Errorf("%d EINPROGRESS on the server side", n)
	}
}

// TestBlockingAndNonBlockingModesIndependent pins that the two ends'
// blocking modes are independent: a blocking client (connect returns 0)
// works against the engine's listener, and the engine's non-blocking dial
// works against a blocking accept() (see docs/kernel.md, "accept does not
// inherit O_NONBLOCK").
func TestBlockingAndNonBlockingModesIndependent(t *testing.T) {
	nettest.NeedEpoll(t, "DialConfig.Socket and raw descriptors")
	t.Run("BlockingClientEngineServer", func(t *testing.T) {
		env := newNSEnv(t, Options{})
		_, _, addr := env.listen(t, echoHandler{}, 16)
		var got []byte
		err := env.ns.Do(func() error {
			var err error
			got, err = blockingEcho(addr, []byte("ping"))
			return err
		})
		if err != nil || string(got) != "ping" {
			t.Fatalf("blocking client: got %q, %v", got, err)
		}
	})
	t.Run("EngineClientBlockingServer", func(t *testing.T) {
		env := newNSEnv(t, Options{})
		lfd, addr := blockingListen(t, env)
		served := make(chan error, 1)
		go func() { served <- blockingServeOne(lfd) }()
		cli := newDialHandler()
		c, err := env.eng.Dial(context.Background(), "tcp", addr, cli, env.cfg(DialConfig{}))
		if err != nil {
			t.Fatal(err)
		}
		conn := env.tl.await(t, "connect", 5*time.Second, connEv(TraceConnect, c))
		if !errors.Is(conn.Err, syscall.EINPROGRESS) {
			t.Errorf("non-blocking connect: %v, want EINPROGRESS", conn.Err)
		}
		c.Write([]byte("pong"))
		if got := recv(t, cli.data, "echo"); !bytes.Equal(got, []byte("pong")) {
			t.Errorf("echo %q", got)
		}
		c.Close()
		if err := recv(t, served, "blocking server"); err != nil {
			t.Error(err)
		}
	})
}

// blockingEcho connects a blocking socket in the calling thread's
// namespace, checks that connect returned 0, and sends msg and reads the
// echo, bounded by SO_RCVTIMEO.
func blockingEcho(addr string, msg []byte) ([]byte, error) {
	sa, err := sockaddr4(addr)
	if err != nil {
		return nil, err
	}
	fd, err := unix.Socket(unix.AF_INET, unix.SOCK_STREAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return nil, err
	}
	defer unix.Close(fd)
	if err := unix.Connect(fd, sa); err != nil {
		return nil, fmt.Errorf("blocking connect: %w, want 0", err)
	}
	tv := unix.NsecToTimeval(int64(2 * time.Second))
	if err := unix.SetsockoptTimeval(fd, unix.SOL_SOCKET, unix.SO_RCVTIMEO, &tv); err != nil {
		return nil, err
	}
	if _, err := unix.Write(fd, msg); err != nil {
		return nil, err
	}
	got := make([]byte, 0, len(msg))
	buf := make([]byte, 64)
	for len(got) < len(msg) {
		n, err := unix.Read(fd, buf)
		if err != nil || n == 0 {
			return got, fmt.Errorf("blocking read: n=%d err=%v", n, err)
		}
		got = append(got, buf[:n]...)
	}
	return got, nil
}

// blockingListen makes a blocking listener inside the namespace. At the
// end it is shut down, which wakes a blocked accept, and closed.
func blockingListen(t *testing.T, env *nsEnv) (int, string) {
	t.Helper()
	fd, addr := env.rawListen(t, unix.AF_INET, 4)
	if err := unix.SetNonblock(fd, false); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		unix.Shutdown(fd, unix.SHUT_RDWR)
		unix.Close(fd)
	})
	return fd, addr
}

// blockingServeOne accepts one connection with plain, blocking accept()
// and echoes it until EOF. accept() does not inherit O_NONBLOCK anyway, so
// the accepted socket is blocking whatever the listener; here the listener
// is blocking too.
func blockingServeOne(lfd int) error {
	fd, _, err := unix.Accept(lfd)
	if err != nil {
		return fmt.Errorf("blocking accept: %w", err)
	}
	defer unix.Close(fd)
	if fl, err := unix.FcntlInt(uintptr(fd), unix.F_GETFL, 0); err != nil || fl&unix.O_NONBLOCK != 0 {
		return fmt.Errorf("accepted socket flags %#x (%v), want blocking", fl, err)
	}
	tv := unix.NsecToTimeval(int64(2 * time.Second))
	unix.SetsockoptTimeval(fd, unix.SOL_SOCKET, unix.SO_RCVTIMEO, &tv)
	buf := make([]byte, 64)
	for {
		n, err := unix.Read(fd, buf)
		if err != nil {
			return fmt.Errorf("blocking read: %w", err)
		}
		if n == 0 {
			return nil
		}
		if _, err := unix.Write(fd, buf[:n]); err != nil {
			return err
		}
	}
}

// sockaddr4 converts "127.0.0.1:port" for raw syscalls.
func sockaddr4(addr string) (*unix.SockaddrInet4, error) {
	ap, err := netip.ParseAddrPort(addr)
	if err != nil || !ap.Addr().Is4() {
		return nil, fmt.Errorf("not an IPv4 address: %q (%v)", addr, err)
	}
	return &unix.SockaddrInet4{Addr: ap.Addr().As4(), Port: int(ap.Port())}, nil
}

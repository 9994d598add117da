//go:build linux

package epollnet

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"strings"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/epollnet/epollnet/internal/nettest"
)

func opErr(network, sc string, errno syscall.Errno) error {
	return &net.OpError{Op: "dial", Net: network, Err: os.NewSyscallError(sc, errno)}
}

// TestClassify pins the errno-to-class table that load reports rely on.
func TestClassify(t *testing.T) {
	for _, tc := range []struct {
		err  error
		want ErrorClass
	}{
		{nil, ClassNone},
		{opErr("tcp", "connect", syscall.ECONNREFUSED), ClassRefused},
		{opErr("unix", "connect", syscall.ENOENT), ClassRefused},
		{opErr("tcp", "open", syscall.ENOENT), ClassOther},
		{opErr("tcp", "connect", syscall.ETIMEDOUT), ClassTimeout},
		{&net.OpError{Op: "dial", Net: "tcp", Err: errDialTimeout}, ClassTimeout},
		{&net.OpError{Op: "dial", Net: "tcp", Err: context.DeadlineExceeded}, ClassTimeout},
		{&net.DNSError{Err: "timeout", IsTimeout: true}, ClassTimeout},
		{ErrIdleTimeout, ClassTimeout},
		{opErr("tcp", "connect", syscall.EHOSTUNREACH), ClassUnreachable},
		{opErr("tcp", "connect", syscall.ENETUNREACH), ClassUnreachable},
		{opErr("tcp6", "connect", syscall.EACCES), ClassUnreachable},
		{opErr("unix", "connect", syscall.EACCES), ClassOther},
		{opErr("tcp", "read", syscall.ECONNRESET), ClassReset},
		{opErr("tcp", "write", syscall.EPIPE), ClassReset},
		{withCause(ErrPeerReset, os.NewSyscallError("read", syscall.ECONNRESET)), ClassReset},
		{ErrPeerReset, ClassReset},
		{&net.OpError{Op: "dial", Net: "tcp", Err: context.Canceled}, ClassCanceled},
		{opErr("tcp", "connect", syscall.EADDRNOTAVAIL), ClassNoLocalPorts},
		{opErr("unix", "connect", syscall.EAGAIN), ClassOther},
		{opErr("tcp", "socket", syscall.EMFILE), ClassOther},
		{&net.OpError{Op: "dial", Net: "tcp", Err: ErrEngineShutdown}, ClassOther},
		{&net.DNSError{Err: "no such host", IsNotFound: true}, ClassOther},
		{&net.OpError{Op: "dial", Net: "tcp", Err: &tlsError{ErrTLSHandshake, x509.UnknownAuthorityError{}}}, ClassTLS},
		{&tlsError{ErrTLSRecord, io.ErrUnexpectedEOF}, ClassTLS},
		{&tls.CertificateVerificationError{Err: x509.HostnameError{}}, ClassTLS},
		{tls.RecordHeaderError{Msg: "first record does not look like a TLS handshake"}, ClassTLS},
		{&tlsError{ErrTLSHandshake, withCause(ErrPeerReset, os.NewSyscallError("read", syscall.ECONNRESET))}, ClassReset},
		{&net.OpError{Op: "dial", Net: "tcp", Err: ErrTLSHandshakeTimeout}, ClassTimeout},
		{errors.New("something else"), ClassOther},
	} {
		if got := Classify(tc.err); got != tc.want {
			t.Errorf("Classify(%v) = %v, want %v", tc.err, got, tc.want)
		}
	}
}

func TestErrorClassString(t *testing.T) {
	want := []string{"none", "refused", "timeout", "unreachable", "reset", "canceled", "no-local-ports", "tls", "other"}
	for c := ClassNone; c <= ClassOther; c++ {
		if c.String() != want[c] {
			t.Errorf("ErrorClass(%d).String() = %q, want %q", int(c), c.String(), want[c])
		}
	}
	if s := ErrorClass(99).String(); s != "ErrorClass(99)" {
		t.Errorf("unknown class: %q", s)
	}
}

// TestDialArgumentErrorShape checks the errors Dial and DialAsync return
// synchronously, like Go's parseDialError test does for net.Dial.
func TestDialArgumentErrorShape(t *testing.T) {
	e := newEngine(t, Options{Loops: 1})
	h := newDialHandler()
	canceled, cancel := context.WithCancel(context.Background())
	cancel()
	for _, tc := range []struct {
		network, addr string
		h             Handler
		cfg           *DialConfig
		ctx           context.Context
	}{
		{"tcp", "127.0.0.1:1", nil, nil, nil},
		{"udp", "127.0.0.1:1", h, nil, nil},
		{"tcp", "127.0.0.1", h, nil, nil},
		{"tcp", "127.0.0.1:99999", h, nil, nil},
		{"tcp4", "[::1]:80", h, nil, nil},
		{"tcp6", "127.0.0.1:80", h, nil, nil},
		{"tcp", "127.0.0.1:80", h, &DialConfig{LocalAddr: &net.UnixAddr{Name: "x", Net: "unix"}}, nil},
		{"tcp", "[::1]:80", h, &DialConfig{LocalAddr: &net.TCPAddr{IP: net.IPv4(127, 0, 0, 1)}}, nil},
		{"tcp", "127.0.0.1:80", h, &DialConfig{Timeout: -1}, nil},
		{"unix", "", h, nil, nil},
		{"tcp", "127.0.0.1:80", h, nil, canceled},
	} {
		name := fmt.Sprintf("%s %q", tc.network, tc.addr)
		var err error
		if tc.ctx != nil {
			_, err = e.Dial(tc.ctx, tc.network, tc.addr, tc.h, tc.cfg)
		} else {
			_, err = e.DialAsync(tc.network, tc.addr, tc.h, tc.cfg)
		}
		if err == nil {
			t.Errorf("%s: no error", name)
			continue
		}
		if err := dialErrorShape(err); err != nil {
			t.Errorf("%s: %v", name, err)
		}
	}
	if opens, closes := h.counts(); opens+closes != 0 {
		t.Errorf("handler called %d+%d times for rejected arguments", opens, closes)
	}
	e2, err := New(Options{Loops: 1})
	if err != nil {
		t.Fatal(err)
	}
	e2.Close()
	_, err = e2.DialAsync("tcp", "127.0.0.1:1", h, nil)
	if !errors.Is(err, ErrEngineClosed) {
		t.Errorf("dial on a closed engine: %v", err)
	}
	checkDialError(t, err)
}

// TestBlockingDialOnLoopGoroutineFails: Dial from a handler would wait for
// its own loop; it fails at once instead.
func TestBlockingDialOnLoopGoroutineFails(t *testing.T) {
	e := newEngine(t, Options{Loops: 1})
	res := make(chan error, 1)
	e.AfterFunc(0, func() {
		_, err := e.Dial(context.Background(), "tcp", "127.0.0.1:1", newDialHandler(), nil)
		res <- err
	})
	err := recv(t, res, "Dial on the loop")
	if !errors.Is(err, errDialOnLoop) {
		t.Errorf("Dial on the loop: %v", err)
	}
	checkDialError(t, err)
}

// dialByNameWriting dials ln as "localhost:PORT", so that the name is
// still being resolved (the connection has no socket yet) when it writes
// early: the write is buffered until the open.
func dialByNameWriting(t *testing.T, e *Engine, ln *Listener, h Handler, early string) *Conn {
	t.Helper()
	addr := "localhost:" + fmt.Sprint(ln.Addr().(*net.TCPAddr).Port)
	c, err := e.DialAsync("tcp", addr, h, nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.Write([]byte(early)); err != nil {
		t.Fatalf("Write before open: %v", err)
	}
	return c
}

// TestDialHostnameResolvedOffLoop: a hostname is resolved on its own
// goroutine, IPv4 first for "tcp" as net.ResolveTCPAddr does, and Write
// before OnOpen (while the name is still being resolved and the
// connection has no socket) is buffered and delivered.
func TestDialHostnameResolvedOffLoop(t *testing.T) {
	tl := newTraceLog()
	e := newEngine(t, Options{Loops: 1, Tracer: tl.record})
	srv, cli := newDialHandler(), newDialHandler()
	c := dialByNameWriting(t, e, listen(t, e, srv, nil), cli, "early")
	recv(t, cli.opened, "OnOpen")
	conn := tl.await(t, "connect", time.Second, connEv(TraceConnect, c))
	if a, ok := conn.Addr.(*net.TCPAddr); !ok || !a.IP.Equal(net.IPv4(127, 0, 0, 1)) {
		t.Errorf("connected to %v, want 127.0.0.1", conn.Addr)
	}
	recv(t, srv.opened, "server OnOpen")
	if got := recv(t, srv.data, "server data"); string(got) != "early" {
		t.Errorf("server got %q", got)
	}
}

// TestDialResolutionFailureIsAsync: a name with no suitable address fails
// through OnClose, with an *net.AddrError and no remote address.
func TestDialResolutionFailureIsAsync(t *testing.T) {
	e := newEngine(t, Options{Loops: 1})
	cli := newDialHandler()
	cfg := &DialConfig{LocalAddr: &net.TCPAddr{IP: net.IPv4(127, 0, 0, 1)}}
	if _, err := e.DialAsync("tcp6", "localhost:1", cli, cfg); err != nil {
		t.Fatal(err)
	}
	err := expectDialFailure(t, cli, nil, ClassOther)
	var ae *net.AddrError
	if oe, ok := err.(*net.OpError); !ok || oe.Addr != nil || !errors.As(err, &ae) {
		t.Errorf("error %#v, want an *net.AddrError without Addr", err)
	}
}

// TestDialKeepAliveSetsSocketOptions: KeepAlive rounds up to seconds.
func TestDialKeepAliveSetsSocketOptions(t *testing.T) {
	nettest.NeedEpoll(t, "socket options read from the descriptor")
	tl := newTraceLog()
	e := newEngine(t, Options{Loops: 1, Tracer: tl.record})
	ln := listen(t, e, newDialHandler(), nil)
	c, err := e.Dial(context.Background(), "tcp", ln.Addr().String(), newDialHandler(), &DialConfig{KeepAlive: 1500 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	fd := tl.await(t, "open", time.Second, connEv(TraceOpen, c)).FD
	for _, o := range []struct {
		level, opt, want int
		name             string
	}{
		{unix.SOL_SOCKET, unix.SO_KEEPALIVE, 1, "SO_KEEPALIVE"},
		{unix.IPPROTO_TCP, unix.TCP_KEEPIDLE, 2, "TCP_KEEPIDLE"},
		{unix.IPPROTO_TCP, unix.TCP_KEEPINTVL, 2, "TCP_KEEPINTVL"},
		{unix.IPPROTO_TCP, unix.TCP_NODELAY, 1, "TCP_NODELAY"},
	} {
		if v, err := unix.GetsockoptInt(fd, o.level, o.opt); err != nil || v != o.want {
			t.Errorf("%s = %d (%v), want %d", o.name, v, err, o.want)
		}
	}
}

// TestDialSocketHookSocketIsMadeNonBlocking: a socket that DialConfig.Socket
// created blocking is made non-blocking and close-on-exec before connect.
func TestDialSocketHookSocketIsMadeNonBlocking(t *testing.T) {
	nettest.NeedEpoll(t, "DialConfig.Socket")
	tl := newTraceLog()
	e := newEngine(t, Options{Loops: 1, Tracer: tl.record})
	ln := listen(t, e, newDialHandler(), nil)
	cfg := &DialConfig{Socket: func(family, sotype, proto int) (int, error) {
		return unix.Socket(family, sotype, proto) // blocking, inheritable
	}}
	c, err := e.Dial(context.Background(), "tcp", ln.Addr().String(), newDialHandler(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	fd := tl.await(t, "open", time.Second, connEv(TraceOpen, c)).FD
	if fl, _ := unix.FcntlInt(uintptr(fd), unix.F_GETFL, 0); fl&unix.O_NONBLOCK == 0 {
		t.Errorf("O_NONBLOCK not set")
	}
	if fl, _ := unix.FcntlInt(uintptr(fd), unix.F_GETFD, 0); fl&unix.FD_CLOEXEC == 0 {
		t.Errorf("FD_CLOEXEC not set")
	}
}

// TestDialSocketHookErrorIsAsync: an error from DialConfig.Socket fails
// the dial through OnClose, named "socket".
func TestDialSocketHookErrorIsAsync(t *testing.T) {
	nettest.NeedEpoll(t, "DialConfig.Socket")
	e := newEngine(t, Options{Loops: 1})
	cli := newDialHandler()
	cfg := &DialConfig{Socket: func(int, int, int) (int, error) { return -1, unix.EMFILE }}
	if dialFromLoop(t, e, "tcp", "127.0.0.1:1", cli, cfg) {
		t.Errorf("OnClose ran inside DialAsync")
	}
	err := expectDialFailure(t, cli, syscall.EMFILE, ClassOther)
	if syscallName(err) != "socket" {
		t.Errorf("error %v does not name socket", err)
	}
}

// TestDialLocalAddrBindsWithoutReservingPort: with LocalAddr port 0 the
// port is chosen at connect time, per destination (IP_BIND_ADDRESS_NO_PORT):
// two ephemeral ports carry two connections to each of two servers, where a
// plain bind would reserve one port per connection and fail the third.
func TestDialLocalAddrBindsWithoutReservingPort(t *testing.T) {
	nettest.NeedEpoll(t, "IP_BIND_ADDRESS_NO_PORT")
	env := newNSEnv(t, Options{})
	srv := newDialHandler()
	_, _, a := env.listen(t, srv, 16)
	_, _, b := env.listen(t, srv, 16)
	lo := uint16(40000)
	if p, q := port(t, a), port(t, b); p/2 == lo/2 || q/2 == lo/2 {
		lo = 50000
	}
	if err := env.ns.SetSysctl("net/ipv4/ip_local_port_range", fmt.Sprintf("%d %d", lo, lo+1)); err != nil {
		t.Fatal(err)
	}
	src := &net.TCPAddr{IP: net.IPv4(127, 0, 0, 2)}
	for _, addr := range []string{a, a, b, b} {
		if _, err := env.eng.Dial(context.Background(), "tcp", addr, newDialHandler(), env.cfg(DialConfig{LocalAddr: src})); err != nil {
			t.Fatalf("dial %s from %v: %v", addr, src, err)
		}
		s := recv(t, srv.opened, "server OnOpen")
		if ra := s.RemoteAddr().String(); !strings.HasPrefix(ra, "127.0.0.2:") {
			t.Errorf("server sees %s, want 127.0.0.2", ra)
		}
	}
}

// TestDialFastOpenConnectReturnsZero: with a cached cookie, connect()
// with TCP_FASTOPEN_CONNECT returns 0 while still in SYN_SENT (see
// docs/kernel.md, "TCP Fast Open: connect returns 0 before the handshake");
// the engine opens the connection at once and the first write carries the
// SYN.
func TestDialFastOpenConnectReturnsZero(t *testing.T) {
	nettest.NeedEpoll(t, "TCP_FASTOPEN_CONNECT")
	env := newNSEnv(t, Options{})
	if err := env.ns.SetSysctl("net/ipv4/tcp_fastopen", "3"); err != nil {
		t.Fatal(err)
	}
	lfd, addr := env.rawListen(t, unix.AF_INET, 16)
	if err := unix.SetsockoptInt(lfd, unix.IPPROTO_TCP, unix.TCP_FASTOPEN, 16); err != nil {
		unix.Close(lfd)
		t.Skipf("TCP_FASTOPEN on the listener: %v", err)
	}
	srv := newDialHandler()
	if _, err := env.eng.ListenFD(lfd, srv, nil); err != nil {
		t.Fatal(err)
	}
	first, err := env.eng.Dial(context.Background(), "tcp", addr, newDialHandler(), env.cfg(DialConfig{FastOpen: true}))
	if err != nil {
		t.Fatal(err)
	}
	if conn := env.tl.await(t, "first connect", time.Second, connEv(TraceConnect, first)); !errors.Is(conn.Err, syscall.EINPROGRESS) {
		t.Errorf("first connect (no cookie yet): %v, want EINPROGRESS", conn.Err)
	}
	recv(t, srv.opened, "first server OnOpen")
	cli := newDialHandler()
	c := env.dial(t, addr, cli, DialConfig{FastOpen: true})
	conn := env.tl.await(t, "second connect", time.Second, connEv(TraceConnect, c))
	if conn.Err != nil || conn.TCPState.String() != "SYN_SENT" {
		t.Fatalf("second connect: %v in %v, want 0 in SYN_SENT", conn.Err, conn.TCPState)
	}
	recv(t, cli.opened, "OnOpen")
	c.Write([]byte("hello"))
	recv(t, srv.opened, "second server OnOpen")
	if got := recv(t, srv.data, "server data"); string(got) != "hello" {
		t.Errorf("server got %q", got)
	}
}

// TestDialCloseBeforeOpen: Close or Abort on a connection still dialing
// (resolving its name, or connecting) ends it with exactly one OnClose,
// no OnOpen, and nothing leaked.
func TestDialCloseBeforeOpen(t *testing.T) {
	for _, tc := range []struct {
		name, addr string
		abort      bool
	}{
		{"CloseWhileResolving", "localhost:%d", false},
		{"CloseWhileConnecting", "127.0.0.1:%d", false},
		{"AbortWhileResolving", "localhost:%d", true},
		{"AbortWhileConnecting", "127.0.0.1:%d", true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := newEngine(t, Options{Loops: 1})
			ln := listen(t, e, newDialHandler(), nil)
			cli := newDialHandler()
			// Hold the loop so that it sees the dial and the close in one
			// batch: on loopback the connect would otherwise complete first.
			release := blockLoop(e, 0)
			c, err := e.DialAsync("tcp", fmt.Sprintf(tc.addr, ln.Addr().(*net.TCPAddr).Port), cli, nil)
			if err != nil {
				release()
				t.Fatal(err)
			}
			if tc.abort {
				err = c.Abort()
			} else {
				err = c.Close()
			}
			release()
			if err != nil {
				t.Fatal(err)
			}
			cl := recv(t, cli.closed, "OnClose")
			t.Logf("reason: %v", cl.err)
			if tc.abort && !errors.Is(cl.err, ErrAborted) {
				t.Errorf("reason %v, want ErrAborted", cl.err)
			}
			if opens, closes := cli.counts(); opens != 0 || closes != 1 {
				t.Errorf("OnOpen %d, OnClose %d; want 0 and 1", opens, closes)
			}
		})
	}
}

// TestShutdownDuringResolutionReportsOnce: Shutdown right after a hostname
// dial started reaches the dial wherever it is (resolving, connecting or
// just opened): exactly one OnClose with ErrEngineShutdown, nothing left.
func TestShutdownDuringResolutionReportsOnce(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	addr := fmt.Sprintf("localhost:%d", ln.Addr().(*net.TCPAddr).Port)
	for i := 0; i < 10; i++ {
		t.Run(fmt.Sprint(i), func(t *testing.T) {
			e := newEngine(t, Options{Loops: 1})
			cli := newDialHandler()
			if _, err := e.DialAsync("tcp", addr, cli, nil); err != nil {
				t.Fatal(err)
			}
			e.Close() // Abort by its deprecated name, which must keep working
			cl := recv(t, cli.closed, "OnClose")
			if !errors.Is(cl.err, ErrEngineShutdown) {
				t.Errorf("reason %v, want ErrEngineShutdown", cl.err)
			}
			if _, closes := cli.counts(); closes != 1 {
				t.Errorf("OnClose %d times", closes)
			}
		})
	}
}

// TestCloseWriteBeforeDialCompletes: CloseWrite while the dial is still
// resolving or connecting takes effect once the connection opens: the peer
// reads EOF, and the dial does not fail.
func TestCloseWriteBeforeDialCompletes(t *testing.T) {
	e := newEngine(t, Options{Loops: 1})
	nl, err := net.Listen("tcp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer nl.Close()
	port := nl.Addr().(*net.TCPAddr).Port
	for _, addr := range []string{fmt.Sprintf("127.0.0.1:%d", port), fmt.Sprintf("localhost:%d", port)} {
		cli := newRecorder()
		cli.onEOF = func(c *Conn) {}
		c, err := e.DialAsync("tcp4", addr, cli, nil)
		if err != nil {
			t.Fatal(err)
		}
		if err := c.CloseWrite(); err != nil {
			t.Fatal(err)
		}
		peer, err := nl.Accept()
		if err != nil {
			t.Fatal(err)
		}
		recv(t, cli.opened, addr+": OnOpen")
		peer.SetReadDeadline(time.Now().Add(5 * time.Second))
		if n, err := peer.Read(make([]byte, 1)); n != 0 || err != io.EOF {
			t.Fatalf("%s: peer read %d, %v; want EOF", addr, n, err)
		}
		peer.Close()
		if err := recv(t, cli.closed, addr+": OnClose"); !errors.Is(err, ErrPeerClosed) {
			t.Fatalf("%s: close reason %v", addr, err)
		}
	}
}

//go:build linux

package epollnet

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"io"
	"net"
	"strings"
	"syscall"
	"testing"
	"time"
)

// expectTLSRefusal waits for OnTLSError and checks that the handler heard
// nothing of the connection and the engine let it go.
func expectTLSRefusal(t *testing.T, e *Engine, f *tlsFailures, r *recorder) error {
	t.Helper()
	err := recv(t, f.ch, "OnTLSError")
	syncLoops(e)
	if len(r.opened) != 0 || len(r.closed) != 0 {
		t.Fatalf("the handler saw %d OnOpen and %d OnClose for a failed handshake", len(r.opened), len(r.closed))
	}
	st := e.Stats().Total
	if st.Conns != 0 || st.TLSHandshakeErrors != 1 || st.TLSHandshakes != 0 {
		t.Fatalf("Conns %d, TLSHandshakeErrors %d, TLSHandshakes %d", st.Conns, st.TLSHandshakeErrors, st.TLSHandshakes)
	}
	return err
}

// TestTLSGarbageFailsHandshake: bytes that are not a ClientHello fail the
// handshake: OnTLSError gets ErrTLSHandshake with crypto/tls's reason, a
// net.Error of ClassTLS, and the handler nothing.
func TestTLSGarbageFailsHandshake(t *testing.T) {
	for name, junk := range map[string]string{
		"garbage":        "\x16\x03\x01\x00\x10" + strings.Repeat("\xff", 16),
		"plaintext-http": "GET / HTTP/1.1\r\nHost: localhost\r\n\r\n",
		"sslv2-hello":    "\x80\x2e\x01\x00\x02\x00\x15\x00\x00\x00\x10",
		"huge-record":    "\x16\x03\x01\xff\xff",
	} {
		t.Run(name, func(t *testing.T) {
			e := newEngine(t, Options{Loops: 1})
			f := newTLSFailures()
			r := newRecorder()
			ln := listenTLS(t, e, r, &ListenConfig{OnTLSError: f.hook})
			c := dialTCP(t, ln)
			c.Write([]byte(junk))
			err := expectTLSRefusal(t, e, f, r)
			var ne net.Error
			if !errors.Is(err, ErrTLSHandshake) || !errors.As(err, &ne) || ne.Timeout() || Classify(err) != ClassTLS {
				t.Fatalf("OnTLSError: %v (class %v)", err, Classify(err))
			}
			var rhe tls.RecordHeaderError
			if name == "plaintext-http" && !errors.As(err, &rhe) {
				t.Fatalf("plain HTTP: %v, want a tls.RecordHeaderError", err)
			}
			c.SetReadDeadline(time.Now().Add(10 * time.Second))
			io.Copy(io.Discard, c) // closed: an alert, if any, then EOF or a reset
		})
	}
}

// TestTLSHandshakeTimeout: a client that starts a ClientHello and stops
// (slowloris) is reset at TLSHandshakeTimeout and reported with
// ErrTLSHandshakeTimeout; the handshake's goroutine ends (leak check).
func TestTLSHandshakeTimeout(t *testing.T) {
	e := newEngine(t, Options{Loops: 1})
	f := newTLSFailures()
	r := newRecorder()
	ln := listenTLS(t, e, r, &ListenConfig{OnTLSError: f.hook, TLSHandshakeTimeout: 100 * time.Millisecond})
	c := dialTCP(t, ln)
	c.Write([]byte("\x16\x03\x01\x01"))
	err := expectTLSRefusal(t, e, f, r)
	var ne net.Error
	if !errors.Is(err, ErrTLSHandshakeTimeout) || !errors.As(err, &ne) || !ne.Timeout() || Classify(err) != ClassTimeout {
		t.Fatalf("OnTLSError: %v", err)
	}
	c.SetReadDeadline(time.Now().Add(10 * time.Second))
	if _, err := c.Read(make([]byte, 1)); !errors.Is(err, syscall.ECONNRESET) {
		t.Fatalf("client read: %v, want a reset", err)
	}
}

// TestTLSPeerLeavesDuringHandshake: a client that closes in the middle of
// its ClientHello fails the handshake with ErrTLSHandshake (crypto/tls
// read EOF); one that resets is reported with ErrPeerReset.
func TestTLSPeerLeavesDuringHandshake(t *testing.T) {
	for _, reset := range []bool{false, true} {
		e := newEngine(t, Options{Loops: 1})
		f := newTLSFailures()
		r := newRecorder()
		ln := listenTLS(t, e, r, &ListenConfig{OnTLSError: f.hook})
		c := dialTCP(t, ln)
		c.Write([]byte("\x16\x03\x01\x01\x00\x01"))
		if reset {
			c.SetLinger(0)
		}
		c.Close()
		err := expectTLSRefusal(t, e, f, r)
		want := ErrTLSHandshake
		if reset {
			want = ErrPeerReset
		}
		if !errors.Is(err, want) {
			t.Fatalf("reset %v: OnTLSError %v, want %v", reset, err, want)
		}
	}
}

// expectDialTLSFailure dials ln's address with cfg and checks the failure:
// Dial's error and OnClose's are the same, OnOpen never ran, the dial
// counts as failed.
func expectDialTLSFailure(t *testing.T, e *Engine, addr string, cfg *tls.Config) error {
	t.Helper()
	r := newRecorder()
	c, err := e.Dial(context.Background(), "tcp", addr, r, &DialConfig{TLSConfig: cfg})
	if err == nil || c != nil {
		t.Fatalf("Dial: %v, %v; want an error", c, err)
	}
	if got := recv(t, r.closed, "OnClose"); got != err {
		t.Fatalf("OnClose: %v, Dial: %v", got, err)
	}
	var oe *net.OpError
	if !errors.As(err, &oe) || oe.Op != "dial" || len(r.opened) != 0 || r.closes != 1 {
		t.Fatalf("dial error %#v, %d OnOpen, %d OnClose", err, len(r.opened), r.closes)
	}
	st := e.Stats().Total
	if st.DialFailed != 1 || st.Dialed != 0 || st.DialFailedBy[Classify(err)] != 1 {
		t.Fatalf("DialFailed %d, Dialed %d, by class %v", st.DialFailed, st.Dialed, st.DialFailedBy)
	}
	return err
}

// TestTLSDialVerificationFailures: a server certificate from an unknown
// authority, for another name, or expired fails the dial with
// ErrTLSHandshake around crypto/x509's error, ClassTLS; the server,
// which gets the client's alert, reports its side to OnTLSError.
func TestTLSDialVerificationFailures(t *testing.T) {
	p := certs(t)
	for name, tc := range map[string]struct {
		server tls.Certificate
		client *tls.Config
		check  func(error) bool
	}{
		"unknown-authority": {p.leaf, &tls.Config{ServerName: "localhost"}, func(err error) bool {
			var e x509.UnknownAuthorityError
			return errors.As(err, &e)
		}},
		"wrong-name": {p.leaf, p.clientConfig("wrong.test"), func(err error) bool {
			var e x509.HostnameError
			return errors.As(err, &e)
		}},
		"expired": {p.expired, p.clientConfig("localhost"), func(err error) bool {
			var e x509.CertificateInvalidError
			return errors.As(err, &e) && e.Reason == x509.Expired
		}},
	} {
		t.Run(name, func(t *testing.T) {
			e := newEngine(t, Options{Loops: 1})
			f := newTLSFailures()
			ln := listenTLS(t, e, newRecorder(), &ListenConfig{OnTLSError: f.hook,
				TLSConfig: &tls.Config{Certificates: []tls.Certificate{tc.server}}})
			err := expectDialTLSFailure(t, e, ln.Addr().String(), tc.client)
			var ne net.Error
			if !errors.Is(err, ErrTLSHandshake) || !tc.check(err) || Classify(err) != ClassTLS || !errors.As(err, &ne) || ne.Timeout() {
				t.Fatalf("dial error %v (class %v)", err, Classify(err))
			}
			if serr := recv(t, f.ch, "the server's OnTLSError"); !errors.Is(serr, ErrTLSHandshake) {
				t.Fatalf("server: %v", serr)
			}
			if st := e.Stats().Total; st.TLSHandshakeErrors != 2 || st.DialFailedBy[ClassTLS] != 1 {
				t.Fatalf("TLSHandshakeErrors %d, DialFailedBy %v", st.TLSHandshakeErrors, st.DialFailedBy)
			}
		})
	}
}

// TestTLSDialHandshakeTimeout: a server that never answers the
// ClientHello fails the dial with ErrTLSHandshakeTimeout at
// DialConfig.TLSHandshakeTimeout.
func TestTLSDialHandshakeTimeout(t *testing.T) {
	e := newEngine(t, Options{Loops: 1})
	addr, _ := silentServer(t)
	r := newRecorder()
	_, err := e.Dial(context.Background(), "tcp", addr, r, &DialConfig{TLSConfig: certs(t).clientConfig("localhost"),
		TLSHandshakeTimeout: 100 * time.Millisecond})
	var ne net.Error
	if !errors.Is(err, ErrTLSHandshakeTimeout) || !errors.As(err, &ne) || !ne.Timeout() || Classify(err) != ClassTimeout {
		t.Fatalf("Dial: %v", err)
	}
	if len(r.opened) != 0 || recv(t, r.closed, "OnClose") != err {
		t.Fatal("OnOpen called, or OnClose without the dial error")
	}
}

// TestTLSDialCloseDuringHandshake: Close (and Abort) during a dial's
// handshake, with nothing written, abandons the dial: OnClose reports a
// dial error matching ErrClosed (ErrAborted), OnOpen never runs, and the
// handshake's goroutine ends (leak check).
func TestTLSDialCloseDuringHandshake(t *testing.T) {
	for _, abort := range []bool{false, true} {
		e := newEngine(t, Options{Loops: 1})
		addr, accepted := silentServer(t)
		r := newRecorder()
		c, err := e.DialAsync("tcp", addr, r, &DialConfig{TLSConfig: certs(t).clientConfig("localhost")})
		if err != nil {
			t.Fatal(err)
		}
		recv(t, recv(t, accepted, "connection"), "ClientHello")
		want := ErrClosed
		if abort {
			c.Abort()
			want = ErrAborted
		} else {
			c.Close()
		}
		err = recv(t, r.closed, "OnClose")
		var oe *net.OpError
		if !errors.Is(err, want) || !errors.As(err, &oe) || oe.Op != "dial" || len(r.opened) != 0 {
			t.Fatalf("abort %v: OnClose %v, %d OnOpen", abort, err, len(r.opened))
		}
	}
}

// TestTLSDialContextCanceledDuringHandshake: canceling Dial's context
// during the handshake fails the dial with context.Canceled.
func TestTLSDialContextCanceledDuringHandshake(t *testing.T) {
	e := newEngine(t, Options{Loops: 1})
	addr, accepted := silentServer(t)
	ctx, cancel := context.WithCancel(context.Background())
	go func() {
		<-<-accepted // the ClientHello arrived (the server reads it to EOF)
		cancel()
	}()
	r := newRecorder()
	_, err := e.Dial(ctx, "tcp", addr, r, &DialConfig{TLSConfig: certs(t).clientConfig("localhost")})
	if !errors.Is(err, context.Canceled) || Classify(err) != ClassCanceled {
		t.Fatalf("Dial: %v", err)
	}
	recv(t, r.closed, "OnClose")
}

// TestTLSShutdownDuringHandshake: Engine.Shutdown closes connections in
// their handshake at once: an accepted one silently (no OnTLSError, not
// counted), a dial with ErrEngineShutdown.
func TestTLSShutdownDuringHandshake(t *testing.T) {
	leakCheck(t)
	started := make(chan struct{}, 1) // the accepted connection's handshake started
	e, err := New(Options{Loops: 1, Tracer: func(ev *TraceEvent) {
		if ev.Kind == TraceTLS && ev.Role == RoleAccepted && ev.Detail == "start" {
			started <- struct{}{}
		}
	}})
	if err != nil {
		t.Fatal(err)
	}
	f := newTLSFailures()
	srv := newRecorder()
	ln, err := e.Listen("tcp", "127.0.0.1:0", srv, &ListenConfig{TLSConfig: certs(t).serverConfig(), OnTLSError: f.hook})
	if err != nil {
		t.Fatal(err)
	}
	c := dialTCP(t, ln)
	c.Write([]byte("\x16\x03\x01\x01"))
	addr, accepted := silentServer(t)
	r := newRecorder()
	if _, err := e.DialAsync("tcp", addr, r, &DialConfig{TLSConfig: certs(t).clientConfig("localhost")}); err != nil {
		t.Fatal(err)
	}
	recv(t, recv(t, accepted, "connection"), "ClientHello")
	recv(t, started, "the accepted connection's handshake")
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := e.Shutdown(ctx); err != nil {
		t.Fatalf("Shutdown: %v", err)
	}
	if err := recv(t, r.closed, "OnClose"); !errors.Is(err, ErrEngineShutdown) {
		t.Fatalf("dial: %v", err)
	}
	if len(f.ch) != 0 || len(srv.opened) != 0 || len(srv.closed) != 0 {
		t.Fatal("a handshake cut by Shutdown was reported")
	}
	if st := e.Stats().Total; st.TLSHandshakeErrors != 0 || st.Conns != 0 || st.Registered != 0 {
		t.Fatalf("TLSHandshakeErrors %d, Conns %d, Registered %d", st.TLSHandshakeErrors, st.Conns, st.Registered)
	}
}

// TestTLSConfigErrors: a listener without a certificate and negative
// handshake timeouts are refused at once.
func TestTLSConfigErrors(t *testing.T) {
	e := newEngine(t, Options{Loops: 1})
	if _, err := e.Listen("tcp", "127.0.0.1:0", echoHandler{}, &ListenConfig{TLSConfig: &tls.Config{}}); err == nil {
		t.Fatal("Listen without a certificate succeeded")
	}
	if _, err := e.Listen("tcp", "127.0.0.1:0", echoHandler{}, &ListenConfig{TLSConfig: certs(t).serverConfig(), TLSHandshakeTimeout: -1}); err == nil {
		t.Fatal("Listen with a negative TLSHandshakeTimeout succeeded")
	}
	if _, err := e.DialAsync("tcp", "127.0.0.1:1", echoHandler{}, &DialConfig{TLSConfig: &tls.Config{}, TLSHandshakeTimeout: -1}); err == nil {
		t.Fatal("DialAsync with a negative TLSHandshakeTimeout succeeded")
	}
}

// TestTLSWriteAfterCloseDuringHandshakeFails: a dial whose connection
// closed during its handshake (here: Abort) refuses later writes and
// Close with ErrClosed, rather than queuing plaintext that would never be
// sent.
func TestTLSWriteAfterCloseDuringHandshakeFails(t *testing.T) {
	e := newEngine(t, Options{Loops: 1})
	silent := listen(t, e, &BaseHandler{}, nil) // accepts, never answers the ClientHello
	r := newRecorder()
	c, err := e.DialAsync("tcp", silent.Addr().String(), r, &DialConfig{TLSConfig: certs(t).clientConfig("localhost")})
	if err != nil {
		t.Fatal(err)
	}
	c.Abort()
	recv(t, r.closed, "OnClose")
	if n, err := c.Write([]byte("lost?")); n != 0 || !errors.Is(err, ErrClosed) {
		t.Errorf("Write after the close: %d, %v; want 0, ErrClosed", n, err)
	}
	if err := c.Close(); !errors.Is(err, ErrClosed) {
		t.Errorf("Close after the close: %v; want ErrClosed", err)
	}
	if err := c.CloseWrite(); !errors.Is(err, ErrClosed) {
		t.Errorf("CloseWrite after the close: %v; want ErrClosed", err)
	}
}

// TestTLSDialRefusesRenegotiation: a dial's configuration asking for
// renegotiation is used with renegotiation off (crypto/tls renegotiates
// inside Read, as a handshake, which cannot run over the loop's
// non-blocking records); the caller's configuration is left as it was.
func TestTLSDialRefusesRenegotiation(t *testing.T) {
	cfg := &tls.Config{ServerName: "example.test", Renegotiation: tls.RenegotiateFreelyAsClient}
	got := dialTLSConfig(cfg, "other.test")
	if got.Renegotiation != tls.RenegotiateNever || got.ServerName != "example.test" {
		t.Errorf("renegotiation %v, server name %q", got.Renegotiation, got.ServerName)
	}
	if cfg.Renegotiation != tls.RenegotiateFreelyAsClient {
		t.Error("the caller's configuration was changed")
	}
}

//go:build linux

package epollnet

import (
	"bytes"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net"
	"strings"
	"sync"
	"testing"
	"time"
)

// TestTLSDialWritesBeforeHandshakeKeepOrder: writes made right after
// DialAsync, before the handshake completed, are sent after it, in order,
// Write and Writev alike.
func TestTLSDialWritesBeforeHandshakeKeepOrder(t *testing.T) {
	e := newEngine(t, Options{Loops: 1})
	addr := goTLSServer(t, certs(t).serverConfig(), goEcho)
	r := newRecorder()
	data := collect(r)
	c, err := e.DialAsync("tcp", addr, r, &DialConfig{TLSConfig: certs(t).clientConfig("localhost")})
	if err != nil {
		t.Fatal(err)
	}
	var want bytes.Buffer
	for i := range 200 {
		msg := fmt.Sprintf("%d,", i)
		if i%2 == 0 {
			c.Write([]byte(msg))
		} else {
			c.Writev([][]byte{[]byte(msg[:1]), []byte(msg[1:])})
		}
		want.WriteString(msg)
	}
	if got := readN(t, data, want.Len()); !bytes.Equal(got, want.Bytes()) {
		t.Fatalf("echo %q, want %q", got, want.Bytes())
	}
	recv(t, r.opened, "OnOpen")
}

// TestTLSDialCloseAfterWriteDuringHandshake: Close after writes, during
// the handshake, lets it finish: the writes are delivered, followed by
// close_notify; OnOpen is skipped and OnClose reports nil.
func TestTLSDialCloseAfterWriteDuringHandshake(t *testing.T) {
	e := newEngine(t, Options{Loops: 1})
	// The server holds its answer to the ClientHello until the client
	// wrote and closed, so that both happen during the handshake.
	addr, hello, gate, got := gatedTLSServer(t)
	r := newRecorder()
	c, err := e.DialAsync("tcp", addr, r, &DialConfig{TLSConfig: certs(t).clientConfig("localhost")})
	if err != nil {
		t.Fatal(err)
	}
	recv(t, hello, "ClientHello")
	c.Write([]byte("request"))
	if err := c.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Write([]byte("late")); !errors.Is(err, ErrClosed) {
		t.Fatalf("Write after Close: %v", err)
	}
	close(gate)
	if s := recv(t, got, "the server's read"); s != "request" {
		t.Fatalf("server read %q", s)
	}
	if err := recv(t, r.closed, "OnClose"); err != nil {
		t.Fatalf("OnClose: %v", err)
	}
	if len(r.opened) != 0 {
		t.Fatal("OnOpen after Close")
	}
}

// TestTLSAfterProxyHeader: with ProxyProtocol, the PROXY header comes
// first, then the TLS handshake; OnOpen sees the header's client address
// and a completed handshake.
func TestTLSAfterProxyHeader(t *testing.T) {
	e := newEngine(t, Options{Loops: 1})
	r := newTLSRecorder()
	r.onData = func(c *Conn, in []byte) int { c.Write(in); return len(in) }
	ln := listenTLS(t, e, r, &ListenConfig{ProxyProtocol: &ProxyConfig{Trusted: loopback}})
	raw := dialTCP(t, ln)
	raw.Write(encodeHeader(t, tcpHeader(1, clientAP, serverAP)))
	c := tls.Client(raw, certs(t).clientConfig("localhost"))
	c.SetDeadline(time.Now().Add(10 * time.Second))
	echoCheck(t, c, []byte("through the proxy"))
	if cs := recv(t, r.states, "OnOpen"); !cs.HandshakeComplete {
		t.Fatal("OnOpen before the handshake")
	}
	s := recv(t, r.opened, "OnOpen")
	if got := s.RemoteAddr().String(); got != clientAP.String() {
		t.Fatalf("RemoteAddr %s, want %s", got, clientAP)
	}
}

// TestTLSTrace: a handshake is traced as TraceTLS "start", then "done"
// with the version, ALPN protocol and resumption, or "failed" with the
// reason.
func TestTLSTrace(t *testing.T) {
	var mu sync.Mutex
	var details []string
	e := newEngine(t, Options{Loops: 1, Tracer: func(ev *TraceEvent) {
		if ev.Kind == TraceTLS && ev.Role == RoleAccepted {
			mu.Lock()
			d := ev.Detail
			if ev.Err != nil {
				d += ": " + ev.Err.Error()
			}
			details = append(details, d)
			mu.Unlock()
		}
	}})
	f := newTLSFailures()
	scfg := certs(t).serverConfig()
	scfg.NextProtos = []string{"h2"}
	r := newRecorder()
	ln := listenTLS(t, e, r, &ListenConfig{TLSConfig: scfg, OnTLSError: f.hook})
	ccfg := certs(t).clientConfig("localhost")
	ccfg.NextProtos = []string{"h2"}
	dialGoTLS(t, ln, ccfg)
	recv(t, r.opened, "OnOpen")
	bad := dialTCP(t, ln)
	bad.Write([]byte("GET / HTTP/1.0\r\n\r\n"))
	recv(t, f.ch, "OnTLSError")
	mu.Lock()
	defer mu.Unlock()
	want := []string{"start", "done version=TLS1.3 alpn=h2 resumed=false", "start", "failed: epollnet: TLS handshake failed"}
	if len(details) != 4 {
		t.Fatalf("trace %q", details)
	}
	for i, w := range want {
		if !strings.HasPrefix(details[i], w) {
			t.Fatalf("trace %q, want %q", details, want)
		}
	}
	if (TraceTLS).String() != "tls" {
		t.Fatalf("TraceTLS is %q", TraceTLS)
	}
}

// TestTLSChurnLeavesNothing: many connections at once, completing their
// handshake or failing it or leaving halfway, on two loops with a shared
// listener; every descriptor, goroutine and registration is gone at the
// end (newEngine's checks), and every connection is accounted for.
func TestTLSChurnLeavesNothing(t *testing.T) {
	const n = 30
	e := newEngine(t, Options{Loops: 2})
	f := newTLSFailures()
	f.ch = make(chan error, 3*n)
	r := newRecorder()
	r.onData = func(c *Conn, in []byte) int { c.Write(in); return len(in) }
	ln := listenTLS(t, e, r, &ListenConfig{OnTLSError: f.hook})
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			switch i % 3 {
			case 0:
				c, err := tls.DialWithDialer(&net.Dialer{Timeout: 10 * time.Second}, "tcp", ln.Addr().String(), certs(t).clientConfig("localhost"))
				if err != nil {
					t.Errorf("dial: %v", err)
					return
				}
				c.Write([]byte("x"))
				c.Read(make([]byte, 1))
				c.Close()
			case 1:
				c, err := net.Dial("tcp", ln.Addr().String())
				if err == nil {
					c.Write([]byte("not TLS at all"))
					io.Copy(io.Discard, c)
					c.Close()
				}
			case 2:
				c, err := net.Dial("tcp", ln.Addr().String())
				if err == nil {
					c.Write([]byte("\x16\x03\x01\x00\x80\x01"))
					c.Close()
				}
			}
		})
	}
	wg.Wait()
	for range n / 3 {
		recv(t, r.closed, "OnClose")
	}
	for range 2 * n / 3 {
		recv(t, f.ch, "OnTLSError")
	}
	st := e.Stats().Total
	if st.TLSHandshakes != n/3 || st.TLSHandshakeErrors != 2*n/3 || st.Conns != 0 {
		t.Fatalf("TLSHandshakes %d, TLSHandshakeErrors %d, Conns %d", st.TLSHandshakes, st.TLSHandshakeErrors, st.Conns)
	}
}

// gatedTLSServer is Go's TLS server holding its answer to each ClientHello
// until gate is closed; hello gets a value when one arrived. Its
// connections are read to the end, and what they carried (or the read
// error) is sent to got.
func gatedTLSServer(t *testing.T) (addr string, hello chan struct{}, gate chan struct{}, got chan string) {
	t.Helper()
	hello, gate, got = make(chan struct{}, 4), make(chan struct{}), make(chan string, 4)
	scfg := certs(t).serverConfig()
	scfg.GetConfigForClient = func(*tls.ClientHelloInfo) (*tls.Config, error) {
		hello <- struct{}{}
		<-gate
		return nil, nil
	}
	addr = goTLSServer(t, scfg, func(c *tls.Conn) {
		b, err := io.ReadAll(c)
		if err != nil {
			b = append(b, " error: "+err.Error()...)
		}
		got <- string(b)
	})
	return addr, hello, gate, got
}

// TestTLSDialCloseWriteDuringHandshake: CloseWrite during a dial's
// handshake takes effect after it: the writes made before, close_notify
// and the FIN; OnOpen runs, and reading goes on.
func TestTLSDialCloseWriteDuringHandshake(t *testing.T) {
	e := newEngine(t, Options{Loops: 1})
	addr, hello, gate, got := gatedTLSServer(t)
	r := newRecorder()
	c, err := e.DialAsync("tcp", addr, r, &DialConfig{TLSConfig: certs(t).clientConfig("localhost")})
	if err != nil {
		t.Fatal(err)
	}
	recv(t, hello, "ClientHello")
	c.Write([]byte("half"))
	if err := c.CloseWrite(); err != nil {
		t.Fatal(err)
	}
	close(gate)
	if s := recv(t, got, "the server's read"); s != "half" {
		t.Fatalf("server read %q", s)
	}
	recv(t, r.opened, "OnOpen")
	c.Close()
	recv(t, r.closed, "OnClose")
}

// TestTLSDialEarlyWritesCapped: plaintext written during the handshake
// counts against MaxWriteBuffer: past it Write fails with
// ErrWriteCapExceeded and the dial fails with it.
func TestTLSDialEarlyWritesCapped(t *testing.T) {
	e := newEngine(t, Options{Loops: 1, WriteHighWater: 1 << 10, WriteLowWater: 1 << 10, MaxWriteBuffer: 64 << 10})
	addr, hello, gate, _ := gatedTLSServer(t)
	defer close(gate)
	r := newRecorder()
	c, err := e.DialAsync("tcp", addr, r, &DialConfig{TLSConfig: certs(t).clientConfig("localhost")})
	if err != nil {
		t.Fatal(err)
	}
	recv(t, hello, "ClientHello")
	if _, err := c.Write(make([]byte, 60<<10)); err != nil {
		t.Fatalf("Write within the cap: %v", err)
	}
	if _, err := c.Write(make([]byte, 8<<10)); !errors.Is(err, ErrWriteCapExceeded) {
		t.Fatalf("Write past the cap: %v", err)
	}
	err = recv(t, r.closed, "OnClose")
	var oe *net.OpError
	if !errors.Is(err, ErrWriteCapExceeded) || !errors.As(err, &oe) || oe.Op != "dial" || len(r.opened) != 0 {
		t.Fatalf("OnClose: %v", err)
	}
}

//go:build linux

package epollnet

import (
	"bytes"
	"context"
	"crypto/tls"
	"errors"
	"io"
	"net"
	"runtime"
	"testing"
	"time"
)

// captureConn records what is written to it; its Read fails at once, so a
// tls.Client over it writes its ClientHello and gives up.
type captureConn struct {
	memConn
	out bytes.Buffer
}

func (c *captureConn) Write(p []byte) (int, error) { return c.out.Write(p) }
func (c *captureConn) Read([]byte) (int, error)    { return 0, io.EOF }

// clientHello returns a ClientHello as Go's client sends it.
func clientHello(t testing.TB) []byte {
	t.Helper()
	c := &captureConn{}
	tls.Client(c, &tls.Config{ServerName: "localhost", NextProtos: []string{"h2", "http/1.1"}}).Handshake()
	if c.out.Len() == 0 {
		t.Fatal("no ClientHello written")
	}
	return c.out.Bytes()
}

// FuzzTLSServerInput feeds a TLS listener arbitrary bytes, after a valid
// ClientHello (hello) or instead of one, then the client's FIN: whatever
// they are, the server must not panic, the connection must fail its
// handshake (the client cannot complete it) and be reported once to
// OnTLSError, and nothing may be left: no connection, registration or
// goroutine. The committed seeds are in testdata/fuzz/FuzzTLSServerInput:
//
//	go test -run '^$' -fuzz '^FuzzTLSServerInput$' -fuzztime 30s .
func FuzzTLSServerInput(f *testing.F) {
	hello := clientHello(f)
	f.Add(true, []byte{})
	f.Add(false, hello[:len(hello)-1])
	e, err := New(Options{Loops: 1})
	if err != nil {
		f.Fatal(err)
	}
	failed := make(chan error, 1)
	opened := make(chan *Conn, 1)
	cfg := certs(f).serverConfig()
	cfg.NextProtos = []string{"h2"}
	ln, err := e.Listen("tcp", "127.0.0.1:0", &openHook{recorder: newRecorder(), f: func(c *Conn) { opened <- c }},
		&ListenConfig{TLSConfig: cfg, TLSHandshakeTimeout: 5 * time.Second,
			OnTLSError: func(_ net.Addr, err error) { failed <- err }})
	if err != nil {
		f.Fatal(err)
	}
	f.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		e.Shutdown(ctx)
	})
	f.Fuzz(func(t *testing.T, withHello bool, data []byte) {
		goroutines := runtime.NumGoroutine()
		c, err := net.Dial("tcp", ln.Addr().String())
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		if withHello {
			c.Write(hello)
		}
		c.Write(data)
		c.(*net.TCPConn).CloseWrite()
		c.SetReadDeadline(time.Now().Add(10 * time.Second))
		io.Copy(io.Discard, c) // until the server closes
		select {
		case err := <-failed:
			if !errors.Is(err, ErrTLSHandshake) && !errors.Is(err, ErrPeerReset) {
				t.Fatalf("OnTLSError: %v", err)
			}
		case <-opened:
			t.Fatal("a handshake completed without a client")
		case <-time.After(10 * time.Second):
			t.Fatal("no OnTLSError")
		}
		if st := e.Stats().Total; st.Conns != 0 || st.Registered != 1 {
			t.Fatalf("after the connection: %d connections, %d registrations (1 is the listener)", st.Conns, st.Registered)
		}
		// The handshake's goroutine ends right after the report, or was
		// woken by it: wait for it, bounded, as leakCheck does.
		deadline := time.Now().Add(5 * time.Second)
		for runtime.NumGoroutine() > goroutines && time.Now().Before(deadline) {
			time.Sleep(time.Millisecond)
		}
		if n := runtime.NumGoroutine(); n > goroutines {
			t.Fatalf("goroutines %d -> %d", goroutines, n)
		}
	})
}

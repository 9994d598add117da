//go:build linux

package epollnet

import (
	"bytes"
	"context"
	"crypto/tls"
	"errors"
	"io"
	"net"
	"sync"
	"testing"
	"time"
)

// goTLSServer is Go's crypto/tls on package net, a goroutine per
// connection, running serve on each; its Cleanup closes everything and
// waits for the goroutines. Start it after newEngine, so that the engine's
// leak check runs after this cleanup.
func goTLSServer(t *testing.T, cfg *tls.Config, serve func(*tls.Conn)) string {
	t.Helper()
	ln, err := tls.Listen("tcp", "127.0.0.1:0", cfg)
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	var mu sync.Mutex
	conns := map[net.Conn]bool{}
	wg.Go(func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			mu.Lock()
			conns[c] = true
			mu.Unlock()
			wg.Go(func() {
				defer c.Close()
				serve(c.(*tls.Conn))
			})
		}
	})
	t.Cleanup(func() {
		ln.Close()
		mu.Lock()
		for c := range conns {
			c.Close()
		}
		mu.Unlock()
		wg.Wait()
	})
	return ln.Addr().String()
}

// goEcho echoes until EOF or an error.
func goEcho(c *tls.Conn) { io.Copy(c, c) }

// echoCheck writes msg and reads as many bytes back.
func echoCheck(t *testing.T, c io.ReadWriter, msg []byte) {
	t.Helper()
	if _, err := c.Write(msg); err != nil {
		t.Fatalf("write: %v", err)
	}
	got := make([]byte, len(msg))
	if _, err := io.ReadFull(c, got); err != nil {
		t.Fatalf("read: %v", err)
	}
	if !bytes.Equal(got, msg) {
		t.Fatalf("echo: got %q, want %q", got, msg)
	}
}

// tlsRecorder is a recorder that also records, in OnOpen, the connection's
// TLS state as the handler sees it there.
type tlsRecorder struct {
	*recorder
	states chan tls.ConnectionState
}

func newTLSRecorder() *tlsRecorder {
	return &tlsRecorder{recorder: newRecorder(), states: make(chan tls.ConnectionState, 64)}
}

func (r *tlsRecorder) OnOpen(c *Conn) {
	cs, ok := c.ConnectionState()
	if !ok || !cs.HandshakeComplete {
		cs = tls.ConnectionState{}
	}
	r.states <- cs
	r.recorder.OnOpen(c)
}

// TestTLSServerEchoWithGoClient: a listener with TLSConfig serves Go's
// crypto/tls client; OnOpen comes after the handshake, with the state
// complete, and OnData gets plaintext.
func TestTLSServerEchoWithGoClient(t *testing.T) {
	e := newEngine(t, Options{Loops: 1})
	r := newTLSRecorder()
	r.onData = func(c *Conn, in []byte) int { c.Write(in); return len(in) }
	ln := listenTLS(t, e, r, nil)
	c := dialGoTLS(t, ln, nil)
	cs := recv(t, r.states, "OnOpen")
	if !cs.HandshakeComplete || cs.Version != tls.VersionTLS13 || cs.ServerName != "localhost" {
		t.Fatalf("state in OnOpen: complete %v version %x SNI %q", cs.HandshakeComplete, cs.Version, cs.ServerName)
	}
	for _, size := range []int{1, 64, 16 << 10, 100 << 10} {
		echoCheck(t, c, bytes.Repeat([]byte{'x'}, size))
	}
	st := e.Stats().Total
	if st.TLSHandshakes != 1 || st.TLSHandshakeErrors != 0 {
		t.Fatalf("TLSHandshakes %d, TLSHandshakeErrors %d", st.TLSHandshakes, st.TLSHandshakeErrors)
	}
}

// TestTLSDialGoServer: a dial with TLSConfig against Go's tls.Listen. The
// ServerName defaults to the dialed host, as tls.Dial does; Dial returns
// after OnOpen, with the state complete.
func TestTLSDialGoServer(t *testing.T) {
	e := newEngine(t, Options{Loops: 1})
	p := certs(t)
	sni := make(chan string, 1)
	cfg := p.serverConfig()
	cfg.GetConfigForClient = func(hi *tls.ClientHelloInfo) (*tls.Config, error) {
		sni <- hi.ServerName
		return nil, nil
	}
	addr := goTLSServer(t, cfg, goEcho)
	_, port, _ := net.SplitHostPort(addr)
	r := newTLSRecorder()
	data := collect(r.recorder)
	c, err := e.Dial(context.Background(), "tcp", "localhost:"+port, r, &DialConfig{TLSConfig: &tls.Config{RootCAs: p.pool}})
	if err != nil {
		t.Fatalf("Dial: %v", err)
	}
	if got := recv(t, sni, "ClientHello"); got != "localhost" {
		t.Fatalf("SNI %q, want localhost", got)
	}
	cs := recv(t, r.states, "OnOpen")
	if !cs.HandshakeComplete || cs.ServerName != "localhost" || len(cs.PeerCertificates) == 0 {
		t.Fatalf("state in OnOpen: %+v", cs)
	}
	if got, ok := c.ConnectionState(); !ok || got.Version != cs.Version {
		t.Fatalf("ConnectionState after Dial: %v %x", ok, got.Version)
	}
	if d := c.HandshakeDuration(); d <= 0 || d > 30*time.Second {
		t.Fatalf("HandshakeDuration %v after the handshake", d)
	}
	c.Write([]byte("hello"))
	if got := readN(t, data, 5); string(got) != "hello" {
		t.Fatalf("echo %q", got)
	}
	c.Close()
	if err := recv(t, r.closed, "OnClose"); err != nil {
		t.Fatalf("OnClose: %v", err)
	}
	if st := e.Stats().Total; st.Dialed != 1 || st.TLSHandshakes != 1 {
		t.Fatalf("Dialed %d, TLSHandshakes %d", st.Dialed, st.TLSHandshakes)
	}
}

// collect makes r send a copy of what OnData receives to the returned
// channel (and consume it all).
func collect(r *recorder) chan []byte {
	ch := make(chan []byte, 4096)
	r.onData = func(c *Conn, in []byte) int {
		ch <- append([]byte(nil), in...)
		return len(in)
	}
	return ch
}

// readN receives from ch until n bytes came, and returns them.
func readN(t *testing.T, ch <-chan []byte, n int) []byte {
	t.Helper()
	var got []byte
	timeout := time.After(10 * time.Second)
	for len(got) < n {
		select {
		case b := <-ch:
			got = append(got, b...)
		case <-timeout:
			t.Fatalf("received %d of %d bytes", len(got), n)
		}
	}
	if len(got) > n {
		t.Fatalf("received %d bytes, want %d", len(got), n)
	}
	return got
}

var _ = errors.Is

// TestTLSVersions: TLS 1.2 and 1.3, each way: the engine's server with
// Go's client, and the engine's dial with Go's server.
func TestTLSVersions(t *testing.T) {
	for _, v := range []uint16{tls.VersionTLS12, tls.VersionTLS13} {
		t.Run(tls.VersionName(v), func(t *testing.T) {
			e := newEngine(t, Options{Loops: 1})
			p := certs(t)
			r := newTLSRecorder()
			ln := listenTLS(t, e, r, nil)
			ccfg := p.clientConfig("localhost")
			ccfg.MaxVersion = v
			c := dialGoTLS(t, ln, ccfg)
			if got := recv(t, r.states, "OnOpen").Version; got != v || c.ConnectionState().Version != v {
				t.Fatalf("server version %x, client %x; want %x", got, c.ConnectionState().Version, v)
			}

			scfg := p.serverConfig()
			scfg.MaxVersion = v
			addr := goTLSServer(t, scfg, goEcho)
			d := newTLSRecorder()
			if _, err := e.Dial(context.Background(), "tcp", addr, d, &DialConfig{TLSConfig: p.clientConfig("localhost")}); err != nil {
				t.Fatalf("Dial: %v", err)
			}
			if got := recv(t, d.states, "OnOpen").Version; got != v {
				t.Fatalf("dialed version %x, want %x", got, v)
			}
		})
	}
}

// TestTLSALPN: the protocol negotiated by ALPN is in ConnectionState on
// both sides, for the engine as server and as client.
func TestTLSALPN(t *testing.T) {
	e := newEngine(t, Options{Loops: 1})
	p := certs(t)
	r := newTLSRecorder()
	scfg := p.serverConfig()
	scfg.NextProtos = []string{"h2", "http/1.1"}
	ln := listenTLS(t, e, r, &ListenConfig{TLSConfig: scfg})
	ccfg := p.clientConfig("localhost")
	ccfg.NextProtos = []string{"http/1.1"}
	c := dialGoTLS(t, ln, ccfg)
	if got := recv(t, r.states, "OnOpen").NegotiatedProtocol; got != "http/1.1" || c.ConnectionState().NegotiatedProtocol != "http/1.1" {
		t.Fatalf("server ALPN %q, client %q; want http/1.1", got, c.ConnectionState().NegotiatedProtocol)
	}

	ccfg = p.clientConfig("localhost")
	ccfg.NextProtos = []string{"h2"}
	d := newTLSRecorder()
	if _, err := e.Dial(context.Background(), "tcp", ln.Addr().String(), d, &DialConfig{TLSConfig: ccfg}); err != nil {
		t.Fatalf("Dial: %v", err)
	}
	if got := recv(t, d.states, "dialed OnOpen").NegotiatedProtocol; got != "h2" {
		t.Fatalf("dialed ALPN %q, want h2", got)
	}
	if got := recv(t, r.states, "OnOpen").NegotiatedProtocol; got != "h2" {
		t.Fatalf("server ALPN %q, want h2", got)
	}
}

// TestTLSSNIGetCertificate: the server picks its certificate by the name
// the client asks for, with GetCertificate and with GetConfigForClient;
// the client verifies the name.
func TestTLSSNIGetCertificate(t *testing.T) {
	p := certs(t)
	byName := func(name string) *tls.Certificate {
		if name == "other.test" {
			return &p.other
		}
		return &p.leaf
	}
	configs := map[string]*tls.Config{
		"GetCertificate": {GetCertificate: func(hi *tls.ClientHelloInfo) (*tls.Certificate, error) {
			return byName(hi.ServerName), nil
		}},
		"GetConfigForClient": {GetConfigForClient: func(hi *tls.ClientHelloInfo) (*tls.Config, error) {
			return &tls.Config{Certificates: []tls.Certificate{*byName(hi.ServerName)}}, nil
		}},
	}
	for name, scfg := range configs {
		t.Run(name, func(t *testing.T) {
			e := newEngine(t, Options{Loops: 1})
			r := newTLSRecorder()
			ln := listenTLS(t, e, r, &ListenConfig{TLSConfig: scfg})
			for _, sni := range []string{"other.test", "example.test"} {
				c := dialGoTLS(t, ln, p.clientConfig(sni))
				if got := recv(t, r.states, "OnOpen").ServerName; got != sni {
					t.Fatalf("server saw SNI %q, want %q", got, sni)
				}
				if cn := c.ConnectionState().PeerCertificates[0].Subject.CommonName; cn != byName(sni).Leaf.Subject.CommonName {
					t.Fatalf("SNI %q: certificate %q", sni, cn)
				}
			}
		})
	}
}

// TestTLSSessionResumption: with a ClientSessionCache, the second
// connection resumes the first one's session from its ticket, TLS 1.2 and
// 1.3: Go's client against the engine's server, and the engine's dial
// against it too. The first connection's echo makes sure the client has
// read the tickets, which come after the handshake.
func TestTLSSessionResumption(t *testing.T) {
	for _, v := range []uint16{tls.VersionTLS12, tls.VersionTLS13} {
		t.Run(tls.VersionName(v), func(t *testing.T) {
			e := newEngine(t, Options{Loops: 1})
			p := certs(t)
			r := newTLSRecorder()
			r.onData = func(c *Conn, in []byte) int { c.Write(in); return len(in) }
			ln := listenTLS(t, e, r, nil)
			ccfg := p.clientConfig("localhost")
			ccfg.MaxVersion = v
			ccfg.ClientSessionCache = tls.NewLRUClientSessionCache(8)
			for i, want := range []bool{false, true} {
				c := dialGoTLS(t, ln, ccfg)
				echoCheck(t, c, []byte("ticket"))
				if c.ConnectionState().DidResume != want || recv(t, r.states, "OnOpen").DidResume != want {
					t.Fatalf("Go client, connection %d: DidResume %v, want %v", i, c.ConnectionState().DidResume, want)
				}
			}

			ccfg = p.clientConfig("localhost")
			ccfg.MaxVersion = v
			ccfg.ClientSessionCache = tls.NewLRUClientSessionCache(8)
			for i, want := range []bool{false, true} {
				d := newTLSRecorder()
				data := collect(d.recorder)
				c, err := e.Dial(context.Background(), "tcp", ln.Addr().String(), d, &DialConfig{TLSConfig: ccfg})
				if err != nil {
					t.Fatalf("Dial: %v", err)
				}
				c.Write([]byte("ticket"))
				readN(t, data, 6)
				if got := recv(t, d.states, "dialed OnOpen").DidResume; got != want {
					t.Fatalf("engine client, connection %d: DidResume %v, want %v", i, got, want)
				}
				recv(t, r.states, "OnOpen")
			}
		})
	}
}

// TestTLSConnectionStateOnlyAfterHandshake: ConnectionState reports ok
// false for a connection without TLS, and for a dial whose handshake has
// not completed.
func TestTLSConnectionStateOnlyAfterHandshake(t *testing.T) {
	e := newEngine(t, Options{Loops: 1})
	_, _, plain := connect(t, e)
	if _, ok := plain.ConnectionState(); ok {
		t.Fatal("ConnectionState ok on a connection without TLS")
	}
	silent, accepted := silentServer(t)
	r := newRecorder()
	c, err := e.DialAsync("tcp", silent, r, &DialConfig{TLSConfig: certs(t).clientConfig("localhost")})
	if err != nil {
		t.Fatal(err)
	}
	recv(t, recv(t, accepted, "connection"), "ClientHello") // the handshake is under way
	if _, ok := c.ConnectionState(); ok {
		t.Fatal("ConnectionState ok during the handshake")
	}
	c.Close()
	recv(t, r.closed, "OnClose")
}

// silentServer accepts TCP connections and never answers. Its channel
// gets, per connection, a channel closed once the client's first bytes
// (its ClientHello) arrived; the connection is then read to its end.
func silentServer(t *testing.T) (string, chan chan struct{}) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	accepted := make(chan chan struct{}, 16)
	var wg sync.WaitGroup
	var mu sync.Mutex
	var conns []net.Conn
	wg.Go(func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			mu.Lock()
			conns = append(conns, c)
			mu.Unlock()
			hello := make(chan struct{})
			accepted <- hello
			wg.Go(func() {
				buf := make([]byte, 4096)
				if _, err := c.Read(buf); err == nil {
					close(hello)
				}
				io.Copy(io.Discard, c)
			})
		}
	})
	t.Cleanup(func() {
		ln.Close()
		mu.Lock()
		for _, c := range conns {
			c.Close()
		}
		mu.Unlock()
		wg.Wait()
	})
	return ln.Addr().String(), accepted
}

//go:build linux

package epollnet

import (
	"context"
	"crypto/tls"
	"errors"
	"net"
	"path/filepath"
	"testing"
	"time"
)

// tlsEchoBothWays serves TLS echo on network/address and checks it with
// Go's crypto/tls client over package net and with the engine's own TLS
// dial, each echoing and seeing a complete handshake with the server's
// certificate, then closing; nothing is left open afterwards.
func tlsEchoBothWays(t *testing.T, e *Engine, ln *Listener, srv *tlsRecorder, dialCfg *tls.Config) {
	t.Helper()
	network, address := ln.Addr().Network(), ln.Addr().String()

	gc, err := tls.DialWithDialer(&net.Dialer{Timeout: 10 * time.Second}, network, address, dialCfg)
	if err != nil {
		t.Fatalf("tls.Dial %s %s: %v", network, address, err)
	}
	echoCheck(t, gc, []byte("hello from crypto/tls"))
	if cs := recv(t, srv.states, "the server's OnOpen"); !cs.HandshakeComplete {
		t.Fatal("the server's OnOpen came before the handshake completed")
	}
	gc.Close()
	recv(t, srv.closed, "the server's OnClose")

	cli := newTLSRecorder()
	data := collect(cli.recorder)
	c, err := e.Dial(context.Background(), network, address, cli, &DialConfig{TLSConfig: dialCfg})
	if err != nil {
		t.Fatalf("Dial %s %s: %v", network, address, err)
	}
	if cs := recv(t, cli.states, "the dial's OnOpen"); !cs.HandshakeComplete || len(cs.PeerCertificates) == 0 {
		t.Fatalf("dial's state: complete %v, %d peer certificates", cs.HandshakeComplete, len(cs.PeerCertificates))
	}
	recv(t, srv.states, "the server's OnOpen")
	c.Write([]byte("hello from the engine"))
	if got := readN(t, data, 21); string(got) != "hello from the engine" {
		t.Fatalf("echo: %q", got)
	}
	c.Close()
	recv(t, cli.closed, "the dial's OnClose")
	recv(t, srv.closed, "the server's OnClose")
	syncLoops(e)
	if st := e.Stats().Total; st.Conns != 0 || st.TLSHandshakes != 3 || st.TLSHandshakeErrors != 0 {
		t.Fatalf("Conns %d, TLSHandshakes %d, TLSHandshakeErrors %d", st.Conns, st.TLSHandshakes, st.TLSHandshakeErrors)
	}
}

// TestTLSOverUnixSocket: a TLS listener on a Unix-domain socket serves
// Go's crypto/tls client and the engine's TLS dial over "unix"; the
// dial's ServerName comes from its configuration, as a socket path has no
// host.
func TestTLSOverUnixSocket(t *testing.T) {
	e := newEngine(t, Options{Loops: 1})
	srv := newTLSRecorder()
	srv.onData = func(c *Conn, in []byte) int { c.Write(in); return len(in) }
	path := filepath.Join(t.TempDir(), "tls.sock")
	ln, err := e.Listen("unix", path, srv, &ListenConfig{TLSConfig: certs(t).serverConfig()})
	if err != nil {
		t.Fatalf("Listen unix: %v", err)
	}
	tlsEchoBothWays(t, e, ln, srv, certs(t).clientConfig("localhost"))
}

// TestTLSDialUnixNeedsServerName: a TLS dial over "unix" without
// ServerName (nor InsecureSkipVerify) fails its handshake with crypto/tls's
// own complaint, as tls.Dial does: there is no host to default it to.
func TestTLSDialUnixNeedsServerName(t *testing.T) {
	e := newEngine(t, Options{Loops: 1})
	path := filepath.Join(t.TempDir(), "tls.sock")
	ln, err := e.Listen("unix", path, newRecorder(), &ListenConfig{TLSConfig: certs(t).serverConfig(),
		OnTLSError: newTLSFailures().hook})
	if err != nil {
		t.Fatalf("Listen unix: %v", err)
	}
	r := newRecorder()
	_, err = e.Dial(context.Background(), "unix", ln.Addr().String(), r, &DialConfig{TLSConfig: &tls.Config{RootCAs: certs(t).pool}})
	if !errors.Is(err, ErrTLSHandshake) || Classify(err) != ClassTLS {
		t.Fatalf("Dial: %v (class %v), want ErrTLSHandshake", err, Classify(err))
	}
	recv(t, r.closed, "OnClose")
}

// TestTLSOverIPv6: the same over ::1, whose address is in the test
// certificate.
func TestTLSOverIPv6(t *testing.T) {
	e := newEngine(t, Options{Loops: 1})
	srv := newTLSRecorder()
	srv.onData = func(c *Conn, in []byte) int { c.Write(in); return len(in) }
	ln, err := e.Listen("tcp6", "[::1]:0", srv, &ListenConfig{TLSConfig: certs(t).serverConfig()})
	if err != nil {
		t.Skipf("no IPv6 loopback (::1) on this machine: %v", err)
	}
	// No ServerName: the dial defaults it to the host, "::1", which the
	// certificate names as an IP address.
	tlsEchoBothWays(t, e, ln, srv, &tls.Config{RootCAs: certs(t).pool})
}

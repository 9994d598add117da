//go:build linux

package epollnet

import (
	"context"
	"crypto/tls"
	"errors"
	"net"
	"strings"
	"sync"
	"testing"
	"time"
)

var (
	foreignOnce sync.Once
	foreign     *testPKI
	foreignErr  error
)

// foreignCert is a certificate for localhost from another authority than
// the tests' own: a client certificate the server must refuse.
func foreignCert(t *testing.T) tls.Certificate {
	t.Helper()
	foreignOnce.Do(func() { foreign, foreignErr = newTestPKI() })
	if foreignErr != nil {
		t.Fatalf("making certificates: %v", foreignErr)
	}
	return foreign.leaf
}

// mutualServerConfig requires a client certificate from the tests' CA.
func mutualServerConfig(t *testing.T, version uint16) *tls.Config {
	cfg := certs(t).serverConfig()
	cfg.ClientAuth = tls.RequireAndVerifyClientCert
	cfg.ClientCAs = certs(t).pool
	cfg.MaxVersion = version
	return cfg
}

// mutualClientConfig presents certs (none if nil).
func mutualClientConfig(t *testing.T, version uint16, cert *tls.Certificate) *tls.Config {
	cfg := certs(t).clientConfig("localhost")
	cfg.MaxVersion = version
	if cert != nil {
		cfg.Certificates = []tls.Certificate{*cert}
	}
	return cfg
}

var tlsVersions = map[string]uint16{"tls1.2": tls.VersionTLS12, "tls1.3": tls.VersionTLS13}

// TestTLSMutualAuthAccepts: with ClientAuth RequireAndVerifyClientCert, a
// client with a certificate from ClientCAs opens, and each side sees the
// other's certificate in ConnectionState: Go's client and the engine's
// dial, TLS 1.2 and 1.3.
func TestTLSMutualAuthAccepts(t *testing.T) {
	for name, v := range tlsVersions {
		t.Run(name, func(t *testing.T) {
			e := newEngine(t, Options{Loops: 1})
			srv := newTLSRecorder()
			ln := listenTLS(t, e, srv, &ListenConfig{TLSConfig: mutualServerConfig(t, v)})
			leaf := certs(t).leaf
			gc := dialGoTLS(t, ln, mutualClientConfig(t, v, &leaf))
			if cs := recv(t, srv.states, "the server's OnOpen"); len(cs.PeerCertificates) != 1 || cs.Version != v {
				t.Fatalf("server: %d peer certificates, version %x", len(cs.PeerCertificates), cs.Version)
			}
			if cs := gc.ConnectionState(); len(cs.PeerCertificates) == 0 {
				t.Fatal("Go client: no peer certificates")
			}
			gc.Close()
			recv(t, srv.closed, "the server's OnClose")

			cli := newTLSRecorder()
			c, err := e.Dial(context.Background(), "tcp", ln.Addr().String(), cli,
				&DialConfig{TLSConfig: mutualClientConfig(t, v, &leaf)})
			if err != nil {
				t.Fatalf("Dial: %v", err)
			}
			if cs := recv(t, cli.states, "the dial's OnOpen"); len(cs.PeerCertificates) == 0 {
				t.Fatal("dial: no peer certificates")
			}
			cs := recv(t, srv.states, "the server's OnOpen")
			if len(cs.PeerCertificates) != 1 || !cs.PeerCertificates[0].Equal(leaf.Leaf) {
				t.Fatalf("server: peer certificates %d", len(cs.PeerCertificates))
			}
			c.Close()
			recv(t, cli.closed, "the dial's OnClose")
			recv(t, srv.closed, "the server's OnClose")
			if st := e.Stats().Total; st.TLSHandshakeErrors != 0 || st.TLSHandshakes != 3 {
				t.Fatalf("TLSHandshakes %d, TLSHandshakeErrors %d", st.TLSHandshakes, st.TLSHandshakeErrors)
			}
		})
	}
}

// isRemoteAlert reports whether err carries a TLS alert the peer sent
// (crypto/tls's "remote error: tls: ..."), rather than EOF or a reset.
func isRemoteAlert(err error) bool {
	if oe, ok := err.(*net.OpError); ok && oe.Op == "remote error" && strings.HasPrefix(oe.Err.Error(), "tls: ") {
		return true
	}
	switch u := err.(type) {
	case interface{ Unwrap() error }:
		return isRemoteAlert(u.Unwrap())
	case interface{ Unwrap() []error }:
		for _, e := range u.Unwrap() {
			if isRemoteAlert(e) {
				return true
			}
		}
	}
	return false
}

// TestTLSMutualAuthRefuses: a client without a certificate, or with one
// from another authority, is refused. The server reports ErrTLSHandshake
// to OnTLSError, and the client gets the server's alert. With TLS 1.2 the
// refusal comes within the client's handshake: the engine's dial fails
// with ErrTLSHandshake, ClassTLS. With TLS 1.3 the client's handshake is
// over before the server has checked its certificate (as with tls.Dial):
// the dial opens, and its first read meets the alert, which closes it with
// ErrTLSRecord, ClassTLS. Nothing is left open.
func TestTLSMutualAuthRefuses(t *testing.T) {
	wrong := foreignCert(t)
	for name, v := range tlsVersions {
		for cname, cert := range map[string]*tls.Certificate{"no-cert": nil, "foreign-cert": &wrong} {
			t.Run(name+"/"+cname, func(t *testing.T) {
				e := newEngine(t, Options{Loops: 1})
				f := newTLSFailures()
				srv := newRecorder()
				ln := listenTLS(t, e, srv, &ListenConfig{TLSConfig: mutualServerConfig(t, v), OnTLSError: f.hook})
				expectServerRefusal := func(who string) {
					t.Helper()
					if err := recv(t, f.ch, "OnTLSError"); !errors.Is(err, ErrTLSHandshake) || Classify(err) != ClassTLS {
						t.Fatalf("%s: OnTLSError %v (class %v)", who, err, Classify(err))
					}
				}

				// Go's client.
				gc, err := tls.DialWithDialer(&net.Dialer{Timeout: 10 * time.Second}, "tcp", ln.Addr().String(),
					mutualClientConfig(t, v, cert))
				if err == nil {
					gc.SetReadDeadline(time.Now().Add(10 * time.Second))
					_, err = gc.Read(make([]byte, 1))
					gc.Close()
				}
				if !isRemoteAlert(err) {
					t.Fatalf("Go client: %v, want the server's alert", err)
				}
				expectServerRefusal("Go client")

				// The engine's dial.
				cli := newRecorder()
				c, err := e.Dial(context.Background(), "tcp", ln.Addr().String(), cli,
					&DialConfig{TLSConfig: mutualClientConfig(t, v, cert)})
				if v == tls.VersionTLS12 {
					if c != nil || !errors.Is(err, ErrTLSHandshake) || Classify(err) != ClassTLS || !isRemoteAlert(err) {
						t.Fatalf("TLS 1.2 dial: %v (class %v), want ErrTLSHandshake with the server's alert", err, Classify(err))
					}
				} else {
					if err != nil {
						t.Fatalf("TLS 1.3 dial: %v", err)
					}
					recv(t, cli.opened, "the dial's OnOpen")
					err = recv(t, cli.closed, "the dial's OnClose")
					if !errors.Is(err, ErrTLSRecord) || Classify(err) != ClassTLS || !isRemoteAlert(err) {
						t.Fatalf("TLS 1.3 dial closed with %v (class %v), want ErrTLSRecord with the server's alert", err, Classify(err))
					}
				}
				expectServerRefusal("the engine's dial")

				ln.Close()
				syncLoops(e)
				if len(srv.opened) != 0 || len(srv.closed) != 0 {
					t.Fatal("the server's handler saw a refused connection")
				}
				if st := e.Stats().Total; st.Conns != 0 || st.Registered != 0 {
					t.Fatalf("left open: Conns %d, Registered %d", st.Conns, st.Registered)
				}
			})
		}
	}
}

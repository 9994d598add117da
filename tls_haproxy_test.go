//go:build linux

package epollnet

import (
	"context"
	"crypto/ecdsa"
	"crypto/x509"
	"encoding/pem"
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/epollnet/epollnet/internal/nettest"
)

// TestTLSWithHAProxyOnBothSides runs HAProxy (OpenSSL) as a TLS client of
// an epollnet TLS listener (backend "ssl verify required") and as a TLS
// server in front of a plain epollnet echo listener ("bind ... ssl crt"),
// which the engine dials with DialConfig.TLSConfig. Bytes go through both
// ways intact, and each side verifies the other's certificate chain.
func TestTLSWithHAProxyOnBothSides(t *testing.T) {
	bin := nettest.NeedProgram(t, "haproxy", "haproxy")
	p := certs(t)
	dir := t.TempDir()
	ca, crt := filepath.Join(dir, "ca.pem"), filepath.Join(dir, "leaf.pem")
	if err := os.WriteFile(ca, p.caPEM, 0o600); err != nil {
		t.Fatal(err)
	}
	keyDER, err := x509.MarshalECPrivateKey(p.leaf.PrivateKey.(*ecdsa.PrivateKey))
	if err != nil {
		t.Fatal(err)
	}
	leafPEM := append(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: p.leaf.Certificate[0]}),
		pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: keyDER})...)
	if err := os.WriteFile(crt, leafPEM, 0o600); err != nil {
		t.Fatal(err)
	}

	e := newEngine(t, Options{Loops: 1})
	tlsEcho := listenTLS(t, e, echoHandler{}, nil) // HAProxy's TLS backend
	plainEcho := listen(t, e, echoHandler{}, nil)  // behind HAProxy's TLS frontend
	toTLS, fromTLS := freePort(t), freePort(t)
	startHAProxy(t, bin, fmt.Sprintf(`global
	maxconn 100
defaults
	mode tcp
	timeout connect 5s
	timeout client 30s
	timeout server 30s
frontend plain_in
	bind 127.0.0.1:%d
	default_backend tls_out
backend tls_out
	server s %s ssl verify required ca-file %s sni str(localhost)
frontend tls_in
	bind 127.0.0.1:%d ssl crt %s
	default_backend plain_out
backend plain_out
	server s %s
`, toTLS, tlsEcho.Addr(), ca, fromTLS, crt, plainEcho.Addr()))

	t.Run("HAProxy as the client", func(t *testing.T) {
		c := dialHAProxy(t, toTLS)
		defer c.Close()
		roundTrip(t, c, []byte("through HAProxy's OpenSSL client"), []byte("through HAProxy's OpenSSL client"))
	})
	t.Run("HAProxy as the server", func(t *testing.T) {
		dialHAProxy(t, fromTLS).Close() // HAProxy listens
		r := newRecorder()
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		c, err := e.Dial(ctx, "tcp", fmt.Sprintf("127.0.0.1:%d", fromTLS), r,
			&DialConfig{TLSConfig: p.clientConfig("localhost")})
		if err != nil {
			t.Fatalf("dial HAProxy's TLS frontend: %v", err)
		}
		st, ok := c.ConnectionState()
		if !ok || !st.HandshakeComplete {
			t.Fatalf("ConnectionState %+v, %v", st, ok)
		}
		const msg = "through HAProxy's OpenSSL server"
		c.Write([]byte(msg))
		waitFor(t, func() bool { return string(r.bytes()) == msg }, "the echo through HAProxy")
		c.Close()
		recv(t, r.closed, "OnClose")
	})
}

//go:build linux

package epollnet

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"net"
	"sync"
	"testing"
	"time"
)

// testPKI is a certificate authority and leaf certificates made for the
// tests with crypto/x509: ECDSA P-256, so that making them is quick.
type testPKI struct {
	ca      *x509.Certificate
	caKey   *ecdsa.PrivateKey
	pool    *x509.CertPool
	caPEM   []byte
	leaf    tls.Certificate // 127.0.0.1, ::1, localhost and example.test; a client's too
	other   tls.Certificate // other.test only
	expired tls.Certificate // 127.0.0.1 and localhost, expired yesterday
}

var (
	pkiOnce sync.Once
	pki     *testPKI
	pkiErr  error
)

// certs returns the tests' PKI, made once per process.
func certs(t testing.TB) *testPKI {
	t.Helper()
	pkiOnce.Do(func() { pki, pkiErr = newTestPKI() })
	if pkiErr != nil {
		t.Fatalf("making certificates: %v", pkiErr)
	}
	return pki
}

func newTestPKI() (*testPKI, error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, err
	}
	now := time.Now()
	tmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(1),
		Subject:               pkix.Name{CommonName: "epollnet test CA"},
		NotBefore:             now.Add(-time.Hour),
		NotAfter:              now.Add(24 * time.Hour),
		IsCA:                  true,
		BasicConstraintsValid: true,
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageDigitalSignature,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		return nil, err
	}
	ca, err := x509.ParseCertificate(der)
	if err != nil {
		return nil, err
	}
	p := &testPKI{ca: ca, caKey: key, pool: x509.NewCertPool(),
		caPEM: pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})}
	p.pool.AddCert(ca)
	local := []string{"localhost", "example.test"}
	ips := []net.IP{net.IPv4(127, 0, 0, 1), net.IPv6loopback}
	if p.leaf, err = p.issue(2, local, ips, now.Add(-time.Hour), now.Add(24*time.Hour)); err != nil {
		return nil, err
	}
	if p.other, err = p.issue(3, []string{"other.test"}, nil, now.Add(-time.Hour), now.Add(24*time.Hour)); err != nil {
		return nil, err
	}
	if p.expired, err = p.issue(4, local, ips, now.Add(-48*time.Hour), now.Add(-24*time.Hour)); err != nil {
		return nil, err
	}
	return p, nil
}

// issue makes a certificate signed by the CA, good for a server and for a
// client (mutual TLS).
func (p *testPKI) issue(serial int64, names []string, ips []net.IP, from, until time.Time) (tls.Certificate, error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return tls.Certificate{}, err
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(serial),
		Subject:      pkix.Name{CommonName: names[0]},
		DNSNames:     names,
		IPAddresses:  ips,
		NotBefore:    from,
		NotAfter:     until,
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth, x509.ExtKeyUsageClientAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, p.ca, &key.PublicKey, p.caKey)
	if err != nil {
		return tls.Certificate{}, err
	}
	leaf, err := x509.ParseCertificate(der)
	if err != nil {
		return tls.Certificate{}, err
	}
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key, Leaf: leaf}, nil
}

// serverConfig serves the leaf certificate.
func (p *testPKI) serverConfig() *tls.Config {
	return &tls.Config{Certificates: []tls.Certificate{p.leaf}}
}

// clientConfig trusts the CA and expects name.
func (p *testPKI) clientConfig(name string) *tls.Config {
	return &tls.Config{RootCAs: p.pool, ServerName: name}
}

// tlsFailures collects what ListenConfig.OnTLSError reports.
type tlsFailures struct{ ch chan error }

func newTLSFailures() *tlsFailures { return &tlsFailures{ch: make(chan error, 64)} }

func (f *tlsFailures) hook(peer net.Addr, err error) { f.ch <- err }

// listenTLS starts a TLS listener served by h on 127.0.0.1:0.
func listenTLS(t *testing.T, e *Engine, h Handler, cfg *ListenConfig) *Listener {
	t.Helper()
	if cfg == nil {
		cfg = &ListenConfig{}
	}
	if cfg.TLSConfig == nil {
		cfg.TLSConfig = certs(t).serverConfig()
	}
	return listen(t, e, h, cfg)
}

// dialGoTLS connects Go's crypto/tls client to ln and completes the
// handshake.
func dialGoTLS(t *testing.T, ln *Listener, cfg *tls.Config) *tls.Conn {
	t.Helper()
	if cfg == nil {
		cfg = certs(t).clientConfig("localhost")
	}
	d := &net.Dialer{Timeout: 10 * time.Second}
	c, err := tls.DialWithDialer(d, "tcp", ln.Addr().String(), cfg)
	if err != nil {
		t.Fatalf("tls.Dial: %v", err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

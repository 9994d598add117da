package trace

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"fmt"
	"math/big"
	"net"
	"time"

	"github.com/epollnet/epollnet"
)

// runTLS is the ok exchange over TLS 1.3: the listener serves a throwaway
// certificate made for this run, and the client trusts that certificate
// alone.
func runTLS(ctx context.Context, s *session) error {
	srvTLS, roots, err := throwawayCert()
	if err != nil {
		return err
	}
	ln, err := s.eng.Listen("tcp", "127.0.0.1:0", &server{mode: replyAtOnce, closes: s.closes},
		&epollnet.ListenConfig{TLSConfig: srvTLS})
	if err != nil {
		return err
	}
	addr := ln.Addr().String()
	dial := &epollnet.DialConfig{TLSConfig: &tls.Config{ServerName: "localhost", RootCAs: roots,
		MinVersion: tls.VersionTLS13}}
	cl := &client{request: request, closeOnReply: true, closes: s.closes}
	if _, err := s.eng.DialAsync("tcp", addr, cl, dial); err != nil {
		return err
	}
	s.d.Subtitle = fmt.Sprintf("The ok exchange over TLS 1.3 on loopback, %s, with a throwaway certificate "+
		"for localhost: send %q, read the reply, close.", addr, request)
	return s.waitCloses(ctx, 2)
}

// throwawayCert makes a self-signed ECDSA P-256 certificate for localhost
// and 127.0.0.1, valid for a day, in memory: the server's configuration
// (TLS 1.3 only) and a pool that trusts it.
func throwawayCert() (*tls.Config, *x509.CertPool, error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, nil, err
	}
	now := time.Now()
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "epollnet trace"},
		NotBefore: now.Add(-time.Hour), NotAfter: now.Add(24 * time.Hour),
		DNSNames: []string{"localhost"}, IPAddresses: []net.IP{net.IPv4(127, 0, 0, 1)},
		KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		return nil, nil, err
	}
	leaf, err := x509.ParseCertificate(der)
	if err != nil {
		return nil, nil, err
	}
	roots := x509.NewCertPool()
	roots.AddCert(leaf)
	cfg := &tls.Config{Certificates: []tls.Certificate{{Certificate: [][]byte{der}, PrivateKey: key, Leaf: leaf}},
		MinVersion: tls.VersionTLS13}
	return cfg, roots, nil
}

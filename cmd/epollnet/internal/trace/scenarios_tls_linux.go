//go:build !epollnet_portable

package trace

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"fmt"

	"github.com/epollnet/epollnet"
	"github.com/epollnet/epollnet/cmd/epollnet/internal/cli"
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

// throwawayCert is the server's configuration (TLS 1.3 only) with a
// throwaway certificate, and a pool that trusts it.
func throwawayCert() (*tls.Config, *x509.CertPool, error) {
	cert, roots, err := cli.ThrowawayCert("epollnet trace")
	if err != nil {
		return nil, nil, err
	}
	return &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS13}, roots, nil
}

package main

import (
	"crypto/tls"
	"errors"
	"net"
	"net/http"

	"github.com/epollnet/epollnet"
	ltls "github.com/lesismal/llib/std/crypto/tls"
	"github.com/lesismal/nbio/logging"
	"github.com/lesismal/nbio/nbhttp"
)

// The HTTPS servers serve the plaintext responses of their HTTP servers
// over TLS 1.3 with the certificate of -cert and -key. Each keeps its TLS
// stack's defaults otherwise (session tickets on, its own cipher suite
// preference), and offers no ALPN protocol but http/1.1: the suite's
// clients speak HTTP/1.1 only.

// errNoCert is returned when an HTTPS server has no certificate.
var errNoCert = errors.New("https needs -cert and -key")

// tlsConfig is the configuration of the crypto/tls servers (epollnet and
// net/http).
func tlsConfig(cfg config) (*tls.Config, error) {
	if cfg.certFile == "" || cfg.keyFile == "" {
		return nil, errNoCert
	}
	cert, err := tls.LoadX509KeyPair(cfg.certFile, cfg.keyFile)
	if err != nil {
		return nil, err
	}
	return &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS13,
		NextProtos: []string{"http/1.1"}}, nil
}

// epollnetHTTPS is the epollnet HTTP server with ListenConfig.TLSConfig:
// the same handler, which sees plaintext.
func epollnetHTTPS(cfg config, _ chan<- error) error {
	tc, err := tlsConfig(cfg)
	if err != nil {
		return err
	}
	e, err := epollnet.New(epollnet.Options{Loops: cfg.loops})
	if err != nil {
		return err
	}
	_, err = e.Listen("tcp", cfg.addr, epollnetHTTPHandler{},
		&epollnet.ListenConfig{ReusePort: cfg.loops > 1 && !cfg.oneListener, TLSConfig: tc})
	return err
}

// netHTTPS is net/http over crypto/tls: http.Server's ServeTLS, with
// HTTP/2 off (TLSNextProto empty), as the clients speak HTTP/1.1.
func netHTTPS(cfg config, errc chan<- error) error {
	tc, err := tlsConfig(cfg)
	if err != nil {
		return err
	}
	ln, err := net.Listen("tcp", cfg.addr)
	if err != nil {
		return err
	}
	srv := &http.Server{Handler: http.HandlerFunc(plaintextHandler), TLSConfig: tc,
		TLSNextProto: map[string]func(*http.Server, *tls.Conn, http.Handler){}}
	go func() { errc <- srv.ServeTLS(ln, "", "") }()
	return nil
}

// nbhttpsServe is nbhttp's HTTPS engine (AddrsTLS), whose TLS is nbio's
// non-blocking fork of crypto/tls (lesismal/llib), with nbhttp's default
// executor, its goroutine pool. The inline executor of nbhttpServe
// deadlocks here: a response to "Connection: close" closes the connection
// inside the parser, whose close handler, run inline too, then waits for
// the parser's own lock, and the poller goroutine, with every connection
// on it, stops for good.
func nbhttpsServe(cfg config, _ chan<- error) error {
	if cfg.certFile == "" || cfg.keyFile == "" {
		return errNoCert
	}
	cert, err := ltls.LoadX509KeyPair(cfg.certFile, cfg.keyFile)
	if err != nil {
		return err
	}
	logging.SetLevel(logging.LevelNone)
	e := nbhttp.NewEngine(nbhttp.Config{
		Network:  "tcp",
		AddrsTLS: []string{cfg.addr},
		NPoller:  cfg.loops,
		TLSConfig: &ltls.Config{Certificates: []ltls.Certificate{cert}, MinVersion: ltls.VersionTLS13,
			NextProtos: []string{"http/1.1"}},
		Handler: http.HandlerFunc(plaintextHandler),
	})
	return e.Start()
}

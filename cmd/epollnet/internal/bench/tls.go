package bench

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"net"
	"strings"

	"github.com/epollnet/epollnet/cmd/epollnet/internal/cli"
)

// tlsOptions are bench's TLS flags.
type tlsOptions struct {
	on       bool     // --tls: a TLS client (DialConfig.TLSConfig)
	insecure bool     // --insecure: do not verify the server's certificate
	sni      string   // --sni: the server name to send and verify; "" for the target's host
	alpn     []string // --alpn: protocols to offer; http offers http/1.1 by default
}

// validateTLS checks that the TLS flags come with --tls.
func (o *benchOptions) validateTLS(set map[string]bool, alpn string) error {
	for _, name := range []string{"insecure", "sni", "alpn"} {
		if set[name] && !o.tls.on {
			return errors.New("--" + name + " applies with --tls only")
		}
	}
	if o.tls.on && strings.HasPrefix(o.target, "unix:") && o.tls.sni == "" && !o.tls.insecure {
		return errors.New("--tls to a Unix socket needs --sni (the name to verify) or --insecure")
	}
	if alpn != "" {
		for _, p := range strings.Split(alpn, ",") {
			if p = strings.TrimSpace(p); p == "" || len(p) > 255 {
				return errors.New("--alpn: want a comma-separated list of protocol names, such as h2,http/1.1")
			}
			o.tls.alpn = append(o.tls.alpn, p)
		}
	}
	return nil
}

// clientTLS is the client's TLS configuration, or nil without --tls. One
// session cache serves every connection, so that a new connection (with
// --requests-per-conn) resumes its session, as browsers and HTTP clients
// do; the report counts resumed and full handshakes apart. roots trusts the
// in-process server's certificate.
func (o *benchOptions) clientTLS(target string, roots *x509.CertPool) *tls.Config {
	if !o.tls.on {
		return nil
	}
	cfg := &tls.Config{InsecureSkipVerify: o.tls.insecure, ServerName: o.tls.sni, RootCAs: roots,
		NextProtos: o.tls.alpn, ClientSessionCache: tls.NewLRUClientSessionCache(max(o.conns, 64))}
	if cfg.NextProtos == nil && o.proto == cli.ProtoHTTP {
		cfg.NextProtos = []string{"http/1.1"}
	}
	if cfg.ServerName == "" {
		if host, _, err := net.SplitHostPort(target); err == nil {
			cfg.ServerName = host
		}
	}
	return cfg
}

// tlsReport is the JSON report's TLS part.
type tlsReport struct {
	Version string `json:"version"`
	ALPN    string `json:"alpn"`
	Full    uint64 `json:"full_handshakes"`
	Resumed uint64 `json:"resumed_handshakes"`
}

// tlsCounts are one loop's TLS handshakes, and what the first negotiated.
type tlsCounts struct {
	full, resumed uint64
	version, alpn string
}

// opened records the handshake of a connection that opened in the window.
func (t *tlsCounts) opened(st tls.ConnectionState) {
	if st.DidResume {
		t.resumed++
	} else {
		t.full++
	}
	if t.version == "" {
		t.version, t.alpn = tls.VersionName(st.Version), st.NegotiatedProtocol
	}
}

// add sums another loop's counts into t.
func (t *tlsCounts) add(o tlsCounts) {
	t.full += o.full
	t.resumed += o.resumed
	if t.version == "" {
		t.version, t.alpn = o.version, o.alpn
	}
}

// text is the report's TLS line.
func (t tlsCounts) text() string {
	s := t.version
	if t.alpn != "" {
		s += ", ALPN " + t.alpn
	}
	return s + ": " + cli.Count(t.full) + " full handshakes, " + cli.Count(t.resumed) + " resumed"
}

// localCert is the in-process server's configuration, with a throwaway
// certificate, and a pool that trusts it.
func localCert() (*tls.Config, *x509.CertPool, error) {
	cert, roots, err := cli.ThrowawayCert("epollnet bench")
	if err != nil {
		return nil, nil, err
	}
	return &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12,
		NextProtos: []string{"http/1.1"}}, roots, nil
}

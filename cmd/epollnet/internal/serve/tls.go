package serve

import (
	"crypto/tls"
	"errors"
	"fmt"

	"github.com/epollnet/epollnet/cmd/epollnet/internal/cli"
)

// validateTLS checks --tls-cert and --tls-key, which go together. The
// files are read when the server starts (tlsConfig), so that a restart
// picks up renewed certificates.
func (o *serveOptions) validateTLS() error {
	if (o.tlsCert == "") != (o.tlsKey == "") {
		return errors.New("--tls-cert and --tls-key go together: give both, or neither")
	}
	return nil
}

// tlsConfig loads the certificate and key and returns the listeners' TLS
// configuration, or nil without --tls-cert. TLS 1.2 is the oldest version
// offered; http announces http/1.1 with ALPN, so a client that offers h2
// and http/1.1 settles on the one this server speaks.
func (o *serveOptions) tlsConfig() (*tls.Config, error) {
	if o.tlsPreset != nil {
		return o.tlsPreset, nil
	}
	if o.tlsCert == "" {
		return nil, nil
	}
	cert, err := tls.LoadX509KeyPair(o.tlsCert, o.tlsKey)
	if err != nil {
		return nil, fmt.Errorf("--tls-cert %s, --tls-key %s: %w", o.tlsCert, o.tlsKey, err)
	}
	cfg := &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12}
	if o.proto == cli.ProtoHTTP {
		cfg.NextProtos = []string{"http/1.1"}
	}
	return cfg, nil
}

package serve

import (
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"net/netip"

	"github.com/epollnet/epollnet"
	"github.com/epollnet/epollnet/cmd/epollnet/internal/cli"
	"github.com/epollnet/epollnet/cmd/epollnet/internal/daemon"
)

// deployOptions are serve's flags for running in production.
type deployOptions struct {
	metrics       string         // --metrics: HOST:PORT of the Prometheus endpoint, "" for none
	logLevel      string         // --log-level: debug, info, warn, error or off
	proxyProtocol bool           // --proxy-protocol: connections begin with a PROXY header
	trusted       []netip.Prefix // --trusted, repeatable: proxies allowed to send one
	pidFile       string         // --pid-file: where to write the pid once ready
	tlsCert       string         // --tls-cert: PEM certificate chain; with tlsKey, serve TLS
	tlsKey        string         // --tls-key: PEM private key
	tlsPreset     *tls.Config    // not a flag: StartLocal's configuration, instead of the files
}

// validateDeploy checks the deployment flags: metrics, logging, PROXY
// protocol.
func (o *serveOptions) validateDeploy() error {
	if o.metrics != "" {
		if _, port, err := net.SplitHostPort(o.metrics); err != nil || port == "" {
			return fmt.Errorf("--metrics %q: want HOST:PORT", o.metrics)
		}
	}
	if _, err := daemon.ParseLogLevel(o.logLevel); err != nil {
		return err
	}
	if err := o.validateTLS(); err != nil {
		return err
	}
	switch {
	case len(o.trusted) > 0 && !o.proxyProtocol:
		return errors.New("--trusted applies with --proxy-protocol only")
	case o.proxyProtocol && len(o.trusted) == 0:
		for _, a := range o.listen {
			if network, _, _ := cli.SplitAddr(a); network == "tcp" {
				return errors.New("--proxy-protocol on TCP needs --trusted: the addresses of the proxies allowed to send the header")
			}
		}
	}
	return nil
}

// proxyConfig is the listeners' PROXY protocol configuration, or nil.
func (o *serveOptions) proxyConfig() *epollnet.ProxyConfig {
	if !o.proxyProtocol {
		return nil
	}
	return &epollnet.ProxyConfig{Trusted: o.trusted}
}

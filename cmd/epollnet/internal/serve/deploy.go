package serve

import (
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/netip"
	"strings"

	"github.com/epollnet/epollnet"
	"github.com/epollnet/epollnet/cmd/epollnet/internal/cli"
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

// parseTrusted parses --trusted values: CIDR prefixes or single
// addresses, each flag one or several separated by commas.
func (o *serveOptions) parseTrusted(vals []string) error {
	for _, v := range vals {
		for _, s := range strings.Split(v, ",") {
			s = strings.TrimSpace(s)
			p, err := netip.ParsePrefix(s)
			if err != nil {
				a, aerr := netip.ParseAddr(s)
				if aerr != nil {
					return fmt.Errorf("--trusted %q: want a CIDR prefix such as 10.0.0.0/8, or an address", s)
				}
				p = netip.PrefixFrom(a, a.BitLen())
			}
			o.trusted = append(o.trusted, p)
		}
	}
	return nil
}

// validateDeploy checks the deployment flags: metrics, logging, PROXY
// protocol.
func (o *serveOptions) validateDeploy() error {
	if o.metrics != "" {
		if _, port, err := net.SplitHostPort(o.metrics); err != nil || port == "" {
			return fmt.Errorf("--metrics %q: want HOST:PORT", o.metrics)
		}
	}
	if _, err := parseLogLevel(o.logLevel); err != nil {
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

// parseLogLevel maps --log-level to a slog level; "off" maps above Error.
func parseLogLevel(s string) (slog.Level, error) {
	switch s {
	case "debug":
		return slog.LevelDebug, nil
	case "info":
		return slog.LevelInfo, nil
	case "warn":
		return slog.LevelWarn, nil
	case "error":
		return slog.LevelError, nil
	case "off":
		return slog.LevelError + 1, nil
	}
	return 0, fmt.Errorf("unknown --log-level %q: want debug, info, warn, error or off", s)
}

// newLogger returns the engine's logger (Options.Logger), writing text
// records to w, or nil for --log-level off. The engine logs little and
// rate-limits it: a listener paused because accept4 ran out of
// descriptors or memory (at most once a second per loop), a failed loop.
func newLogger(level string, w io.Writer) *slog.Logger {
	l, err := parseLogLevel(level)
	if err != nil || level == "off" {
		return nil
	}
	return slog.New(slog.NewTextHandler(w, &slog.HandlerOptions{Level: l}))
}

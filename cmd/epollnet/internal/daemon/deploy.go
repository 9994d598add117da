package daemon

import (
	"fmt"
	"io"
	"log/slog"
	"net/netip"
	"strings"
)

// ParseTrusted parses --trusted values, the proxies allowed to send a
// PROXY protocol header: CIDR prefixes or single addresses, each flag one
// or several separated by commas.
func ParseTrusted(vals []string) ([]netip.Prefix, error) {
	var out []netip.Prefix
	for _, v := range vals {
		for _, s := range strings.Split(v, ",") {
			s = strings.TrimSpace(s)
			p, err := netip.ParsePrefix(s)
			if err != nil {
				a, aerr := netip.ParseAddr(s)
				if aerr != nil {
					return nil, fmt.Errorf("--trusted %q: want a CIDR prefix such as 10.0.0.0/8, or an address", s)
				}
				p = netip.PrefixFrom(a, a.BitLen())
			}
			out = append(out, p)
		}
	}
	return out, nil
}

// ParseLogLevel maps --log-level to a slog level; "off" maps above Error.
func ParseLogLevel(s string) (slog.Level, error) {
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

// NewLogger returns the engine's logger (Options.Logger), writing text
// records to w, or nil for --log-level off. The engine logs little and
// rate-limits it: a listener paused because accept4 ran out of
// descriptors or memory (at most once a second per loop), a failed loop.
func NewLogger(level string, w io.Writer) *slog.Logger {
	l, err := ParseLogLevel(level)
	if err != nil || level == "off" {
		return nil
	}
	return slog.New(slog.NewTextHandler(w, &slog.HandlerOptions{Level: l}))
}

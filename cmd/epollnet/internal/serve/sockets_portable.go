//go:build !linux || epollnet_portable

package serve

import (
	"fmt"
	"log/slog"

	"github.com/epollnet/epollnet"
	"github.com/epollnet/epollnet/cmd/epollnet/internal/cli"
	"github.com/epollnet/epollnet/cmd/epollnet/internal/daemon"
)

// openServer starts serve's engine on every --listen address, or
// 127.0.0.1:8080 when there is none, through Engine.Listen: the portable
// backend cannot adopt descriptors, so there is no socket activation and
// no restart, and the engine removes its Unix socket files itself (so
// s.paths stays empty).
func openServer(o serveOptions, hv *daemon.Handover, logger *slog.Logger) (*runningServer, error) {
	socks, err := epollnet.ActivatedSockets()
	if err != nil {
		return nil, fmt.Errorf("systemd socket activation: %w", err)
	}
	if len(socks) > 0 {
		return nil, fmt.Errorf("systemd socket activation: %w", epollnet.ErrUnsupported)
	}
	if len(o.listen) == 0 {
		o.listen = []string{defaultListen}
	}
	s, err := newServer(o, len(o.listen), logger)
	if err != nil {
		return nil, err
	}
	for _, a := range o.listen {
		if err = s.listenAddr(a); err != nil {
			s.eng.Abort()
			return nil, err
		}
	}
	return s, nil
}

// listenAddr serves one --listen address; with --reuseport the engine
// gives each loop a handle on it.
func (s *runningServer) listenAddr(a string) error {
	network, address, err := cli.SplitAddr(a)
	if err != nil {
		return err
	}
	ln, err := s.eng.Listen(network, address, s.h, s.listenConfig())
	if err != nil {
		return fmt.Errorf("--listen %s: %w", a, err)
	}
	s.lns = append(s.lns, ln)
	s.origins = append(s.origins, "")
	return nil
}

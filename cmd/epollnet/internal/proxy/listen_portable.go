//go:build !linux || epollnet_portable

package proxy

import (
	"github.com/epollnet/epollnet"
	"github.com/epollnet/epollnet/cmd/epollnet/internal/cli"
	"github.com/epollnet/epollnet/cmd/epollnet/internal/daemon"
)

// listen serves one --listen address through Engine.Listen: the portable
// backend cannot adopt descriptors, so there is no restart hand-over (hv
// hands nothing over), and the listener removes the Unix socket file it
// created when it closes (p.paths stays empty).
func (p *proxy) listen(a string, _ *daemon.Handover, cfg *epollnet.ListenConfig) error {
	network, address, err := cli.SplitAddr(a)
	if err != nil {
		return err
	}
	ln, err := p.eng.Listen(network, address, p.handler(), cfg)
	if err != nil {
		return err
	}
	p.lns, p.origins = append(p.lns, ln), append(p.origins, "")
	return nil
}

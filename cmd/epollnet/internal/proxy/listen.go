//go:build linux && !epollnet_portable

package proxy

import (
	"github.com/epollnet/epollnet"
	"github.com/epollnet/epollnet/cmd/epollnet/internal/cli"
	"github.com/epollnet/epollnet/cmd/epollnet/internal/daemon"
	"golang.org/x/sys/unix"
)

// listen serves one --listen address on a socket of the hand-over
// (inherited after a restart, else new and kept for the next process),
// given to the engine through Engine.ListenFD.
func (p *proxy) listen(a string, hv *daemon.Handover, cfg *epollnet.ListenConfig) error {
	network, address, err := cli.SplitAddr(a)
	if err != nil {
		return err
	}
	fd, inherited, err := hv.Socket("listen "+a, network, address, false)
	if err != nil {
		return err
	}
	origin := p.paths.Track(network, address, inherited)
	ln, err := p.eng.ListenFD(fd, p.handler(), cfg)
	if err != nil {
		unix.Close(fd)
		return err
	}
	p.lns, p.origins = append(p.lns, ln), append(p.origins, origin)
	return nil
}

//go:build !linux || epollnet_portable

package serve

import (
	"io"
	"net"
)

// Restartable is set by the program's main when serve runs as the whole
// process. On the portable backend it changes nothing: a restart hands
// listening descriptors to the new process, which the portable backend
// cannot adopt (Engine.ListenFD), so SIGHUP keeps its default action.
var Restartable bool

// handover is the epoll build's restart support (restart.go), reduced to
// what serve calls: here it hands nothing over.
type handover struct {
	upg        *struct{} // always nil: restarts unavailable
	took       chan struct{}
	handedOver bool
}

func newHandover() (*handover, error) { return &handover{}, nil }

// listen returns the metrics endpoint's listener.
func (h *handover) listen(network, address string) (net.Listener, error) {
	return net.Listen(network, address)
}

func (h *handover) ready() error { return nil }

func (h *handover) watch(w io.Writer) { h.took = make(chan struct{}) }

func (h *handover) tookOver() <-chan struct{} { return h.took }

func (h *handover) stop() {}

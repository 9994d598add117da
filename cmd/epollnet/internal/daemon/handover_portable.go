//go:build !linux || epollnet_portable

package daemon

import (
	"fmt"
	"io"
	"net"
	"os"

	"github.com/epollnet/epollnet"
)

// Restartable is set by the program's main when a command runs as the
// whole process. On the portable backend it changes nothing: a restart
// hands listening descriptors to the new process, which the portable
// backend cannot adopt (Engine.ListenFD), so SIGHUP keeps its default
// action.
var Restartable bool

// Handover is the epoll build's restart support (handover.go) with the
// same methods; on the portable backend it hands nothing over: no socket
// is inherited, none is kept for a next process, and no signal starts
// one.
type Handover struct {
	took chan struct{}
}

// NewHandover returns a Handover for command ("serve", "proxy"), which
// hands nothing over.
func NewHandover(command string) (*Handover, error) { return &Handover{}, nil }

// Restarts reports whether SIGHUP starts a new process: never here.
func (h *Handover) Restarts() bool { return false }

// Inheriting reports whether this process was started by a restart:
// never here.
func (h *Handover) Inheriting() bool { return false }

// Inherited returns -1: there is never a previous process's socket.
func (h *Handover) Inherited(name string) (int, error) { return -1, nil }

// Keep closes f and fails: the portable backend cannot serve a socket
// it did not open itself.
func (h *Handover) Keep(name string, f *os.File) (int, error) {
	f.Close()
	return -1, fmt.Errorf("keeping socket %q for a restart: %w", name, epollnet.ErrUnsupported)
}

// Socket fails: the engine opens its listening sockets itself through
// Engine.Listen on the portable backend.
func (h *Handover) Socket(name, network, address string, reusePort bool) (fd int, inherited bool, err error) {
	return -1, false, fmt.Errorf("listening socket %q by descriptor: %w", name, epollnet.ErrUnsupported)
}

// Listen returns a new net/http listener (the metrics endpoint's).
func (h *Handover) Listen(network, address string) (net.Listener, error) {
	return net.Listen(network, address)
}

// Ready does nothing: there is no previous process to tell.
func (h *Handover) Ready() error { return nil }

// Watch prepares TookOver's channel, which is never closed: no signal
// starts a new process.
func (h *Handover) Watch(w io.Writer) { h.took = make(chan struct{}) }

// TookOver returns a channel that is never closed.
func (h *Handover) TookOver() <-chan struct{} { return h.took }

// HandedOver reports false: no new process ever takes over.
func (h *Handover) HandedOver() bool { return false }

// Stop does nothing.
func (h *Handover) Stop() {}

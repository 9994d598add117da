//go:build linux && !epollnet_portable

package daemon

import (
	"context"
	"net"
	"os"
	"syscall"

	"golang.org/x/sys/unix"
)

// Socket returns a listening socket for the engine (Engine.ListenFD) named
// name in the hand-over: the previous process's when this one was started
// by a restart and it had one of that name, else a new one on address,
// kept for the next process. inherited says which; a new Unix socket's
// path is the caller's to remove at a final exit (its listener leaves it).
func (h *Handover) Socket(name, network, address string, reusePort bool) (fd int, inherited bool, err error) {
	if fd, err = h.Inherited(name); err != nil || fd >= 0 {
		return fd, fd >= 0, err
	}
	f, err := NewListenSocket(network, address, reusePort)
	if err != nil {
		return -1, false, err
	}
	if fd, err = h.Keep(name, f); err != nil && network == "unix" {
		os.Remove(address) // created just now: nobody serves it
	}
	return fd, false, err
}

// NewListenSocket creates a listening socket with the net package, which
// sets SO_REUSEADDR and the kernel's somaxconn backlog, and returns it as
// a file. A Unix socket's path is left in place when the net.Listener
// closes: the socket lives on in the file, and the command removes the
// path at exit unless a new process took it over.
func NewListenSocket(network, address string, reusePort bool) (*os.File, error) {
	var lc net.ListenConfig
	if reusePort {
		lc.Control = func(_, _ string, c syscall.RawConn) error {
			var serr error
			err := c.Control(func(fd uintptr) {
				serr = unix.SetsockoptInt(int(fd), unix.SOL_SOCKET, unix.SO_REUSEPORT, 1)
			})
			if err == nil {
				err = serr
			}
			return err
		}
	}
	ln, err := lc.Listen(context.Background(), network, address)
	if err != nil {
		return nil, err
	}
	defer ln.Close()
	if ul, ok := ln.(*net.UnixListener); ok {
		ul.SetUnlinkOnClose(false)
	}
	return ln.(interface{ File() (*os.File, error) }).File()
}

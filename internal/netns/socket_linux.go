//go:build linux

package netns

import (
	"os"

	"golang.org/x/sys/unix"
)

// Socket creates a socket inside the namespace, non-blocking and
// close-on-exec. Its signature is that of epollnet.DialConfig.Socket, so
// &epollnet.DialConfig{Socket: ns.Socket} dials from inside the namespace.
// Each call runs socket(2) through Do, on a thread that joins the namespace
// for that one call.
func (ns *NS) Socket(family, sotype, proto int) (int, error) {
	fd := -1
	err := ns.Do(func() (err error) {
		fd, err = unix.Socket(family, sotype|unix.SOCK_NONBLOCK|unix.SOCK_CLOEXEC, proto)
		return os.NewSyscallError("socket", err)
	})
	if err != nil {
		return -1, err
	}
	return fd, nil
}

// ListenLoopback creates a non-blocking TCP listener on the namespace's
// loopback address of family (unix.AF_INET: 127.0.0.1, unix.AF_INET6: ::1),
// port 0, with backlog, and returns it with the port the kernel chose. The
// caller owns the descriptor; epollnet.Engine.ListenFD accepts it.
func (ns *NS) ListenLoopback(family, backlog int) (fd int, port uint16, err error) {
	err = ns.Do(func() error {
		fd, port, err = listenLoopback(family, backlog)
		return err
	})
	return fd, port, err
}

// listenLoopback does the work of ListenLoopback in the calling thread's
// namespace.
func listenLoopback(family, backlog int) (int, uint16, error) {
	fd, err := unix.Socket(family, unix.SOCK_STREAM|unix.SOCK_NONBLOCK|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return -1, 0, os.NewSyscallError("socket", err)
	}
	var sa unix.Sockaddr = &unix.SockaddrInet4{Addr: [4]byte{127, 0, 0, 1}}
	if family == unix.AF_INET6 {
		sa = &unix.SockaddrInet6{Addr: [16]byte{15: 1}}
	}
	port, err := bindListen(fd, sa, backlog)
	if err != nil {
		unix.Close(fd)
		return -1, 0, err
	}
	return fd, port, nil
}

func bindListen(fd int, sa unix.Sockaddr, backlog int) (uint16, error) {
	if err := unix.Bind(fd, sa); err != nil {
		return 0, os.NewSyscallError("bind", err)
	}
	if err := unix.Listen(fd, backlog); err != nil {
		return 0, os.NewSyscallError("listen", err)
	}
	got, err := unix.Getsockname(fd)
	if err != nil {
		return 0, os.NewSyscallError("getsockname", err)
	}
	switch got := got.(type) {
	case *unix.SockaddrInet4:
		return uint16(got.Port), nil
	case *unix.SockaddrInet6:
		return uint16(got.Port), nil
	}
	return 0, os.NewSyscallError("getsockname", unix.EAFNOSUPPORT)
}

//go:build !linux || epollnet_portable

package sys

import (
	"net"
	"net/netip"
	"syscall"
)

// The Linux API, answered from handles (handle_portable.go). Functions
// keep their Linux names and errnos so the engine above needs no change.
// What has no portable meaning is a documented no-op or ErrUnsupported.

// Fault-injection seams, as on Linux: tests replace them and restore them.
var (
	// Accept4Func accepts one connection from a listening handle into sa.
	Accept4Func = accept4
	// CloseFunc releases a handle (Close).
	CloseFunc = closeHandle
	// CloseSocketFunc releases a handle the engine created (CloseSocket).
	CloseSocketFunc = closeHandle
)

// Iovecs is a reusable scatter/gather array; the portable backend copies
// into its output queue and needs none.
type Iovecs struct{}

// MaxIovecs is the number of buffers one gathered write takes, as on Linux.
const MaxIovecs = 1024

// Address families, socket type and shutdown halves. Only the engine and
// this package read them.
const (
	AF_INET     = 2
	AF_INET6    = 10
	AF_UNIX     = 1
	SOCK_STREAM = 1
	SHUT_WR     = 1
	SHUT_RDWR   = 2
)

// Socket creates a handle for a socket of family; it becomes a listener at
// Listen or a connection at Connect.
func Socket(family, typ, proto int) (int, error) {
	if typ != SOCK_STREAM || (family != AF_INET && family != AF_INET6 && family != AF_UNIX) {
		return -1, syscall.EPROTONOSUPPORT
	}
	return install(&handle{kind: kindSocket, family: family}), nil
}

// Sockaddr is the peer address filled in by Accept.
type Sockaddr struct{ addr net.Addr }

// AddrPort returns the address as an IP and port, with ok false for a
// non-IP (Unix) address.
func (sa *Sockaddr) AddrPort() (netip.AddrPort, bool) {
	if a, ok := sa.addr.(*net.TCPAddr); ok {
		ap := a.AddrPort()
		return netip.AddrPortFrom(ap.Addr().Unmap(), ap.Port()), true
	}
	return netip.AddrPort{}, false
}

// UnixName returns the path of a Unix socket address ("" when unnamed).
func (sa *Sockaddr) UnixName() string {
	if a, ok := sa.addr.(*net.UnixAddr); ok && a != nil {
		return a.Name
	}
	return ""
}

// with runs f on fd's handle under its lock, or returns EBADF.
func with(fd int, f func(h *handle) error) error {
	h := lookup(fd)
	if h == nil {
		return syscall.EBADF
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.closed {
		return syscall.EBADF
	}
	return f(h)
}

// Accept takes one connection accepted by a listener's goroutine, storing
// the peer's address in sa: EAGAIN when none is waiting.
func Accept(fd int, sa *Sockaddr) (int, error) { return Accept4Func(fd, sa) }

func accept4(fd int, sa *Sockaddr) (int, error) {
	h := lookup(fd)
	if h == nil {
		return -1, syscall.EBADF
	}
	h.mu.Lock()
	g, family, noDelay := h.group, h.family, h.noDelay
	h.mu.Unlock()
	if g == nil {
		return -1, syscall.EINVAL
	}
	c, err := g.take()
	if err != nil {
		return -1, err
	}
	sa.addr = c.RemoteAddr()
	return newConnHandle(c, family, noDelay), nil
}

// Read reads queued input into p: (0, nil) at end of stream, EAGAIN when
// nothing is queued.
func Read(fd int, p []byte) (int, error) {
	h := lookup(fd)
	if h == nil {
		return 0, syscall.EBADF
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.kind != kindConn {
		return 0, syscall.ENOTCONN
	}
	return h.stream.read(h, p)
}

// Send queues what fits of p for the writer goroutine; EAGAIN when the
// queue is full, the write error once one happened.
func Send(fd int, p []byte) (int, error) {
	bufs := [1][]byte{p}
	return writev(fd, bufs[:], 1)
}

// Writev queues what fits of bufs (the first MaxIovecs of them).
func Writev(fd int, iov *Iovecs, bufs [][]byte) (int, error) { return writev(fd, bufs, MaxIovecs) }

// WritevShort queues what fits of the first 16 buffers.
func WritevShort(fd int, bufs [][]byte) (int, error) { return writev(fd, bufs, 16) }

func writev(fd int, bufs [][]byte, limit int) (int, error) {
	h := lookup(fd)
	if h == nil {
		return 0, syscall.EBADF
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	switch {
	case h.kind == kindConnecting && !h.failed:
		return 0, syscall.EAGAIN
	case h.kind != kindConn:
		return 0, syscall.EPIPE
	}
	return h.stream.write(h, bufs, limit)
}

// Close releases fd. A connection's queued output is still written, as
// the kernel does after close(2), unless SetLingerZero asked for a reset.
func Close(fd int) error { return CloseFunc(fd) }

// CloseSocket releases fd as Close does: on Linux it is close(2) as a raw
// system call, for sockets whose close cannot block; here nothing blocks.
func CloseSocket(fd int) error { return CloseSocketFunc(fd) }

func closeHandle(fd int) error {
	h := release(fd)
	if h == nil {
		return syscall.EBADF
	}
	h.mu.Lock()
	w, wfd := h.watcher()
	h.closed, h.w = true, nil
	kind, g := h.kind, h.group
	switch kind {
	case kindConnecting:
		h.cancel()
	case kindConn:
		h.stream.close(h)
	}
	h.mu.Unlock()
	if w != nil {
		w.Forget(wfd)
	}
	if kind == kindListener {
		g.leave(h)
	}
	return nil
}

// Shutdown shuts down the write half (SHUT_WR) once the queued output is
// written, or both halves.
func Shutdown(fd int, how int) error {
	return with(fd, func(h *handle) error {
		if h.kind != kindConn {
			return syscall.ENOTCONN
		}
		h.stream.shutdown(h, how)
		return nil
	})
}

// SetLingerZero makes Close reset the connection and drop queued output.
func SetLingerZero(fd int) error {
	return with(fd, func(h *handle) error { h.lingerZero = true; return nil })
}

// SetNoDelay sets TCP_NODELAY, now or, before connect, once connected.
func SetNoDelay(fd int, on bool) error {
	return with(fd, func(h *handle) error {
		h.noDelay = -1
		if on {
			h.noDelay = 1
		}
		if h.kind == kindConn {
			if tc, ok := h.stream.conn.(*net.TCPConn); ok {
				return errnoOrNil(tc.SetNoDelay(on))
			}
		}
		return nil
	})
}

// SetReuseAddr is a no-op: the net package sets SO_REUSEADDR on listeners
// where the platform means by it what Linux does.
func SetReuseAddr(fd int) error { return with(fd, func(*handle) error { return nil }) }

// SetReusePort makes listeners bound to one address share its queue of
// accepted connections, one net.Listener for all (see lnGroup).
func SetReusePort(fd int) error {
	return with(fd, func(h *handle) error { h.reusePort = true; return nil })
}

// SetDeferAccept is a documented no-op: connections are accepted without
// waiting for their first data.
func SetDeferAccept(fd int, seconds int) error { return with(fd, func(*handle) error { return nil }) }

// SetV6Only makes an IPv6 listener IPv6-only ("tcp6").
func SetV6Only(fd int, on bool) error {
	return with(fd, func(h *handle) error { h.v6only = on; return nil })
}

// GetsockoptInt reports ErrUnsupported: there is no socket to ask.
func GetsockoptInt(fd, level, opt int) (int, error) { return 0, ErrUnsupported }

// SocketError returns the pending error of fd (a failed dial's result, a
// reset), and clears it, as reading SO_ERROR does.
func SocketError(fd int) (syscall.Errno, error) {
	var e syscall.Errno
	err := with(fd, func(h *handle) error {
		e, h.soError = h.soError, 0
		return nil
	})
	return e, err
}

// Listen starts listening on the bound address. The backlog is the
// operating system's default, as with the net package.
func Listen(fd, backlog int) error {
	return with(fd, func(h *handle) error {
		if h.kind != kindSocket {
			return syscall.EINVAL
		}
		return h.listen()
	})
}

// Bind records the local address, used by Listen or Connect.
func Bind(fd int, addr net.Addr) error {
	return with(fd, func(h *handle) error {
		if h.kind != kindSocket {
			return syscall.EINVAL
		}
		h.bound = addr
		return nil
	})
}

// Connect starts a dial goroutine and returns EINPROGRESS, TCP or Unix
// alike; its end makes fd writable, its error pending in SocketError.
func Connect(fd int, addr net.Addr) error {
	return with(fd, func(h *handle) error {
		switch h.kind {
		case kindConnecting:
			return syscall.EALREADY
		case kindSocket:
			h.dial(fd, addr)
			return syscall.EINPROGRESS
		}
		return syscall.EISCONN
	})
}

// LocalAddr returns the address fd is bound to.
func LocalAddr(fd int) (net.Addr, error) {
	var a net.Addr
	err := with(fd, func(h *handle) error {
		switch {
		case h.kind == kindListener:
			a = h.group.ln.Addr()
		case h.kind == kindConn:
			a = h.stream.conn.LocalAddr()
		default:
			a, _ = h.bound.(net.Addr)
		}
		if a == nil {
			return syscall.EINVAL
		}
		return nil
	})
	return a, err
}

// PeerAddr returns the address of fd's peer; ENOTCONN means not connected.
func PeerAddr(fd int) (net.Addr, error) {
	var a net.Addr
	err := with(fd, func(h *handle) error {
		if h.kind != kindConn {
			return syscall.ENOTCONN
		}
		a = h.stream.conn.RemoteAddr()
		if a == nil {
			a = &net.UnixAddr{Net: "unix"}
		}
		return nil
	})
	return a, err
}

// Family returns the address family a socket for addr must have.
func Family(addr net.Addr) int {
	switch a := addr.(type) {
	case *net.TCPAddr:
		if a.IP.To4() != nil {
			return AF_INET
		}
		return AF_INET6
	case *net.UnixAddr:
		return AF_UNIX
	}
	return -1
}

// Descriptors passed in from outside (Engine.ListenFD, ListenFrom, socket
// activation, DialConfig.Socket) are operating-system descriptors, not
// handles: every call that would inspect or adopt one reports
// ErrUnsupported, so none is ever mistaken for a handle of the same number.

// SocketFamily reports ErrUnsupported.
func SocketFamily(fd int) (int, error) { return 0, ErrUnsupported }

// SocketType reports ErrUnsupported.
func SocketType(fd int) (int, error) { return 0, ErrUnsupported }

// IsListening reports ErrUnsupported.
func IsListening(fd int) (bool, error) { return false, ErrUnsupported }

// SetNonblock reports ErrUnsupported.
func SetNonblock(fd int) error { return ErrUnsupported }

// Dup reports ErrUnsupported.
func Dup(fd int) (int, error) { return -1, ErrUnsupported }

// SetCloseOnExec reports ErrUnsupported.
func SetCloseOnExec(fd int) error { return ErrUnsupported }

// IsTemporaryAccept reports whether an accept error concerns only the one
// connection being accepted.
func IsTemporaryAccept(err error) bool {
	switch err {
	case syscall.ECONNABORTED, syscall.ECONNRESET, syscall.ETIMEDOUT, syscall.EPROTO:
		return true
	}
	return false
}

// IsResourceExhaustion reports whether an accept error means the process
// ran out of descriptors or memory.
func IsResourceExhaustion(err error) bool {
	switch err {
	case syscall.EMFILE, syscall.ENFILE, syscall.ENOBUFS, syscall.ENOMEM:
		return true
	}
	return false
}

// OutQueue returns the output not yet handed to the operating system: the
// nearest thing to SIOCOUTQ that the net package can know.
func OutQueue(fd int) (int, error) {
	n := 0
	err := with(fd, func(h *handle) error {
		if h.kind == kindConn {
			n = h.stream.outQueue()
		}
		return nil
	})
	return n, err
}

// SetBindAddressNoPort is a documented no-op (the caller treats it as a
// best effort): a bound port is reserved at bind time.
func SetBindAddressNoPort(fd int) error { return with(fd, func(*handle) error { return nil }) }

// SetKeepAlive enables keepalive probes after idle seconds, applied when
// the dial connects.
func SetKeepAlive(fd int, idleSecs, intervalSecs int) error {
	return with(fd, func(h *handle) error { h.keepIdle = idleSecs; return nil })
}

// SetFastOpenConnect is a documented no-op: the dial is an ordinary one,
// which TCP Fast Open falls back to without a cookie.
func SetFastOpenConnect(fd int) error { return with(fd, func(*handle) error { return nil }) }

// TCPState reports ErrUnsupported: the net package does not expose it.
func TCPState(fd int) (uint8, error) { return 0, ErrUnsupported }

// Pipe reports ErrUnsupported: there are no kernel pipes to splice
// through, so Pipe (the relay) copies instead.
func Pipe() (r, w int, err error) { return -1, -1, ErrUnsupported }

// Splice reports ErrUnsupported (see Pipe).
func Splice(in, out, n int) (int, error) { return 0, ErrUnsupported }

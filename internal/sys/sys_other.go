//go:build !linux

package sys

import (
	"net"
	"net/netip"
	"syscall"
)

// Iovecs is a reusable scatter/gather array; unused off Linux.
type Iovecs struct{}

// MaxIovecs is the number of buffers one gathered write passes to the kernel.
const MaxIovecs = 1024

// Constants used by the engine; off Linux they only need to compile.
const (
	AF_INET     = 2
	AF_INET6    = 10
	AF_UNIX     = 1
	SOCK_STREAM = 1
	SHUT_WR     = 1
	SHUT_RDWR   = 2
)

// Socket reports ErrUnsupported.
func Socket(family, typ, proto int) (int, error) { return -1, ErrUnsupported }

// Sockaddr is a kernel socket address; unused off Linux.
type Sockaddr struct{}

// AddrPort reports no address.
func (sa *Sockaddr) AddrPort() (netip.AddrPort, bool) { return netip.AddrPort{}, false }

// UnixName reports no name.
func (sa *Sockaddr) UnixName() string { return "" }

// Accept reports ErrUnsupported.
func Accept(fd int, sa *Sockaddr) (int, error) { return -1, ErrUnsupported }

// Read reports ErrUnsupported.
func Read(fd int, p []byte) (int, error) { return 0, ErrUnsupported }

// Send reports ErrUnsupported.
func Send(fd int, p []byte) (int, error) { return 0, ErrUnsupported }

// Writev reports ErrUnsupported.
func Writev(fd int, iov *Iovecs, bufs [][]byte) (int, error) { return 0, ErrUnsupported }

// WritevShort reports ErrUnsupported.
func WritevShort(fd int, bufs [][]byte) (int, error) { return 0, ErrUnsupported }

// Close reports ErrUnsupported.
func Close(fd int) error { return ErrUnsupported }

// Shutdown reports ErrUnsupported.
func Shutdown(fd int, how int) error { return ErrUnsupported }

// SetLingerZero reports ErrUnsupported.
func SetLingerZero(fd int) error { return ErrUnsupported }

// SetNoDelay reports ErrUnsupported.
func SetNoDelay(fd int, on bool) error { return ErrUnsupported }

// SetReuseAddr reports ErrUnsupported.
func SetReuseAddr(fd int) error { return ErrUnsupported }

// SetReusePort reports ErrUnsupported.
func SetReusePort(fd int) error { return ErrUnsupported }

// SetDeferAccept reports ErrUnsupported.
func SetDeferAccept(fd int, seconds int) error { return ErrUnsupported }

// SetV6Only reports ErrUnsupported.
func SetV6Only(fd int, on bool) error { return ErrUnsupported }

// GetsockoptInt reports ErrUnsupported.
func GetsockoptInt(fd, level, opt int) (int, error) { return 0, ErrUnsupported }

// Listen reports ErrUnsupported.
func Listen(fd, backlog int) error { return ErrUnsupported }

// Bind reports ErrUnsupported.
func Bind(fd int, addr net.Addr) error { return ErrUnsupported }

// Connect reports ErrUnsupported.
func Connect(fd int, addr net.Addr) error { return ErrUnsupported }

// LocalAddr reports ErrUnsupported.
func LocalAddr(fd int) (net.Addr, error) { return nil, ErrUnsupported }

// PeerAddr reports ErrUnsupported.
func PeerAddr(fd int) (net.Addr, error) { return nil, ErrUnsupported }

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

// Family returns -1: no family is supported.
func Family(addr net.Addr) int { return -1 }

// IsTemporaryAccept reports false: nothing is accepted off Linux.
func IsTemporaryAccept(err error) bool { return false }

// IsResourceExhaustion reports false: nothing is accepted off Linux.
func IsResourceExhaustion(err error) bool { return false }

// OutQueue reports ErrUnsupported.
func OutQueue(fd int) (int, error) { return 0, ErrUnsupported }

// SetBindAddressNoPort reports ErrUnsupported.
func SetBindAddressNoPort(fd int) error { return ErrUnsupported }

// SetKeepAlive reports ErrUnsupported.
func SetKeepAlive(fd int, idleSecs, intervalSecs int) error { return ErrUnsupported }

// SetFastOpenConnect reports ErrUnsupported.
func SetFastOpenConnect(fd int) error { return ErrUnsupported }

// TCPState reports ErrUnsupported.
func TCPState(fd int) (uint8, error) { return 0, ErrUnsupported }

// SocketError reports ErrUnsupported.
func SocketError(fd int) (syscall.Errno, error) { return 0, ErrUnsupported }

// SetCloseOnExec reports ErrUnsupported.
func SetCloseOnExec(fd int) error { return ErrUnsupported }

// Pipe reports ErrUnsupported.
func Pipe() (r, w int, err error) { return -1, -1, ErrUnsupported }

// Splice reports ErrUnsupported.
func Splice(in, out, n int) (int, error) { return 0, ErrUnsupported }

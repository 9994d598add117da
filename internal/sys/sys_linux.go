//go:build linux && !epollnet_portable

package sys

import (
	"net"
	"net/netip"
	"syscall"
	"unsafe"

	"golang.org/x/sys/unix"
)

// Fault-injection seams. Tests replace them and restore them with t.Cleanup;
// production code never writes them. They are plain variables, read on every
// call, so only tests that do not run in parallel with engine users may swap
// them.
var (
	// Accept4Func accepts one connection from a listening socket into sa.
	Accept4Func = accept4
	// CloseFunc closes a file descriptor.
	CloseFunc = unix.Close
	// CloseSocketFunc closes a socket whose close cannot block (CloseSocket).
	CloseSocketFunc = closeSocket
	// SocketFunc creates a socket.
	SocketFunc = unix.Socket
	// ConnectFunc starts a connect.
	ConnectFunc = unix.Connect
)

// Socket creates a non-blocking, close-on-exec socket in one call, so no
// other goroutine's fork can inherit it half-configured.
func Socket(family, typ, proto int) (int, error) {
	return SocketFunc(family, typ|unix.SOCK_NONBLOCK|unix.SOCK_CLOEXEC, proto)
}

// Sockaddr is a kernel socket address filled in by Accept. A loop keeps one
// and reuses it, so accepting allocates nothing (x/sys/unix.Accept4 returns
// a freshly allocated Sockaddr per call).
type Sockaddr struct {
	raw unix.RawSockaddrAny
	n   uint32
}

// AddrPort returns the address as an IP and port, with ok false for a
// non-IP (Unix) address.
func (sa *Sockaddr) AddrPort() (ap netip.AddrPort, ok bool) {
	switch sa.raw.Addr.Family {
	case unix.AF_INET:
		p := (*unix.RawSockaddrInet4)(unsafe.Pointer(&sa.raw))
		return netip.AddrPortFrom(netip.AddrFrom4(p.Addr), ntohs(p.Port)), true
	case unix.AF_INET6:
		p := (*unix.RawSockaddrInet6)(unsafe.Pointer(&sa.raw))
		return netip.AddrPortFrom(netip.AddrFrom16(p.Addr).Unmap(), ntohs(p.Port)), true
	}
	return netip.AddrPort{}, false
}

// UnixName returns the path of a Unix socket address ("" when unnamed).
func (sa *Sockaddr) UnixName() string {
	if sa.raw.Addr.Family != unix.AF_UNIX || sa.n <= 2 {
		return ""
	}
	p := (*unix.RawSockaddrUnix)(unsafe.Pointer(&sa.raw))
	n := int(sa.n) - 2
	b := unsafe.Slice((*byte)(unsafe.Pointer(&p.Path[0])), n)
	for i, c := range b {
		if c == 0 && i > 0 {
			b = b[:i]
			break
		}
	}
	if len(b) > 0 && b[0] == 0 {
		b = append([]byte{'@'}, b[1:]...) // abstract socket, shown as Go does
	}
	return string(b)
}

func ntohs(p uint16) uint16 { return p>>8 | p<<8 }

// Accept takes one connection off a listening socket, storing the peer's
// address in sa. The new socket is non-blocking and close-on-exec: on Linux
// accept() does NOT inherit O_NONBLOCK from the listener, so the flags are
// passed to accept4 (see docs/kernel.md, "accept does not inherit
// O_NONBLOCK").
// EINTR is retried; every other error is returned as a raw errno.
func Accept(fd int, sa *Sockaddr) (int, error) {
	for {
		nfd, err := Accept4Func(fd, sa)
		if err != unix.EINTR {
			return nfd, err
		}
	}
}

// accept4 makes a raw system call, like Read: on a non-blocking listener
// it never blocks.
func accept4(fd int, sa *Sockaddr) (int, error) {
	sa.n = unix.SizeofSockaddrAny
	nfd, _, e := syscall.RawSyscall6(unix.SYS_ACCEPT4, uintptr(fd), uintptr(unsafe.Pointer(&sa.raw)),
		uintptr(unsafe.Pointer(&sa.n)), unix.SOCK_NONBLOCK|unix.SOCK_CLOEXEC, 0, 0)
	if e != 0 {
		return -1, e
	}
	return int(nfd), nil
}

// Read reads into p with recvfrom(2), retrying EINTR. It returns (0, nil)
// at end of stream.
//
// Read and Send make raw system calls, directly and with no fault seam, as
// they run once per message: on a non-blocking socket they never block, so
// telling the scheduler (entersyscall/exitsyscall, as syscall.Syscall does)
// buys nothing; and they call package syscall's RawSyscall6 themselves,
// since x/sys/unix's is an assembly jump to it behind an ABI wrapper, one
// more call per message. Tests provoke read and write errors with real
// sockets.
//
// recvfrom rather than read(2): on a socket both end in sock_recvmsg, but
// read(2) first passes through the VFS (fdget_pos, rw_verify_area,
// security_file_permission, sock_read_iter), work a socket does not need.
func Read(fd int, p []byte) (int, error) {
	ptr := bufPtr(p)
	for {
		n, _, e := syscall.RawSyscall6(unix.SYS_RECVFROM, uintptr(fd), uintptr(ptr), uintptr(len(p)), 0, 0, 0)
		switch e {
		case 0:
			return int(n), nil
		case unix.EINTR:
			continue
		}
		return 0, e
	}
}

// Send writes p with MSG_NOSIGNAL, retrying EINTR. write(2) has no way to
// suppress SIGPIPE, and a second write after an RST raises it (see
// docs/kernel.md, "SIGPIPE and MSG_NOSIGNAL"), so every write in epollnet
// goes through send or sendmsg.
func Send(fd int, p []byte) (int, error) {
	ptr := bufPtr(p)
	for {
		n, _, e := syscall.RawSyscall6(unix.SYS_SENDTO, uintptr(fd), uintptr(ptr), uintptr(len(p)),
			unix.MSG_NOSIGNAL|unix.MSG_DONTWAIT, 0, 0)
		switch e {
		case 0:
			return int(n), nil
		case unix.EINTR:
			continue
		}
		return 0, e
	}
}

// bufPtr returns the address of p's first byte, or nil for an empty p.
func bufPtr(p []byte) unsafe.Pointer {
	if len(p) == 0 {
		return nil
	}
	return unsafe.Pointer(&p[0])
}

// MaxIovecs is the number of buffers one gathered write passes to the kernel
// (IOV_MAX is 1024 on Linux).
const MaxIovecs = 1024

// Iovecs is a reusable scatter/gather array, owned by one goroutine, so that
// gathered writes do not allocate.
type Iovecs struct {
	vec [MaxIovecs]unix.Iovec
}

// Writev writes the buffers in bufs (at most MaxIovecs of them are used) with
// one sendmsg(MSG_NOSIGNAL) call and returns the number of bytes written.
// iov is scratch space owned by the calling goroutine.
func Writev(fd int, iov *Iovecs, bufs [][]byte) (int, error) {
	return sendmsg(fd, iov.vec[:], bufs)
}

// WritevShort is Writev for any goroutine: it gathers at most 16 buffers in
// scratch space on its own stack, so the caller needs no Iovecs. A caller
// passing more gets a short write and keeps the rest.
func WritevShort(fd int, bufs [][]byte) (int, error) {
	var vec [16]unix.Iovec
	return sendmsg(fd, vec[:], bufs)
}

func sendmsg(fd int, vec []unix.Iovec, bufs [][]byte) (int, error) {
	n := 0
	for _, b := range bufs {
		if n == len(vec) {
			break
		}
		if len(b) == 0 {
			continue
		}
		vec[n].Base = &b[0]
		vec[n].SetLen(len(b))
		n++
	}
	if n == 0 {
		return 0, nil
	}
	var msg unix.Msghdr
	msg.Iov = &vec[0]
	msg.SetIovlen(n)
	for {
		w, _, e := syscall.RawSyscall(unix.SYS_SENDMSG, uintptr(fd), uintptr(unsafe.Pointer(&msg)),
			unix.MSG_NOSIGNAL|unix.MSG_DONTWAIT)
		if e == unix.EINTR {
			continue
		}
		clear(vec[:n]) // drop references so the GC can free written buffers
		if e != 0 {
			return 0, e
		}
		return int(w), nil
	}
}

// Close closes fd. EINTR from close is not retried: on Linux the descriptor
// is released even when close reports EINTR, and a retry could close an fd
// another goroutine just received.
func Close(fd int) error { return CloseFunc(fd) }

// Shutdown shuts down the write half (SHUT_WR), sending FIN after every byte
// already queued, or both halves.
func Shutdown(fd int, how int) error { return unix.Shutdown(fd, how) }

// SHUT_WR and SHUT_RDWR name the halves for Shutdown.
const (
	SHUT_WR   = unix.SHUT_WR
	SHUT_RDWR = unix.SHUT_RDWR
)

// SetLingerZero makes the next close send RST instead of FIN and discard the
// send queue: the abortive close.
func SetLingerZero(fd int) error {
	return unix.SetsockoptLinger(fd, unix.SOL_SOCKET, unix.SO_LINGER, &unix.Linger{Onoff: 1, Linger: 0})
}

// SetNoDelay sets TCP_NODELAY, with a raw system call (once per accepted
// connection; setsockopt never blocks).
func SetNoDelay(fd int, on bool) error {
	v := int32(boolInt(on))
	_, _, e := syscall.RawSyscall6(unix.SYS_SETSOCKOPT, uintptr(fd), unix.IPPROTO_TCP, unix.TCP_NODELAY,
		uintptr(unsafe.Pointer(&v)), 4, 0)
	if e != 0 {
		return e
	}
	return nil
}

// CloseSocket closes a socket with a raw system call, which the Go
// scheduler does not see. The caller guarantees that close cannot block:
// a non-blocking socket without a positive SO_LINGER time (with one,
// close waits for the peer's acknowledgement up to that time, whatever
// O_NONBLOCK says). Like Close, it does not retry EINTR.
//
// Why raw: closing a TCP socket does the FIN's work (and, on loopback, the
// peer's receive path) inside the call, often for more than the 20 µs the
// runtime's sysmon thread sleeps between checks. A goroutine found in
// syscall.Syscall on two consecutive checks loses its P to another thread
// (handoffp), which keeps sysmon on its shortest sleep: under connection
// churn this cost a context switch every three connections and a sixth of
// the server's CPU time per connection, and the raw call avoids all of it.
func CloseSocket(fd int) error { return CloseSocketFunc(fd) }

func closeSocket(fd int) error {
	_, _, e := syscall.RawSyscall(unix.SYS_CLOSE, uintptr(fd), 0, 0)
	if e != 0 {
		return e
	}
	return nil
}

// SetReuseAddr sets SO_REUSEADDR, so a restarted server can bind while old
// connections linger in TIME_WAIT.
func SetReuseAddr(fd int) error {
	return unix.SetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_REUSEADDR, 1)
}

// SetReusePort sets SO_REUSEPORT: several listeners on one address, the
// kernel spreading connections among them by hash (see docs/kernel.md,
// "EPOLLEXCLUSIVE and SO_REUSEPORT").
func SetReusePort(fd int) error {
	return unix.SetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_REUSEPORT, 1)
}

// SetDeferAccept sets TCP_DEFER_ACCEPT in seconds. The kernel rounds it up to
// whole SYN+ACK retransmission periods (see docs/kernel.md,
// "TCP_DEFER_ACCEPT").
func SetDeferAccept(fd int, seconds int) error {
	return unix.SetsockoptInt(fd, unix.IPPROTO_TCP, unix.TCP_DEFER_ACCEPT, seconds)
}

// SetV6Only sets IPV6_V6ONLY.
func SetV6Only(fd int, on bool) error {
	return unix.SetsockoptInt(fd, unix.IPPROTO_IPV6, unix.IPV6_V6ONLY, boolInt(on))
}

// GetsockoptInt reads an integer socket option.
func GetsockoptInt(fd, level, opt int) (int, error) { return unix.GetsockoptInt(fd, level, opt) }

// SocketError reads and clears SO_ERROR. The kernel clears the pending error
// on the first read, so callers read it exactly once (see docs/kernel.md,
// "EPOLLOUT is not success: read SO_ERROR once").
func SocketError(fd int) (syscall.Errno, error) {
	v, err := unix.GetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_ERROR)
	return syscall.Errno(v), err
}

// Listen marks fd as listening. It never blocks and never returns
// EINPROGRESS (see docs/kernel.md, "listen never blocks").
func Listen(fd, backlog int) error { return unix.Listen(fd, backlog) }

// Bind binds fd to addr.
func Bind(fd int, addr net.Addr) error {
	sa, err := AddrToSockaddr(addr)
	if err != nil {
		return err
	}
	return unix.Bind(fd, sa)
}

// Connect starts a connect to addr. For TCP on a non-blocking socket it
// returns EINPROGRESS even on loopback, where the handshake has already
// finished (see docs/kernel.md, "connect returns EINPROGRESS, even on
// loopback").
func Connect(fd int, addr net.Addr) error {
	sa, err := AddrToSockaddr(addr)
	if err != nil {
		return err
	}
	for {
		err = ConnectFunc(fd, sa)
		if err != unix.EINTR {
			return err
		}
	}
}

// LocalAddr returns the address fd is bound to.
func LocalAddr(fd int) (net.Addr, error) {
	sa, err := unix.Getsockname(fd)
	if err != nil {
		return nil, err
	}
	return sockaddrToAddr(sa), nil
}

// PeerAddr returns the address of fd's peer; ENOTCONN means not connected.
func PeerAddr(fd int) (net.Addr, error) {
	sa, err := unix.Getpeername(fd)
	if err != nil {
		return nil, err
	}
	return sockaddrToAddr(sa), nil
}

// SocketFamily returns SO_DOMAIN, the socket's address family.
func SocketFamily(fd int) (int, error) {
	return unix.GetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_DOMAIN)
}

// SocketType returns SO_TYPE.
func SocketType(fd int) (int, error) { return unix.GetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_TYPE) }

// IsListening reports SO_ACCEPTCONN.
func IsListening(fd int) (bool, error) {
	v, err := unix.GetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_ACCEPTCONN)
	return v == 1, err
}

// SetNonblock sets O_NONBLOCK and FD_CLOEXEC on an inherited descriptor.
// O_NONBLOCK belongs to the open file description, shared with every dup of
// it (see docs/kernel.md, "accept does not inherit O_NONBLOCK").
func SetNonblock(fd int) error {
	if err := unix.SetNonblock(fd, true); err != nil {
		return Wrap("fcntl", err)
	}
	unix.CloseOnExec(fd)
	return nil
}

// Dup duplicates fd with close-on-exec set.
func Dup(fd int) (int, error) { return unix.FcntlInt(uintptr(fd), unix.F_DUPFD_CLOEXEC, 0) }

// Family and type constants used by the engine.
const (
	AF_INET     = unix.AF_INET
	AF_INET6    = unix.AF_INET6
	AF_UNIX     = unix.AF_UNIX
	SOCK_STREAM = unix.SOCK_STREAM
)

func boolInt(b bool) int {
	if b {
		return 1
	}
	return 0
}

// IsTemporaryAccept reports whether an accept4 error concerns only the one
// connection being accepted, so the accept loop must skip it and carry on.
// accept(2) on Linux passes already-pending network errors of the new socket
// through accept, and a peer that aborted before accept gives ECONNABORTED.
func IsTemporaryAccept(err error) bool {
	switch err {
	case unix.ECONNABORTED, unix.EPROTO, unix.EPERM,
		unix.ENETDOWN, unix.ENOPROTOOPT, unix.EHOSTDOWN,
		unix.ENONET, unix.EHOSTUNREACH, unix.EOPNOTSUPP,
		unix.ENETUNREACH, unix.ECONNRESET, unix.ETIMEDOUT:
		return true
	}
	return false
}

// IsResourceExhaustion reports whether an accept4 error means the process or
// the system ran out of something (file descriptors, socket buffers, memory).
// The pending connection stays queued in the kernel, so under level-triggered
// epoll the listener stays readable and a naive loop spins (see
// docs/kernel.md, "EMFILE on accept and the wake-up storm").
func IsResourceExhaustion(err error) bool {
	switch err {
	case unix.EMFILE, unix.ENFILE, unix.ENOBUFS, unix.ENOMEM:
		return true
	}
	return false
}

// OutQueue returns SIOCOUTQ: for TCP, the bytes in the send queue not yet
// acknowledged by the peer.
func OutQueue(fd int) (int, error) { return unix.IoctlGetInt(fd, unix.SIOCOUTQ) }

// SetBindAddressNoPort sets IP_BIND_ADDRESS_NO_PORT: bind() with port 0
// reserves no port, which is chosen at connect() time per destination, so
// one source address can carry more than 64k connections to distinct
// destinations and bind() cannot fail with EADDRINUSE.
func SetBindAddressNoPort(fd int) error {
	return unix.SetsockoptInt(fd, unix.IPPROTO_IP, unix.IP_BIND_ADDRESS_NO_PORT, 1)
}

// SetKeepAlive enables TCP keepalive probes after idle, every interval.
func SetKeepAlive(fd int, idleSecs, intervalSecs int) error {
	if err := unix.SetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_KEEPALIVE, 1); err != nil {
		return err
	}
	if err := unix.SetsockoptInt(fd, unix.IPPROTO_TCP, unix.TCP_KEEPIDLE, idleSecs); err != nil {
		return err
	}
	return unix.SetsockoptInt(fd, unix.IPPROTO_TCP, unix.TCP_KEEPINTVL, intervalSecs)
}

// SetFastOpenConnect sets TCP_FASTOPEN_CONNECT: with a cached cookie,
// connect() returns 0 while still in SYN_SENT and the SYN leaves with the
// first write (see docs/kernel.md, "TCP Fast Open: connect returns 0 before
// the handshake").
func SetFastOpenConnect(fd int) error {
	return unix.SetsockoptInt(fd, unix.IPPROTO_TCP, unix.TCP_FASTOPEN_CONNECT, 1)
}

// TCPState returns the kernel's TCP state from TCP_INFO (1 ESTABLISHED,
// 2 SYN_SENT, 3 SYN_RECV, ... as in include/net/tcp_states.h).
func TCPState(fd int) (uint8, error) {
	info, err := unix.GetsockoptTCPInfo(fd, unix.IPPROTO_TCP, unix.TCP_INFO)
	if err != nil {
		return 0, err
	}
	return info.State, nil
}

// SetCloseOnExec sets FD_CLOEXEC on an inherited descriptor.
func SetCloseOnExec(fd int) error {
	_, err := unix.FcntlInt(uintptr(fd), unix.F_SETFD, unix.FD_CLOEXEC)
	return Wrap("fcntl", err)
}

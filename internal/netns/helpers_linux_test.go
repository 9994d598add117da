//go:build linux

package netns_test

import (
	"errors"
	"os"
	"testing"
	"time"

	"github.com/epollnet/epollnet/internal/netns"

	"golang.org/x/sys/unix"
)

// TCP states as reported in tcp_info.tcpi_state (include/net/tcp_states.h).
const (
	tcpEstablished = 1
	tcpSynSent     = 2
	tcpClose       = 7
)

// epollAll is the interest set used to watch a socket: everything a reactor
// would ask for. EPOLLERR and EPOLLHUP are reported even when not asked.
const epollAll = unix.EPOLLIN | unix.EPOLLOUT | unix.EPOLLRDHUP

// loopback returns the loopback address of family with port.
func loopback(family int, port uint16) unix.Sockaddr {
	if family == unix.AF_INET6 {
		return &unix.SockaddrInet6{Port: int(port), Addr: [16]byte{15: 1}}
	}
	return &unix.SockaddrInet4{Port: int(port), Addr: [4]byte{127, 0, 0, 1}}
}

// familyName names family in subtest names.
func familyName(family int) string {
	if family == unix.AF_INET6 {
		return "ipv6"
	}
	return "ipv4"
}

// closeOnCleanup closes fd when the test ends, so that the namespace the
// socket pins can go away.
func closeOnCleanup(t testing.TB, fd int) {
	t.Cleanup(func() {
		if err := unix.Close(fd); err != nil {
			t.Errorf("close(%d): %v", fd, err)
		}
	})
}

// listen creates a non-blocking TCP listener on the loopback address of
// family, port 0, in the calling thread's namespace.
func listen(family int) (fd int, port uint16, err error) {
	fd, err = unix.Socket(family, unix.SOCK_STREAM|unix.SOCK_NONBLOCK|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return -1, 0, os.NewSyscallError("socket", err)
	}
	if err := unix.Bind(fd, loopback(family, 0)); err != nil {
		unix.Close(fd)
		return -1, 0, os.NewSyscallError("bind", err)
	}
	if err := unix.Listen(fd, 16); err != nil {
		unix.Close(fd)
		return -1, 0, os.NewSyscallError("listen", err)
	}
	sa, err := unix.Getsockname(fd)
	if err != nil {
		unix.Close(fd)
		return -1, 0, os.NewSyscallError("getsockname", err)
	}
	switch sa := sa.(type) {
	case *unix.SockaddrInet4:
		port = uint16(sa.Port)
	case *unix.SockaddrInet6:
		port = uint16(sa.Port)
	}
	return fd, port, nil
}

// connect starts a non-blocking connect to the loopback address of family
// in the calling thread's namespace. TCP connect returns EINPROGRESS even on
// loopback, where the handshake has already finished; anything else is an
// error.
func connect(family int, port uint16) (int, error) {
	fd, err := unix.Socket(family, unix.SOCK_STREAM|unix.SOCK_NONBLOCK|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return -1, os.NewSyscallError("socket", err)
	}
	if err := unix.Connect(fd, loopback(family, port)); !errors.Is(err, unix.EINPROGRESS) {
		unix.Close(fd)
		return -1, os.NewSyscallError("connect (want EINPROGRESS)", err)
	}
	return fd, nil
}

// listenIn creates a listener inside ns, closed when the test ends.
func listenIn(t testing.TB, ns *netns.NS, family int) (fd int, port uint16) {
	t.Helper()
	if err := ns.Do(func() (err error) {
		fd, port, err = listen(family)
		return err
	}); err != nil {
		t.Fatalf("listen in namespace: %v", err)
	}
	closeOnCleanup(t, fd)
	return fd, port
}

// listenOrSkip is listenIn for families that may be missing: it skips the
// test when the namespace has no ::1 (IPv6 disabled).
func listenOrSkip(t testing.TB, ns *netns.NS, family int) (int, uint16) {
	t.Helper()
	var fd int
	var port uint16
	err := ns.Do(func() (err error) {
		fd, port, err = listen(family)
		return err
	})
	if errors.Is(err, unix.EADDRNOTAVAIL) || errors.Is(err, unix.EAFNOSUPPORT) {
		t.Skipf("no %s loopback: %v", familyName(family), err)
	}
	if err != nil {
		t.Fatal(err)
	}
	closeOnCleanup(t, fd)
	return fd, port
}

// connectIn starts a non-blocking connect inside ns; the socket is closed
// when the test ends.
func connectIn(t testing.TB, ns *netns.NS, family int, port uint16) int {
	t.Helper()
	var fd int
	if err := ns.Do(func() (err error) {
		fd, err = connect(family, port)
		return err
	}); err != nil {
		t.Fatalf("connect in namespace: %v", err)
	}
	closeOnCleanup(t, fd)
	return fd
}

// waitEvents registers fd level-triggered for events in a fresh epoll
// instance and waits at most timeout for it to become ready. It returns the
// events reported, or 0 if none came in time.
func waitEvents(t testing.TB, fd int, events uint32, timeout time.Duration) uint32 {
	t.Helper()
	ep, err := unix.EpollCreate1(unix.EPOLL_CLOEXEC)
	if err != nil {
		t.Fatalf("epoll_create1: %v", err)
	}
	defer unix.Close(ep)
	if err := unix.EpollCtl(ep, unix.EPOLL_CTL_ADD, fd, &unix.EpollEvent{Events: events, Fd: int32(fd)}); err != nil {
		t.Fatalf("epoll_ctl(ADD, %d): %v", fd, err)
	}
	deadline := time.Now().Add(timeout)
	evs := make([]unix.EpollEvent, 1)
	for {
		left := time.Until(deadline)
		if left < 0 {
			left = 0
		}
		// Round up: epoll_wait takes milliseconds, and rounding down
		// would end the wait early.
		n, err := unix.EpollWait(ep, evs, int((left+time.Millisecond-1)/time.Millisecond))
		switch {
		case errors.Is(err, unix.EINTR):
		case err != nil:
			t.Fatalf("epoll_wait: %v", err)
		case n == 1:
			return evs[0].Events
		}
		if time.Now().After(deadline) {
			return 0
		}
	}
}

// tcpState returns fd's TCP state from TCP_INFO.
func tcpState(t testing.TB, fd int) uint8 {
	t.Helper()
	info, err := unix.GetsockoptTCPInfo(fd, unix.IPPROTO_TCP, unix.TCP_INFO)
	if err != nil {
		t.Fatalf("getsockopt(TCP_INFO): %v", err)
	}
	return info.State
}

// soError reads and clears fd's pending socket error (SO_ERROR).
func soError(t testing.TB, fd int) unix.Errno {
	t.Helper()
	v, err := unix.GetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_ERROR)
	if err != nil {
		t.Fatalf("getsockopt(SO_ERROR): %v", err)
	}
	return unix.Errno(v)
}

// eventString formats epoll events for failure messages.
func eventString(ev uint32) string {
	if ev == 0 {
		return "none"
	}
	names := []struct {
		bit  uint32
		name string
	}{
		{unix.EPOLLIN, "IN"}, {unix.EPOLLOUT, "OUT"}, {unix.EPOLLERR, "ERR"},
		{unix.EPOLLHUP, "HUP"}, {unix.EPOLLRDHUP, "RDHUP"},
	}
	s := ""
	for _, n := range names {
		if ev&n.bit != 0 {
			if s != "" {
				s += "|"
			}
			s += n.name
		}
	}
	return s
}

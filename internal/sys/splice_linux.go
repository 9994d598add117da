//go:build linux && !epollnet_portable

package sys

import (
	"syscall"

	"golang.org/x/sys/unix"
)

// Pipe returns a non-blocking, close-on-exec pipe: its read end, then its
// write end. It carries a relay's bytes between two sockets in the kernel
// (Splice).
func Pipe() (r, w int, err error) {
	var p [2]int
	if err := unix.Pipe2(p[:], unix.O_NONBLOCK|unix.O_CLOEXEC); err != nil {
		return -1, -1, Wrap("pipe2", err)
	}
	return p[0], p[1], nil
}

// Splice moves up to n bytes from descriptor in to descriptor out, one of
// which must be a pipe, without copying them through user space, retrying
// EINTR. It never blocks (SPLICE_F_NONBLOCK covers the pipe; the sockets
// are non-blocking), and SPLICE_F_MOVE lets the kernel move pages rather
// than copy them where it can. 0 with a nil error is the socket's EOF.
// Errors are bare errnos, as Read's are.
func Splice(in, out, n int) (int, error) {
	for {
		m, _, e := syscall.RawSyscall6(unix.SYS_SPLICE, uintptr(in), 0, uintptr(out), 0, uintptr(n),
			unix.SPLICE_F_NONBLOCK|unix.SPLICE_F_MOVE)
		switch e {
		case 0:
			return int(m), nil
		case unix.EINTR:
			continue
		}
		return 0, e
	}
}

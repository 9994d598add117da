//go:build !linux || epollnet_portable

package sys

import (
	"errors"
	"io"
	"net"
	"os"
	"syscall"
)

// errnoOf turns an error of the net package into the errno that the same
// failure gives on Linux, so the engine's checks (EAGAIN, ECONNRESET,
// EPIPE...) and Classify work unchanged. Platform codes are mapped by
// mapErrno (errno_windows.go on Windows).
func errnoOf(err error) syscall.Errno {
	var errno syscall.Errno
	switch {
	case err == nil:
		return 0
	case errors.As(err, &errno):
		return mapErrno(errno)
	case errors.Is(err, io.EOF), errors.Is(err, net.ErrClosed):
		return syscall.EPIPE
	case errors.Is(err, os.ErrDeadlineExceeded):
		return syscall.ETIMEDOUT
	}
	var ne net.Error
	if errors.As(err, &ne) && ne.Timeout() {
		return syscall.ETIMEDOUT
	}
	return syscall.EIO
}

// errnoOrNil is errnoOf with nil for no error.
func errnoOrNil(err error) error {
	if err == nil {
		return nil
	}
	return errnoOf(err)
}

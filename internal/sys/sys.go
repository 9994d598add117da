// Package sys is the lowest layer of epollnet: thin wrappers over the socket
// and epoll system calls that retry EINTR, never raise SIGPIPE, and expose
// function variables as fault-injection seams for tests (in the spirit of Go's
// internal/poll/hook_unix.go).
//
// Functions return the raw errno (a syscall.Errno) so that the hot path can
// compare against EAGAIN without allocating; callers wrap an error with the
// name of the system call, using Wrap, only when they surface it.
package sys

import (
	"errors"
	"os"
)

// ErrUnsupported is returned, by the portable backend, for what only the
// Linux epoll backend can do: adopt a descriptor made outside the engine.
var ErrUnsupported = errors.New("epollnet: not supported by the portable backend: needs the Linux epoll backend")

// Wrap names the system call that failed: Wrap("accept4", EMFILE) reads
// "accept4: too many open files" and still matches errors.Is(err, EMFILE).
// A nil err stays nil.
func Wrap(syscallName string, err error) error {
	if err == nil {
		return nil
	}
	return os.NewSyscallError(syscallName, err)
}

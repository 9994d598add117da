//go:build (linux && epollnet_portable) || freebsd

package sys

import "syscall"

// msgNoSignal keeps a send to a reset connection from raising SIGPIPE.
const msgNoSignal = syscall.MSG_NOSIGNAL

// noSigPipe needs no socket option where sends take MSG_NOSIGNAL.
func noSigPipe(fd uintptr) {}

//go:build darwin

package sys

import "syscall"

// msgNoSignal is 0: Darwin has no MSG_NOSIGNAL, noSigPipe sets
// SO_NOSIGPIPE on the socket instead.
const msgNoSignal = 0

func noSigPipe(fd uintptr) {
	syscall.SetsockoptInt(int(fd), syscall.SOL_SOCKET, syscall.SO_NOSIGPIPE, 1)
}

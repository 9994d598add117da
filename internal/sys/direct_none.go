//go:build !linux && !freebsd && !darwin

package sys

import (
	"net"
	"syscall"
)

// rawConnOf returns nil: on this platform every send goes through the
// writer goroutine.
func rawConnOf(c net.Conn) syscall.RawConn { return nil }

func directSend(rc syscall.RawConn, bufs [][]byte, limit int) (int, syscall.Errno) {
	return 0, 0
}

//go:build (linux && epollnet_portable) || freebsd || darwin

package sys

import (
	"net"
	"syscall"
)

// rawConnOf returns the connection's syscall.RawConn for direct sends.
func rawConnOf(c net.Conn) syscall.RawConn {
	sc, ok := c.(syscall.Conn)
	if !ok {
		return nil
	}
	rc, err := sc.SyscallConn()
	if err != nil {
		return nil
	}
	rc.Control(noSigPipe)
	return rc
}

// directSend writes what the socket takes of the first limit buffers now,
// without blocking: the path of a Send that finds the writer idle, so a
// reply leaves without a goroutine hand-off. It stops at the first short
// write; EAGAIN is not an error here.
func directSend(rc syscall.RawConn, bufs [][]byte, limit int) (int, syscall.Errno) {
	n, werr := 0, syscall.Errno(0)
	err := rc.Write(func(fd uintptr) bool {
		for i, b := range bufs {
			if i == limit {
				break
			}
			if len(b) == 0 {
				continue
			}
			m, e := sendOnce(int(fd), b)
			n += m
			if e != 0 || m < len(b) {
				if e != syscall.EAGAIN {
					werr = e
				}
				break
			}
		}
		return true // never wait: the writer goroutine takes what is left
	})
	if err != nil && werr == 0 {
		werr = errnoOf(err)
	}
	return n, werr
}

func sendOnce(fd int, b []byte) (int, syscall.Errno) {
	for {
		m, err := syscall.SendmsgN(fd, b, nil, nil, msgNoSignal)
		switch {
		case err == nil:
			return m, 0
		case err == syscall.EINTR:
			continue
		}
		if e, ok := err.(syscall.Errno); ok {
			return 0, e
		}
		return 0, syscall.EIO
	}
}

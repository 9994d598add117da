package clitest

import (
	"bytes"
	"errors"
	"io"
	"net"
	"syscall"
	"testing"
	"time"
)

// Dial connects to a TCP addr, failing t if it cannot; the test's cleanup
// closes the connection.
func Dial(t *testing.T, addr string) net.Conn {
	t.Helper()
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

// ReadAll reads c until EOF or a reset (closed true) or until nothing
// arrives for quiet (closed false), and returns what it read.
func ReadAll(t *testing.T, c net.Conn, quiet time.Duration) (got string, closed bool) {
	t.Helper()
	var b bytes.Buffer
	buf := make([]byte, 64<<10)
	for {
		c.SetReadDeadline(time.Now().Add(quiet))
		n, err := c.Read(buf)
		b.Write(buf[:n])
		var ne net.Error
		switch {
		case err == nil:
		case errors.Is(err, io.EOF), errors.Is(err, syscall.ECONNRESET):
			return b.String(), true
		case errors.As(err, &ne) && ne.Timeout():
			return b.String(), false
		default:
			t.Fatalf("read: %v", err)
		}
	}
}

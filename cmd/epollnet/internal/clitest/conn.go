package clitest

import (
	"bytes"
	"crypto/rand"
	"errors"
	"fmt"
	"io"
	"net"
	"strings"
	"sync"
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

// Stream sends payload to a TCP addr, half-closes, and returns what came
// back until the peer's FIN: one echo, byte for byte, with half-close.
func Stream(addr string, payload []byte) ([]byte, error) {
	c, err := net.DialTimeout("tcp", addr, 5*time.Second)
	if err != nil {
		return nil, err
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(30 * time.Second))
	werr := make(chan error, 1)
	go func() {
		_, err := c.Write(payload)
		if err == nil {
			err = c.(*net.TCPConn).CloseWrite()
		}
		werr <- err
	}()
	got, err := io.ReadAll(c)
	if e := <-werr; err == nil {
		err = e
	}
	return got, err
}

// Streams runs n concurrent Streams of random bytes of size bytes each through addr and
// returns the error of each (nil when the echo came back whole and equal).
func Streams(addr string, n, size int) []error {
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			payload := make([]byte, size)
			rand.Read(payload)
			got, err := Stream(addr, payload)
			if err == nil && !bytes.Equal(got, payload) {
				err = fmt.Errorf("echo of %d bytes: got %d bytes, equal prefix %v", size, len(got), bytes.HasPrefix(payload, got))
			}
			errs[i] = err
		}()
	}
	wg.Wait()
	return errs
}

// Failures summarizes Streams' errors: "0 failed", or how many and the
// first three.
func Failures(errs []error) string {
	var b strings.Builder
	n := 0
	for i, err := range errs {
		if err != nil {
			n++
			if n <= 3 {
				fmt.Fprintf(&b, "\n  stream %d: %v", i, err)
			}
		}
	}
	return fmt.Sprintf("%d failed%s", n, b.String())
}

//go:build linux

package epollnet

import (
	"bytes"
	"io"
	"net"
	"testing"
	"time"

	"github.com/epollnet/epollnet/internal/nettest"
	"golang.org/x/sys/unix"
)

// captureProxy is a relayProxy that hands each accepted connection to the
// test.
type captureProxy struct {
	*relayProxy
	downs chan *Conn
}

func (p captureProxy) OnOpen(down *Conn) {
	p.relayProxy.OnOpen(down)
	p.downs <- down
}

// countingBackend accepts one connection and reports on the returned
// channel once it has read want bytes, and again at the client's EOF with
// the total.
func countingBackend(t *testing.T, want int) (string, <-chan int) {
	t.Helper()
	bl, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { bl.Close() })
	got := make(chan int, 2)
	go func() {
		c, err := bl.Accept()
		if err != nil {
			return
		}
		defer c.Close()
		buf := make([]byte, 64<<10)
		total := 0
		for {
			n, err := c.Read(buf)
			if total < want && total+n >= want {
				got <- total + n
			}
			total += n
			if err != nil {
				got <- total
				return
			}
		}
	}()
	return bl.Addr().String(), got
}

// holdLoop blocks l until the returned function is called.
func holdLoop(t *testing.T, l *loop) func() {
	t.Helper()
	held, release := make(chan struct{}), make(chan struct{})
	l.post(func() {
		close(held)
		<-release
	})
	recv(t, held, "the loop to run the holding task")
	return func() { close(release) }
}

// waitInQueue waits until fd's receive queue holds n bytes.
func waitInQueue(t *testing.T, fd, n int) {
	t.Helper()
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(time.Millisecond) {
		q, err := unix.IoctlGetInt(fd, unix.SIOCINQ)
		if err != nil {
			t.Fatal(err)
		}
		if q >= n {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("receive queue holds %d bytes, want %d", q, n)
		}
	}
}

// TestSpliceReadsPastPipeSlots: a splice from a socket into a pipe stops
// when the pipe's 16 buffers are used, one or more per queued segment,
// long before 64 KiB when the peer sent many small segments. The short
// splice does not mean the receive queue is empty, and an edge-triggered
// registration does not report what is already queued: the relay used to
// stop there, and the rest waited for the peer's next bytes (for ever, if
// it waits for an answer).
func TestSpliceReadsPastPipeSlots(t *testing.T) {
	nettest.NeedEpoll(t, "splice(2) through a kernel pipe")
	const msgs, size = 4000, 8
	backend, got := countingBackend(t, 1+msgs*size)
	e := newEngine(t, Options{Loops: 1})
	p := captureProxy{newRelayProxy(backend), make(chan *Conn, 1)}
	p.splice = true
	ln := listen(t, e, p, nil)
	c := dialTCP(t, ln)
	down := recv(t, p.downs, "the accepted connection")
	// The first byte may be copied while the upstream connects; the rest
	// is spliced.
	if _, err := c.Write([]byte("x")); err != nil {
		t.Fatal(err)
	}
	release := holdLoop(t, e.loops[0])
	msg := bytes.Repeat([]byte("m"), size)
	for range msgs {
		if _, err := c.Write(msg); err != nil {
			release()
			t.Fatal(err)
		}
	}
	waitInQueue(t, down.fd, msgs*size)
	release()
	if n := recv(t, got, "every byte at the backend"); n != 1+msgs*size {
		t.Fatalf("backend read %d bytes, want %d", n, 1+msgs*size)
	}
	c.CloseWrite()
	io.Copy(io.Discard, c)
	r := recv(t, p.results, "the pipe's result")
	if r.Spliced == 0 || r.AToB != 1+msgs*size {
		t.Fatalf("relayed %d bytes, %d spliced; want %d, spliced", r.AToB, r.Spliced, 1+msgs*size)
	}
}

//go:build linux

package epollnet

import (
	"bytes"
	"errors"
	"io"
	"net"
	"syscall"
	"testing"
	"time"

	"github.com/epollnet/epollnet/internal/nettest"
)

// TestGracefulCloseDeliversEverythingToASlowReader: a graceful close's
// flush is bounded by progress, not by the clock. The handler queues
// 8 MiB and closes; the peer reads in small, paced reads, so the flush
// takes several times LingerTimeout. It gets every byte, then EOF, and no
// reset: LingerTimeout only starts once the output went to the kernel and
// the FIN was sent.
func TestGracefulCloseDeliversEverythingToASlowReader(t *testing.T) {
	const linger = 200 * time.Millisecond
	e := newEngine(t, Options{Loops: 1, LingerTimeout: linger})
	payload := make([]byte, 8<<20)
	for i := range payload {
		payload[i] = byte(i * 7)
	}
	h := &writeThenClose{payload: payload, closed: make(chan error, 1)}
	ln := listen(t, e, h, nil)
	c := dialTCP(t, ln)
	c.SetDeadline(time.Now().Add(30 * time.Second))
	start := time.Now()
	got := make([]byte, 0, len(payload))
	buf := make([]byte, 32<<10)
	for {
		n, err := c.Read(buf)
		got = append(got, buf[:n]...)
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			t.Fatalf("after %d bytes: %v (want every byte, then EOF)", len(got), err)
		}
		time.Sleep(2 * time.Millisecond) // a slow reader's pace: 8 MiB in about 0.5 s or more
	}
	took := time.Since(start)
	if !bytes.Equal(got, payload) {
		t.Fatalf("received %d bytes, want %d identical", len(got), len(payload))
	}
	if err := recv(t, h.closed, "OnClose"); err != nil {
		t.Fatalf("OnClose reason %v, want nil", err)
	}
	if took < linger {
		t.Logf("the read took %v, under LingerTimeout: this run did not exercise a slow flush", took)
	}
}

// TestGracefulCloseToAStalledReaderTimesOut: a peer that reads nothing
// while a graceful close has output queued is reset after SendTimeout
// without progress, and OnClose says so with ErrSendTimeout, a net.Error
// timeout.
func TestGracefulCloseToAStalledReaderTimesOut(t *testing.T) {
	e := newEngine(t, Options{Loops: 1, SendTimeout: 100 * time.Millisecond, LingerTimeout: time.Minute})
	h := &writeThenClose{payload: make([]byte, 16<<20), closed: make(chan error, 1)}
	ln := listen(t, e, h, nil)
	c := dialTCP(t, ln)
	start := time.Now()
	err := recv(t, h.closed, "OnClose")
	var ne net.Error
	if !errors.Is(err, ErrSendTimeout) || !errors.As(err, &ne) || !ne.Timeout() {
		t.Fatalf("OnClose reason %v, want ErrSendTimeout as a net.Error timeout", err)
	}
	if took := time.Since(start); took > 20*time.Second {
		t.Errorf("the stalled close took %v", took) // bounded by SendTimeout, not LingerTimeout
	}
	// The peer sees what was sent before the reset, then the reset.
	c.SetReadDeadline(time.Now().Add(10 * time.Second))
	_, rerr := io.Copy(io.Discard, c)
	if !errors.Is(rerr, syscall.ECONNRESET) {
		t.Errorf("peer's read ended with %v, want ECONNRESET", rerr)
	}
}

// TestSendTimeoutCountsFromTheLastProgress: a reader that pauses for less
// than SendTimeout between reads, again and again for longer than
// SendTimeout in all, is not cut off: the clock restarts whenever the
// kernel takes bytes.
func TestSendTimeoutCountsFromTheLastProgress(t *testing.T) {
	// Generous against a loaded machine: a reader starved for longer than
	// SendTimeout really is a stalled one.
	const sendTimeout = time.Second
	e := newEngine(t, Options{Loops: 1, SendTimeout: sendTimeout})
	payload := bytes.Repeat([]byte{0xA5}, 16<<20)
	h := &writeThenClose{payload: payload, closed: make(chan error, 1)}
	ln := listen(t, e, h, nil)
	c := dialTCP(t, ln)
	c.SetDeadline(time.Now().Add(60 * time.Second))
	total, pauses := 0, 0
	buf := make([]byte, 1<<20)
	for {
		n, err := c.Read(buf)
		total += n
		if err != nil {
			if !errors.Is(err, io.EOF) {
				t.Fatalf("after %d bytes and %d pauses: %v (OnClose: %v)", total, pauses, err, recv(t, h.closed, "OnClose"))
			}
			break
		}
		if total > 4<<20 && pauses < 4 {
			time.Sleep(sendTimeout * 2 / 5) // under SendTimeout each; 1.6× it in all
			pauses++
		}
	}
	if total != len(payload) {
		t.Fatalf("received %d bytes, want %d", total, len(payload))
	}
	if err := recv(t, h.closed, "OnClose"); err != nil {
		t.Fatalf("OnClose reason %v, want nil", err)
	}
}

// TestLingerTimeoutCutsAPeerThatStoppedReading: the output went to the
// kernel and the FIN was sent, but the peer (a 4 KiB receive buffer, never
// read) acknowledges nothing more: after LingerTimeout without progress
// the connection is reset with ErrLingerTimeout, a net.Error timeout.
func TestLingerTimeoutCutsAPeerThatStoppedReading(t *testing.T) {
	nettest.NeedEpoll(t, "SIOCOUTQ sees unacknowledged bytes")
	e := newEngine(t, Options{Loops: 1, LingerTimeout: 100 * time.Millisecond, SendTimeout: time.Minute})
	h := &writeThenClose{payload: make([]byte, 48<<10), closed: make(chan error, 1)}
	ln := listen(t, e, h, nil)
	d := net.Dialer{Control: func(_, _ string, rc syscall.RawConn) error {
		return rc.Control(func(fd uintptr) {
			syscall.SetsockoptInt(int(fd), syscall.SOL_SOCKET, syscall.SO_RCVBUF, 4096)
		})
	}}
	c, err := d.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	err = recv(t, h.closed, "OnClose")
	var ne net.Error
	if !errors.Is(err, ErrLingerTimeout) || !errors.As(err, &ne) || !ne.Timeout() {
		t.Fatalf("OnClose reason %v, want ErrLingerTimeout as a net.Error timeout", err)
	}
}

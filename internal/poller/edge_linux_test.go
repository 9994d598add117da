//go:build linux && !epollnet_portable

package poller

import (
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// tcpPair returns the two ends of a loopback TCP connection, non-blocking,
// closed when the test ends.
func tcpPair(t *testing.T) (a, b int) {
	t.Helper()
	ln, err := unix.Socket(unix.AF_INET, unix.SOCK_STREAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer unix.Close(ln)
	lo := &unix.SockaddrInet4{Addr: [4]byte{127, 0, 0, 1}}
	if err := unix.Bind(ln, lo); err != nil {
		t.Fatal(err)
	}
	if err := unix.Listen(ln, 1); err != nil {
		t.Fatal(err)
	}
	sa, err := unix.Getsockname(ln)
	if err != nil {
		t.Fatal(err)
	}
	a, err = unix.Socket(unix.AF_INET, unix.SOCK_STREAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { unix.Close(a) })
	if err := unix.Connect(a, sa); err != nil { // blocking: loopback completes at once
		t.Fatal(err)
	}
	b, _, err = unix.Accept4(ln, unix.SOCK_CLOEXEC)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { unix.Close(b) })
	for _, fd := range []int{a, b} {
		if err := unix.SetNonblock(fd, true); err != nil {
			t.Fatal(err)
		}
	}
	return a, b
}

// events waits up to d for fd's events, reporting 0 for none.
func events(t *testing.T, p *Poller, d time.Duration) Events {
	t.Helper()
	n, err := p.Wait(d)
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i < n; i++ {
		if tag, ev := p.Event(i); tag.FD >= 0 {
			return ev
		}
	}
	return 0
}

func newPoller(t *testing.T) *Poller {
	t.Helper()
	p, err := New(8)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { p.Close() })
	return p
}

// TestEdgeTriggeredShortReadThenNewDataReportsAgain: under EPOLLET a
// readable socket is reported once; a read shorter than the buffer empties
// the receive queue, no event follows while nothing new arrives, and data
// arriving later is reported again. This is what lets the engine stop
// reading at a short read without missing anything (the engine's interest.go).
func TestEdgeTriggeredShortReadThenNewDataReportsAgain(t *testing.T) {
	a, b := tcpPair(t)
	p := newPoller(t)
	if err := p.Add(b, 1, Readable|Edge); err != nil {
		t.Fatal(err)
	}
	unix.Write(a, make([]byte, 100))
	if ev := events(t, p, time.Second); ev&Readable == 0 {
		t.Fatalf("after a write: %v, want IN", ev)
	}
	buf := make([]byte, 4096)
	if n, _ := unix.Read(b, buf); n != 100 {
		t.Fatalf("read %d, want all 100 bytes in one short read", n)
	}
	if ev := events(t, p, 0); ev != 0 {
		t.Fatalf("after the short read, with nothing new: %v, want no event", ev)
	}
	unix.Write(a, make([]byte, 50))
	if ev := events(t, p, time.Second); ev&Readable == 0 {
		t.Fatalf("after new data: %v, want IN again", ev)
	}
	// And data left unread is not reported again by itself: the case the
	// engine must handle with readAgain.
	if ev := events(t, p, 0); ev != 0 {
		t.Fatalf("50 bytes unread, nothing new: %v, want no event (edge-triggered)", ev)
	}
}

// TestEdgeTriggeredFullSendReportsOutWhenSpaceFrees: a send that finds the
// buffer full (EAGAIN) marks the socket (SOCK_NOSPACE), and once the peer
// reads enough, EPOLLOUT is reported as a new edge. A partial send does the
// same. This is what lets flush stop at a short write (the engine's conn_io.go).
func TestEdgeTriggeredFullSendReportsOutWhenSpaceFrees(t *testing.T) {
	a, b := tcpPair(t)
	p := newPoller(t)
	if err := p.Add(a, 1, Writable|Edge); err != nil {
		t.Fatal(err)
	}
	if ev := events(t, p, time.Second); ev&Writable == 0 {
		t.Fatalf("a fresh connection: %v, want OUT", ev)
	}
	chunk := make([]byte, 64<<10)
	for {
		_, err := unix.SendmsgN(a, chunk, nil, nil, unix.MSG_DONTWAIT)
		if err == unix.EAGAIN {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
	}
	if ev := events(t, p, 0); ev&Writable != 0 {
		t.Fatalf("with the send buffer full: %v, want no OUT", ev)
	}
	buf := make([]byte, 1<<20)
	for drained := 0; drained < 4<<20; {
		n, err := unix.Read(b, buf)
		if err == unix.EAGAIN {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		drained += n
	}
	if ev := events(t, p, time.Second); ev&Writable == 0 {
		t.Fatalf("after the peer read everything: %v, want OUT as a new edge", ev)
	}
}

// TestEventsStringShowsPriorityAndEdge: traces spell the interest of a TCP
// connection as registered, urgent data and edge-triggering included.
func TestEventsStringShowsPriorityAndEdge(t *testing.T) {
	if got := (Readable | Priority | ReadHangup | Edge).String(); got != "IN|PRI|RDHUP|ET" {
		t.Fatalf("String = %q, want IN|PRI|RDHUP|ET", got)
	}
	if got := Edge.String(); got != "ET" {
		t.Fatalf("Edge alone = %q, want ET (an interest of nothing but ERR/HUP)", got)
	}
}

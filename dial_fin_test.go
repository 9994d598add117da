//go:build linux

package epollnet

import (
	"io"
	"net"
	"testing"

	"github.com/epollnet/epollnet/internal/nettest"
	"golang.org/x/sys/unix"
)

// finFirstDialer dials from the loop goroutine (in OnOpen of an accepted
// connection) and keeps the loop busy until the dialed socket has the
// server's bytes and FIN, so that the connect's end, the input and the
// FIN reach the loop in one edge-triggered event.
type finFirstDialer struct {
	BaseHandler
	backend string
	up      *recorder
	err     chan error
}

func (d *finFirstDialer) OnOpen(down *Conn) {
	up, err := down.DialAsync("tcp", d.backend, d.up, nil)
	if err != nil {
		d.err <- err
		return
	}
	// The dial's connect is a task of the loop's; this one runs after it.
	down.loop.post(func() {
		fds := []unix.PollFd{{Fd: int32(up.fd), Events: unix.POLLRDHUP}}
		_, err := unix.Poll(fds, 10000)
		if err == nil && fds[0].Revents&unix.POLLRDHUP == 0 {
			err = io.ErrNoProgress // no FIN within 10 s
		}
		d.err <- err
	})
}

// TestDialReadsFINThatCameWithConnect: a server that sends a banner and
// its FIN at once can have both in the dialed socket before the loop
// handles the connect's end; the event reports OUT, IN and RDHUP together,
// and the connection must still get the banner and then OnReadEOF. The
// open read the input next round as plain input, stopped at the short
// read, and never saw the FIN again (edge-triggered): the connection
// hung.
func TestDialReadsFINThatCameWithConnect(t *testing.T) {
	nettest.NeedEpoll(t, "poll(2) on the dialed descriptor")
	bl, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer bl.Close()
	go func() {
		c, err := bl.Accept()
		if err != nil {
			return
		}
		defer c.Close()
		c.Write([]byte("banner"))
		c.(*net.TCPConn).CloseWrite()
		io.Copy(io.Discard, c)
	}()
	e := newEngine(t, Options{Loops: 1})
	d := &finFirstDialer{backend: bl.Addr().String(), up: newRecorder(), err: make(chan error, 1)}
	d.up.onEOF = func(*Conn) {} // keep it open: the test closes
	ln := listen(t, e, d, nil)
	c := dialTCP(t, ln)
	defer c.Close()
	if err := recv(t, d.err, "the dial and the banner's FIN"); err != nil {
		t.Fatal(err)
	}
	up := recv(t, d.up.opened, "OnOpen of the dialed connection")
	recv(t, d.up.eof, "OnReadEOF after the banner")
	if got := string(d.up.bytes()); got != "banner" {
		t.Fatalf("read %q before the FIN, want %q", got, "banner")
	}
	up.Close()
	recv(t, d.up.closed, "OnClose")
}

//go:build linux

package epollnet

import (
	"errors"
	"net"
	"sync"
	"testing"
)

// TestCloseAtPeerEOFCostsNoMod: the usual end of a server connection (the
// peer sends, then its FIN; the handler echoes and closes in OnReadEOF)
// registers and deregisters the socket and changes nothing in between:
// epoll_ctl ADD, then DEL, with no MOD dropping the read interest first,
// since the close removes the registration in the same round.
func TestCloseAtPeerEOFCostsNoMod(t *testing.T) {
	var mu sync.Mutex
	ops := map[int][]string{} // per accepted descriptor
	tr := func(ev *TraceEvent) {
		if ev.Kind == TraceInterest && ev.Role == RoleAccepted {
			mu.Lock()
			ops[ev.FD] = append(ops[ev.FD], ev.Detail)
			mu.Unlock()
		}
	}
	e := newEngine(t, Options{Loops: 1, Tracer: tr})
	r := newRecorder()
	r.onData = func(c *Conn, in []byte) int { c.Write(in); return len(in) }
	ln := listen(t, e, r, nil) // BaseHandler's OnReadEOF: Close
	c, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.Write([]byte("ping"))
	c.(*net.TCPConn).CloseWrite()
	if err := recv(t, r.closed, "OnClose"); !errors.Is(err, ErrPeerClosed) {
		t.Fatalf("close reason %v, want ErrPeerClosed", err)
	}
	mu.Lock()
	defer mu.Unlock()
	if len(ops) != 1 {
		t.Fatalf("epoll_ctl on %d accepted descriptors: %v", len(ops), ops)
	}
	for fd, seq := range ops {
		if len(seq) != 1 || seq[0] != "add" {
			t.Fatalf("fd %d: epoll_ctl %v, want add alone (close removes it)", fd, seq)
		}
	}
}

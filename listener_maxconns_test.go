//go:build linux

package epollnet

import (
	"errors"
	"fmt"
	"net"
	"testing"
	"time"
)

// TestListenerMaxConnsQueuesInTheKernel: at ListenConfig.MaxConns the
// listener stops accepting; the next client completes its handshake with
// the kernel (the accept queue) and is accepted as soon as a connection
// closes, on whichever loop it lives. With one loop, a shared listener
// handing off to two loops, and SO_REUSEPORT listeners on two loops.
func TestListenerMaxConnsQueuesInTheKernel(t *testing.T) {
	for _, tc := range []struct {
		loops     int
		reusePort bool
	}{{1, false}, {2, false}, {2, true}} {
		t.Run(fmt.Sprintf("loops=%d reuseport=%v", tc.loops, tc.reusePort), func(t *testing.T) {
			e := newEngine(t, Options{Loops: tc.loops})
			r := newRecorder()
			ln := listen(t, e, r, &ListenConfig{MaxConns: 3, ReusePort: tc.reusePort})
			var open []*Conn
			for range 3 {
				dialTCP(t, ln)
				open = append(open, recv(t, r.opened, "OnOpen under the cap"))
			}
			waiting := dialTCP(t, ln) // the kernel completes the handshake
			if _, err := waiting.Write([]byte("x")); err != nil {
				t.Fatal(err)
			}
			select {
			case c := <-r.opened:
				t.Fatalf("connection %d opened above MaxConns", c.ID())
			case <-time.After(200 * time.Millisecond):
			}
			if st := e.Stats().Total; st.Conns != 3 || st.CapPauses == 0 || st.Accepted != 3 {
				t.Fatalf("at the cap: %d open, %d cap pauses, %d accepted; want 3, >0, 3", st.Conns, st.CapPauses, st.Accepted)
			}
			open[0].Close()
			recv(t, r.opened, "OnOpen once a connection closed")
			if st := e.Stats().Total; st.Accepted != 4 {
				t.Fatalf("%d accepted, want 4", st.Accepted)
			}
		})
	}
}

func TestListenerMaxConnsNegative(t *testing.T) {
	e := newEngine(t, Options{Loops: 1})
	_, err := e.Listen("tcp", "127.0.0.1:0", echoHandler{}, &ListenConfig{MaxConns: -1})
	var oe *net.OpError
	if err == nil || !errors.As(err, &oe) || oe.Op != "listen" {
		t.Fatalf("Listen with MaxConns -1: %v, want a listen *net.OpError", err)
	}
}

//go:build linux

package epollnet

import (
	"context"
	"net"
	"sync/atomic"
	"testing"

	"github.com/epollnet/epollnet/internal/nettest"
	"github.com/epollnet/epollnet/internal/sys"
	"golang.org/x/sys/unix"
)

// TestForeignSocketsCloseThroughTheScheduler: a connection accepted from
// a listener the engine created is closed with a raw system call
// (sys.CloseSocket), since the engine never gives a socket a positive
// SO_LINGER and close cannot block; one accepted from a listener it did
// not create (ListenFrom) inherits whatever SO_LINGER that socket has, and
// is closed with the scheduler told (sys.Close), like a dialed socket made
// by DialConfig.Socket.
func TestForeignSocketsCloseThroughTheScheduler(t *testing.T) {
	nettest.NeedEpoll(t, "ListenFrom, DialConfig.Socket and the raw close(2) of the engine's own sockets")
	var raw, plain atomic.Int32
	realRaw, realPlain := sys.CloseSocketFunc, sys.CloseFunc
	sys.CloseSocketFunc = func(fd int) error { raw.Add(1); return realRaw(fd) }
	sys.CloseFunc = func(fd int) error { plain.Add(1); return realPlain(fd) }
	t.Cleanup(func() { sys.CloseSocketFunc, sys.CloseFunc = realRaw, realPlain }) // after the engine's cleanup
	e := newEngine(t, Options{Loops: 1})
	r := newRecorder()
	own := listen(t, e, r, nil)
	nl, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer nl.Close()
	foreign, err := e.ListenFrom(nl, r, nil)
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name             string
		ln               *Listener
		wantRaw, wantSys int32
	}{
		{"own listener", own, 1, 0},
		{"ListenFrom", foreign, 0, 1},
	} {
		raw0, plain0 := raw.Load(), plain.Load()
		c := dialTCP(t, tc.ln)
		recv(t, r.opened, "OnOpen")
		c.Close() // the server closes at the FIN (BaseHandler.OnReadEOF)
		recv(t, r.closed, "OnClose")
		if got, gotSys := raw.Load()-raw0, plain.Load()-plain0; got != tc.wantRaw || gotSys != tc.wantSys {
			t.Errorf("%s: %d raw closes and %d through the scheduler, want %d and %d", tc.name, got, gotSys, tc.wantRaw, tc.wantSys)
		}
	}

	// A dial through DialConfig.Socket: its socket is the user's, closed
	// through the scheduler; the accepted end is the engine's own.
	raw0, plain0 := raw.Load(), plain.Load()
	d := newRecorder()
	cfg := &DialConfig{Socket: func(family, sotype, proto int) (int, error) { return unix.Socket(family, sotype, proto) }}
	dc, err := e.Dial(context.Background(), "tcp", own.Addr().String(), d, cfg)
	if err != nil {
		t.Fatal(err)
	}
	recv(t, r.opened, "OnOpen of the accepted end")
	dc.Close()
	recv(t, d.closed, "OnClose of the dialed end")
	recv(t, r.closed, "OnClose of the accepted end")
	if got, gotSys := raw.Load()-raw0, plain.Load()-plain0; got != 1 || gotSys != 1 {
		t.Errorf("DialConfig.Socket: %d raw closes and %d through the scheduler, want 1 and 1", got, gotSys)
	}
}

//go:build linux

package epollnet

import (
	"context"
	"errors"
	"syscall"
	"testing"
	"time"

	"github.com/epollnet/epollnet/internal/nettest"
)

// snapshot returns the events recorded so far (traceLog is the
// conformance suite's recorder).
func (tl *traceLog) snapshot() []TraceEvent {
	tl.mu.Lock()
	defer tl.mu.Unlock()
	return append([]TraceEvent(nil), tl.evs...)
}

// index returns the position of the first event matching, or -1.
func index(evs []TraceEvent, match func(TraceEvent) bool) int {
	for i, ev := range evs {
		if match(ev) {
			return i
		}
	}
	return -1
}

func TestTraceRecordsTheHandshake(t *testing.T) {
	nettest.NeedEpoll(t, "TCP_INFO states in the trace")
	tl := newTraceLog()
	e := newEngine(t, Options{Loops: 1, Tracer: tl.record})
	srv := newRecorder()
	ln := listen(t, e, srv, nil)
	syncLoops(e)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	cli := newRecorder()
	c, err := e.Dial(ctx, "tcp", ln.Addr().String(), cli, nil)
	if err != nil {
		t.Fatal(err)
	}
	recv(t, srv.opened, "server OnOpen")
	c.Write([]byte("hi"))
	c.Close()
	recv(t, cli.closed, "client OnClose")
	recv(t, srv.closed, "server OnClose")
	evs := tl.snapshot()
	dialed := func(k TraceKind) func(TraceEvent) bool {
		return func(ev TraceEvent) bool { return ev.Role == RoleDialed && ev.Kind == k }
	}
	steps := []struct {
		name  string
		match func(TraceEvent) bool
	}{
		{"listen", func(ev TraceEvent) bool { return ev.Kind == TraceListen && ev.Role == RoleListener }},
		{"socket", dialed(TraceSocket)},
		{"connect EINPROGRESS", func(ev TraceEvent) bool {
			return ev.Role == RoleDialed && ev.Kind == TraceConnect && errors.Is(ev.Err, syscall.EINPROGRESS)
		}},
		{"client OUT", func(ev TraceEvent) bool {
			return ev.Role == RoleDialed && ev.Kind == TraceReady && ev.Ready&ReadyOut != 0
		}},
		{"SO_ERROR 0", func(ev TraceEvent) bool { return ev.Role == RoleDialed && ev.Kind == TraceSOError && ev.Err == nil }},
		{"client open", dialed(TraceOpen)},
	}
	last := -1
	for _, s := range steps {
		i := index(evs, s.match)
		if i < 0 {
			t.Fatalf("no %s event in trace:\n%v", s.name, evs)
		}
		if i < last {
			t.Fatalf("%s at %d comes before the previous step at %d", s.name, i, last)
		}
		last = i
	}
	lnReady := index(evs, func(ev TraceEvent) bool {
		return ev.Role == RoleListener && ev.Kind == TraceReady && ev.Ready&ReadyIn != 0
	})
	accepted := index(evs, func(ev TraceEvent) bool { return ev.Kind == TraceAccept && ev.Err == nil && ev.N > 0 })
	drained := index(evs, func(ev TraceEvent) bool { return ev.Kind == TraceAccept && errors.Is(ev.Err, syscall.EAGAIN) })
	if lnReady < 0 || accepted < lnReady || drained < accepted {
		t.Fatalf("listener IN %d, accept4 %d, accept4 EAGAIN %d: want that order", lnReady, accepted, drained)
	}
	if ev := evs[index(evs, dialed(TraceReady))]; ev.TCPState != 1 {
		t.Fatalf("client readiness in TCP state %v, want ESTABLISHED", ev.TCPState)
	}
	for i := 1; i < len(evs); i++ {
		if evs[i].Loop == evs[i-1].Loop && evs[i].Time < evs[i-1].Time {
			t.Fatalf("time went backwards at event %d", i)
		}
	}
}

// TestTraceConnTimerCarriesConn: a Conn.AfterFunc timer is traced with its
// connection's id and descriptor; an Engine.AfterFunc timer with neither.
func TestTraceConnTimerCarriesConn(t *testing.T) {
	tl := newTraceLog()
	e := newEngine(t, Options{Loops: 1, Tracer: tl.record})
	srv := newRecorder()
	ln := listen(t, e, srv, nil)
	dialTCP(t, ln)
	c := recv(t, srv.opened, "OnOpen")
	fired := make(chan struct{}, 2)
	c.AfterFunc(time.Millisecond, func() { fired <- struct{}{} })
	e.AfterFunc(time.Millisecond, func() { fired <- struct{}{} })
	recv(t, fired, "first timer")
	recv(t, fired, "second timer")
	var withConn, without int
	for _, ev := range tl.snapshot() {
		if ev.Kind != TraceTimer || ev.Detail != "func" {
			continue
		}
		switch {
		case ev.Conn == c.ID() && ev.FD >= 0 && ev.Role == RoleAccepted:
			withConn++
		case ev.Conn == 0 && ev.FD == -1:
			without++
		default:
			t.Errorf("timer event %+v", ev)
		}
	}
	if withConn != 1 || without != 1 {
		t.Fatalf("%d timer events with the connection, %d without; want 1 and 1", withConn, without)
	}
}

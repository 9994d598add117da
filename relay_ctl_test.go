//go:build linux

package epollnet

import (
	"fmt"
	"sync"
	"testing"

	"github.com/epollnet/epollnet/internal/nettest"
)

// A relayed connection costs each of its two sockets one EPOLL_CTL_ADD,
// nothing more: the dialed socket is registered for input and output from
// the start, and keeps both through the connect, the bytes written before
// it opened and the FINs both ways (see wanted in interest.go), and close()
// removes the registrations (forget). Any MOD or DEL would show here.
func TestRelayedConnectionCostsNoMod(t *testing.T) {
	var mu sync.Mutex
	ops := map[string][]string{} // per role and descriptor
	tr := func(ev *TraceEvent) {
		if ev.Kind == TraceInterest && (ev.Role == RoleAccepted || ev.Role == RoleDialed) {
			mu.Lock()
			k := fmt.Sprintf("%v fd %d", ev.Role, ev.FD)
			ops[k] = append(ops[k], ev.Detail)
			mu.Unlock()
		}
	}
	e := newEngine(t, Options{Loops: 1, Tracer: tr})
	p := newRelayProxy(goEchoBackend(t))
	ln := listen(t, e, p, nil)
	if err := relayRoundTrip(ln.Addr().String(), 1, 1000); err != nil {
		t.Fatal(err)
	}
	if r := recv(t, p.results, "PipeResult"); r.Err() != nil {
		t.Fatalf("pipe: %v / %v", r.AErr, r.BErr)
	}
	mu.Lock()
	defer mu.Unlock()
	if len(ops) != 2 {
		t.Fatalf("epoll_ctl on %d descriptors, want 2: %v", len(ops), ops)
	}
	for k, seq := range ops {
		if len(seq) != 1 || seq[0] != "add" {
			t.Errorf("%s: epoll_ctl %v, want add alone (close removes it)", k, seq)
		}
	}
}

// A client's connection keeps its registration too when its output backs
// up: the first EAGAIN adds EPOLLOUT (a MOD), and later ones cost nothing.
func TestBackedUpOutputArmsOnce(t *testing.T) {
	nettest.NeedEpoll(t, "epoll_ctl counts, and 8 MiB that fill the kernel's buffers (the portable backend's output queue and direct send can take it all)")
	var mu sync.Mutex
	var mods int
	tr := func(ev *TraceEvent) {
		if ev.Kind == TraceInterest && ev.Role == RoleAccepted && ev.Detail == "mod" {
			mu.Lock()
			mods++
			mu.Unlock()
		}
	}
	e := newEngine(t, Options{Loops: 1, Tracer: tr, WriteHighWater: 256 << 10, WriteLowWater: 64 << 10})
	r, cli, c := connect(t, e)
	buf := make([]byte, 1<<20)
	for round := 0; round < 3; round++ {
		c.Write(make([]byte, 8<<20)) // more than the kernel's buffers: EAGAIN
		for got := 0; got < 8<<20; {
			n, err := cli.Read(buf)
			if err != nil {
				t.Fatal(err)
			}
			got += n
		}
		recv(t, r.writable, "OnWritable")
	}
	mu.Lock()
	defer mu.Unlock()
	if mods != 1 {
		t.Fatalf("%d MODs for three rounds of backed-up output, want 1", mods)
	}
}

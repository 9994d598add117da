package proxy

import (
	"net"
	"os"
	"sync"
	"testing"
	"time"

	"github.com/epollnet/epollnet/cmd/epollnet/internal/daemon"
	"github.com/epollnet/epollnet/cmd/epollnet/internal/promtext"
	"github.com/epollnet/epollnet/cmd/epollnet/internal/serve"
	"github.com/epollnet/epollnet/internal/nettest"
)

// TestMain ends the run with one line saying which tests skipped for want
// of root or a program, and how to run them.
func TestMain(m *testing.M) { os.Exit(nettest.Main(m)) }

// startProxy starts an in-process proxy on 127.0.0.1 in front of
// backends, one loop unless edit says otherwise, and returns it with its
// address. The cleanup shuts it down. (Tests call clitest.CheckLeaks
// first, so that the check follows every cleanup.)
func startProxy(t *testing.T, backends []string, edit func(*proxyOptions)) (*proxy, string) {
	t.Helper()
	o := defaultProxyOptions()
	o.listen, o.loops, o.quiet = []string{"127.0.0.1:0"}, 1, true
	for _, b := range backends {
		spec, err := parseBackend(b)
		if err != nil {
			t.Fatal(err)
		}
		o.backends = append(o.backends, spec)
	}
	if edit != nil {
		edit(&o)
	}
	hv, err := daemon.NewHandover("proxy")
	if err != nil {
		t.Fatal(err)
	}
	p, err := openProxy(o, hv, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if _, err := p.shutdown(5 * time.Second); err != nil {
			t.Errorf("shutdown: %v", err)
		}
		hv.Stop()
	})
	return p, p.lns[0].Addr().String()
}

// echoBackend starts serve's echo server in-process on one loop.
func echoBackend(t *testing.T) (addr string, stop func()) {
	t.Helper()
	l, err := serve.StartLocal("echo", 1, nil)
	if err != nil {
		t.Fatal(err)
	}
	var once sync.Once
	stop = func() { once.Do(func() { l.Close() }) }
	t.Cleanup(stop)
	return l.Addr().String(), stop
}

// refusedAddr returns a loopback address where nobody listens: a port the
// kernel gave a listener that is closed again.
func refusedAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	return addr
}

// metric returns the value of a sample of the proxy's families, found by
// name and label values ("backend", addr, "class", "refused"...), and
// whether it is there.
func metric(p *proxy, name string, labels ...string) (float64, bool) {
	for _, f := range p.metricFamilies() {
		if f.Name != name {
			continue
		}
	samples:
		for _, s := range f.Samples {
			for i := 0; i+1 < len(labels); i += 2 {
				if !hasLabel(s.Labels, labels[i], labels[i+1]) {
					continue samples
				}
			}
			return s.Value, true
		}
	}
	return 0, false
}

func hasLabel(ls []promtext.Label, name, value string) bool {
	for _, l := range ls {
		if l.Name == name && l.Value == value {
			return true
		}
	}
	return false
}

// waitFor polls cond until it holds or the deadline passes.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(2 * time.Millisecond)
	}
}

package proxy

import (
	"fmt"
	"testing"
	"time"

	"github.com/epollnet/epollnet"
	"github.com/epollnet/epollnet/cmd/epollnet/internal/clitest"
	"github.com/epollnet/epollnet/internal/nettest"
	"golang.org/x/sys/unix"
)

// TestProxyBlackholedBackend: a backend whose SYNs are dropped (in a
// private network namespace, where the proxy's upstream sockets are made)
// costs a client one --connect-timeout, then the retry reaches the other
// backend; the failures are counted as timeouts, and after --fails of
// them the backend is down and costs nothing more. Needs root.
func TestProxyBlackholedBackend(t *testing.T) {
	nettest.NeedEpoll(t, "ListenFD and DialConfig.Socket in a network namespace")
	clitest.CheckLeaks(t)
	ns := nettest.NewNS(t)
	holePort := nettest.Blackhole(t, ns)
	goodFD, goodPort, err := ns.ListenLoopback(unix.AF_INET, 16)
	if err != nil {
		t.Fatal(err)
	}
	e, err := epollnet.New(epollnet.Options{Loops: 1})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { e.Abort() })
	if _, err := e.ListenFD(goodFD, echoHandler{}, nil); err != nil {
		t.Fatal(err)
	}
	hole, good := fmt.Sprintf("127.0.0.1:%d", holePort), fmt.Sprintf("127.0.0.1:%d", goodPort)
	p, addr := startProxy(t, []string{hole, good}, func(o *proxyOptions) {
		o.socket, o.connectTimeout, o.fails = ns.Socket, 100*time.Millisecond, 2
	})
	for i := range 6 {
		got, err := clitest.Stream(addr, []byte("hello"))
		if string(got) != "hello" || err != nil {
			t.Fatalf("stream %d: %q, %v", i, got, err)
		}
	}
	timeouts, _ := metric(p, "epollnet_proxy_backend_connect_failures_total", "backend", hole, "class", "timeout")
	up, _ := metric(p, "epollnet_proxy_backend_up", "backend", hole)
	if timeouts != 2 || up != 0 {
		t.Errorf("%v timeouts, up %v; want 2 (--fails) and down", timeouts, up)
	}
}

// echoHandler echoes and closes at the peer's EOF.
type echoHandler struct{ epollnet.BaseHandler }

func (echoHandler) OnData(c *epollnet.Conn, in []byte) int { c.Write(in); return len(in) }

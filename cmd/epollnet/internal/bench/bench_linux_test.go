package bench

import (
	"fmt"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/epollnet/epollnet"
	"github.com/epollnet/epollnet/cmd/epollnet/internal/clitest"
	"github.com/epollnet/epollnet/internal/nettest"
	"golang.org/x/sys/unix"
)

// TestBenchBlackholeTimesOut dials a server whose SYNs are dropped, in a
// private network namespace (the client's sockets are created there
// through the options' socket hook): every connect hits the dial deadline
// and is counted as a timeout. Needs root.
func TestBenchBlackholeTimesOut(t *testing.T) {
	nettest.NeedEpoll(t, "DialConfig.Socket in a network namespace")
	clitest.CheckLeaks(t)
	ns := nettest.NewNS(t)
	port := nettest.Blackhole(t, ns)
	o := defaultBenchOptions()
	o.target = fmt.Sprintf("127.0.0.1:%d", port)
	o.conns, o.loops, o.quiet = 2, 1, true
	o.duration, o.connectTimeout = 600*time.Millisecond, 200*time.Millisecond
	o.socket = ns.Socket
	rep, err := bench(t.Context(), o, nil)
	if err != nil {
		t.Fatal(err)
	}
	if rep.Errors["timeout"] < 2 || rep.ErrorTotal != rep.Errors["timeout"] || rep.Connect.Count != 0 {
		t.Fatalf("errors %v (samples %v), connects %d; want only timeouts", rep.Errors, rep.ErrorSamples, rep.Connect.Count)
	}
	t.Logf("timeout: %s", rep.ErrorSamples["timeout"])
}

// TestBenchChurnRunsOutOfLocalPorts: in a private network namespace whose
// ephemeral port range holds 8 ports and where connect may not reuse a
// TIME_WAIT port (tcp_tw_reuse 0), a connection per request runs out of
// local ports after 8 connections: the rest fail with EADDRNOTAVAIL,
// counted as no-local-ports, with advice to rotate source addresses. Four
// --source addresses then carry more than 8 connections. Needs root.
func TestBenchChurnRunsOutOfLocalPorts(t *testing.T) {
	nettest.NeedEpoll(t, "ListenFD in a network namespace")
	clitest.CheckLeaks(t)
	ns := nettest.NewNS(t)
	fd, port, err := ns.ListenLoopback(unix.AF_INET, 128) // before the range narrows: its port is not one of the 8
	if err != nil {
		t.Fatal(err)
	}
	for name, v := range map[string]string{"net.ipv4.ip_local_port_range": "40000 40007", "net.ipv4.tcp_tw_reuse": "0"} {
		if err := ns.SetSysctl(name, v); err != nil {
			unix.Close(fd)
			t.Fatal(err)
		}
	}
	eng, err := epollnet.New(epollnet.Options{Loops: 1})
	if err != nil {
		unix.Close(fd)
		t.Fatal(err)
	}
	defer eng.Abort()
	if _, err := eng.ListenFD(fd, &sourceRecorder{ips: map[string]int{}}, nil); err != nil {
		unix.Close(fd)
		t.Fatal(err)
	}
	run := func(sources ...string) *benchReport {
		o := defaultBenchOptions()
		o.target = fmt.Sprintf("127.0.0.1:%d", port)
		o.conns, o.loops, o.quiet, o.perConn, o.duration = 2, 1, true, 1, 700*time.Millisecond
		o.socket = ns.Socket
		for _, s := range sources {
			o.sources = append(o.sources, netip.MustParseAddr(s))
		}
		rep, err := bench(t.Context(), o, nil)
		if err != nil {
			t.Fatal(err)
		}
		return rep
	}
	rep := run()
	if rep.Errors["no-local-ports"] == 0 || rep.Connects > 8 || rep.Requests == 0 {
		t.Fatalf("8 local ports: %d connects, %d requests, errors %v (samples %v)", rep.Connects, rep.Requests,
			rep.Errors, rep.ErrorSamples)
	}
	if len(rep.Advice) != 1 || !strings.Contains(rep.Advice[0], "EADDRNOTAVAIL") || !strings.Contains(rep.Advice[0], "--source 127.0.0.2") {
		t.Errorf("advice %q", rep.Advice)
	}
	var text strings.Builder
	rep.writeText(&text)
	if !strings.Contains(text.String(), "  advice      no-local-ports: connect failed with EADDRNOTAVAIL") {
		t.Errorf("the text report lacks the advice:\n%s", text.String())
	}
	t.Logf("one source: %d connects; no-local-ports: %s", rep.Connects, rep.ErrorSamples["no-local-ports"])
	rep = run("127.0.0.2", "127.0.0.3", "127.0.0.4", "127.0.0.5")
	if rep.Connects <= 8 || rep.Connects > 32 {
		t.Errorf("8 local ports on each of 4 source addresses: %d connects; want 9 to 32", rep.Connects)
	}
	t.Logf("four sources: %d connects", rep.Connects)
}

package bench

import (
	"fmt"
	"testing"
	"time"

	"github.com/epollnet/epollnet/cmd/epollnet/internal/clitest"
	"github.com/epollnet/epollnet/internal/nettest"
	"golang.org/x/sys/unix"
)

// TestBenchBlackholeTimesOut dials a server whose SYNs are dropped, in a
// private network namespace (the client's sockets are created there
// through the options' socket hook): every connect hits the dial deadline
// and is counted as a timeout. Needs root.
func TestBenchBlackholeTimesOut(t *testing.T) {
	clitest.CheckLeaks(t)
	ns := nettest.NewNS(t)
	fd, port, err := ns.ListenLoopback(unix.AF_INET, 16)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { unix.Close(fd) })
	if _, err := ns.DropSYN(port); err != nil {
		t.Fatal(err)
	}
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

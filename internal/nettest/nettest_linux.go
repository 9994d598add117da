//go:build linux

package nettest

import (
	"os"
	"sync"
	"testing"

	"github.com/epollnet/epollnet/internal/netns"
	"golang.org/x/sys/unix"
)

// NS is a private network namespace; see netns.NS.
type NS = netns.NS

// ICMPCode selects the ICMP error that NS.RejectICMP sends back.
type ICMPCode = netns.ICMPCode

// The ICMP errors a rejecting rule can send; see netns.
const (
	ICMPNoRoute         = netns.ICMPNoRoute
	ICMPPortUnreachable = netns.ICMPPortUnreachable
	ICMPHostUnreachable = netns.ICMPHostUnreachable
	ICMPAdminProhibited = netns.ICMPAdminProhibited
)

var (
	probeOnce sync.Once
	probeErr  error
)

// NeedRoot skips the test unless the process can create a network namespace
// and program nf_tables in it: it must run as root (euid 0) on a kernel with
// network namespaces and nf_tables. The first call makes one throwaway
// namespace to find out; later calls reuse that answer. NewNS calls NeedRoot.
func NeedRoot(t testing.TB) {
	t.Helper()
	if os.Geteuid() != 0 {
		Skip(t, "root", "run them as root: sudo go test ./...",
			"nettest: needs root to create a network namespace (euid %d)", os.Geteuid())
	}
	probeOnce.Do(func() {
		ns, err := netns.New()
		if err == nil {
			err = ns.Close()
		}
		probeErr = err
	})
	if probeErr != nil {
		Skip(t, "network namespaces with nf_tables", "a kernel with CONFIG_NET_NS and CONFIG_NF_TABLES, and CAP_SYS_ADMIN",
			"nettest: cannot create a network namespace with nftables: %v", probeErr)
	}
}

// NewNS creates a private network namespace with loopback up and an empty
// nftables table (inet epollnet_test, chain input, policy accept) in it. It
// skips the test through NeedRoot when that is impossible, fails it on any
// other error, and registers a t.Cleanup that closes every handle the
// fixture opened. Rule undo functions report failures with t.Errorf.
//
// Sockets the test created inside the namespace keep it alive until they are
// closed; the test must close them (usually in its own t.Cleanup).
func NewNS(t testing.TB) *NS {
	t.Helper()
	NeedRoot(t)
	ns, err := netns.New()
	if err != nil {
		t.Fatalf("nettest: %v", err)
	}
	ns.ReportUndoErrors(func(desc string, err error) {
		t.Errorf("nettest: undo %q: %v", desc, err)
	})
	t.Cleanup(func() {
		if err := ns.Close(); err != nil {
			t.Errorf("nettest: closing namespace: %v", err)
		}
	})
	return ns
}

// Blackhole listens on the namespace's loopback (IPv4) and drops every SYN
// to that port: a connect to it stays in SYN_SENT until its timeout. It
// returns the port; the listener is closed when the test ends.
func Blackhole(t testing.TB, ns *NS) uint16 {
	t.Helper()
	fd, port, err := ns.ListenLoopback(unix.AF_INET, 16)
	if err != nil {
		t.Fatalf("nettest: %v", err)
	}
	t.Cleanup(func() { unix.Close(fd) })
	if _, err := ns.DropSYN(port); err != nil {
		t.Fatalf("nettest: %v", err)
	}
	return port
}

//go:build linux

package netns_test

import (
	"os"
	"strings"
	"testing"
	"time"

	"github.com/epollnet/epollnet/internal/netns"
	"github.com/epollnet/epollnet/internal/nettest"

	"golang.org/x/sys/unix"
)

// TestNSIsolated checks that a listener created inside the namespace is
// reachable from inside it only, and that a socket created in Do can be used
// from the test goroutine afterwards.
func TestNSIsolated(t *testing.T) {
	ns := nettest.NewNS(t)
	lfd, port := listenIn(t, ns, unix.AF_INET)

	// The test goroutine's thread is in the host namespace.
	hfd, err := connect(unix.AF_INET, port)
	if err != nil {
		t.Fatalf("connect from host: %v", err)
	}
	closeOnCleanup(t, hfd)
	if ev := waitEvents(t, hfd, epollAll, 2*time.Second); ev&unix.EPOLLERR != 0 {
		if e := soError(t, hfd); e != unix.ECONNREFUSED {
			t.Errorf("connect from host: SO_ERROR %v, want ECONNREFUSED", e)
		}
	} else {
		t.Logf("host has a listener of its own on port %d (events %s)", port, eventString(ev))
	}
	if ev := waitEvents(t, lfd, unix.EPOLLIN, 200*time.Millisecond); ev != 0 {
		t.Fatalf("listener in namespace got events %s from a host connect", eventString(ev))
	}

	cfd := connectIn(t, ns, unix.AF_INET, port)
	if ev := waitEvents(t, cfd, epollAll, 2*time.Second); ev&unix.EPOLLOUT == 0 || ev&unix.EPOLLERR != 0 {
		t.Fatalf("connect inside namespace: events %s, SO_ERROR %v; want OUT without ERR", eventString(ev), soError(t, cfd))
	}
	if ev := waitEvents(t, lfd, unix.EPOLLIN, 2*time.Second); ev&unix.EPOLLIN == 0 {
		t.Fatalf("listener in namespace: events %s, want IN", eventString(ev))
	}
	afd, _, err := unix.Accept4(lfd, unix.SOCK_NONBLOCK|unix.SOCK_CLOEXEC)
	if err != nil {
		t.Fatalf("accept4 outside Do: %v", err)
	}
	closeOnCleanup(t, afd)
}

// TestDropSYNKeepsConnectInProgress reproduces a blackholed connect: with
// SYNs dropped the connect stays in SYN_SENT with no events (no writability
// while the SYNs are lost), and once the rule is lifted it completes at the
// next SYN retransmission. A second port with its own rule shows that undo
// removes only its rule.
func TestDropSYNKeepsConnectInProgress(t *testing.T) {
	t.Parallel()
	ns := nettest.NewNS(t)
	lfd, port := listenIn(t, ns, unix.AF_INET)
	_, otherPort := listenIn(t, ns, unix.AF_INET)
	undo, err := ns.DropSYN(port)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := ns.DropSYN(otherPort); err != nil {
		t.Fatal(err)
	}

	start := time.Now()
	cfd := connectIn(t, ns, unix.AF_INET, port)
	other := connectIn(t, ns, unix.AF_INET, otherPort)
	if ev := waitEvents(t, cfd, epollAll, 300*time.Millisecond); ev != 0 {
		t.Fatalf("events %s while SYNs are dropped, want none", eventString(ev))
	}
	if s := tcpState(t, cfd); s != tcpSynSent {
		t.Fatalf("state %d while SYNs are dropped, want SYN_SENT (%d)", s, tcpSynSent)
	}
	if e := soError(t, cfd); e != 0 {
		t.Fatalf("SO_ERROR %v while SYNs are dropped, want 0", e)
	}

	undo()
	undo() // a second call must do nothing
	ev := waitEvents(t, cfd, epollAll, 3500*time.Millisecond)
	if ev&unix.EPOLLOUT == 0 || ev&unix.EPOLLERR != 0 {
		t.Fatalf("after undo: events %s, SO_ERROR %v; want OUT without ERR", eventString(ev), soError(t, cfd))
	}
	t.Logf("connect completed %v after it started (at a SYN retransmission)", time.Since(start).Round(time.Millisecond))
	if s := tcpState(t, cfd); s != tcpEstablished {
		t.Fatalf("state %d after undo, want ESTABLISHED", s)
	}
	if ev := waitEvents(t, lfd, unix.EPOLLIN, time.Second); ev&unix.EPOLLIN == 0 {
		t.Fatalf("listener events %s after undo, want IN", eventString(ev))
	}

	// The other port's rule is still there.
	if ev := waitEvents(t, other, epollAll, 0); ev != 0 {
		t.Fatalf("other port: events %s, want none: undo removed the wrong rule", eventString(ev))
	}
	if s := tcpState(t, other); s != tcpSynSent {
		t.Fatalf("other port: state %d, want SYN_SENT", s)
	}
}

// TestDropPureACKClientEstablishedListenerNotReadable reproduces the
// listener becoming readable only on the final ACK, not at SYN+ACK: with the
// client's pure ACKs dropped the client is ESTABLISHED and writable while
// the listener is not readable; after undo the client's ACK of the server's
// SYN+ACK retransmission makes it readable.
func TestDropPureACKClientEstablishedListenerNotReadable(t *testing.T) {
	t.Parallel()
	ns := nettest.NewNS(t)
	lfd, port := listenIn(t, ns, unix.AF_INET)
	undo, err := ns.DropPureACK(port)
	if err != nil {
		t.Fatal(err)
	}

	start := time.Now()
	cfd := connectIn(t, ns, unix.AF_INET, port)
	if ev := waitEvents(t, cfd, epollAll, time.Second); ev != unix.EPOLLOUT {
		t.Fatalf("client events %s, SO_ERROR %v; want OUT alone", eventString(ev), soError(t, cfd))
	}
	t.Logf("client writable after %v", time.Since(start).Round(time.Microsecond))
	if s := tcpState(t, cfd); s != tcpEstablished {
		t.Fatalf("client state %d, want ESTABLISHED", s)
	}
	if ev := waitEvents(t, lfd, unix.EPOLLIN, 300*time.Millisecond); ev != 0 {
		t.Fatalf("listener events %s while the final ACK is dropped, want none", eventString(ev))
	}

	undo()
	if ev := waitEvents(t, lfd, unix.EPOLLIN, 4*time.Second); ev&unix.EPOLLIN == 0 {
		t.Fatalf("listener events %s after undo, want IN", eventString(ev))
	}
	t.Logf("listener readable %v after connect", time.Since(start).Round(time.Millisecond))
	afd, _, err := unix.Accept4(lfd, unix.SOCK_NONBLOCK|unix.SOCK_CLOEXEC)
	if err != nil {
		t.Fatalf("accept4: %v", err)
	}
	closeOnCleanup(t, afd)
}

// TestDropPureACKLetsDataThrough checks the other half of DropPureACK's
// match: a data segment (ACK|PSH) is not dropped and, since it carries the
// ACK the listener waits for, completes the handshake at once.
func TestDropPureACKLetsDataThrough(t *testing.T) {
	t.Parallel()
	ns := nettest.NewNS(t)
	lfd, port := listenIn(t, ns, unix.AF_INET)
	if _, err := ns.DropPureACK(port); err != nil {
		t.Fatal(err)
	}
	cfd := connectIn(t, ns, unix.AF_INET, port)
	if ev := waitEvents(t, cfd, epollAll, time.Second); ev != unix.EPOLLOUT {
		t.Fatalf("client events %s, want OUT", eventString(ev))
	}
	if ev := waitEvents(t, lfd, unix.EPOLLIN, 100*time.Millisecond); ev != 0 {
		t.Fatalf("listener events %s before data, want none", eventString(ev))
	}
	if _, err := unix.SendmsgN(cfd, []byte("x"), nil, nil, unix.MSG_NOSIGNAL); err != nil {
		t.Fatalf("send: %v", err)
	}
	if ev := waitEvents(t, lfd, unix.EPOLLIN, 500*time.Millisecond); ev&unix.EPOLLIN == 0 {
		t.Fatalf("listener events %s after data, want IN", eventString(ev))
	}
	afd, _, err := unix.Accept4(lfd, unix.SOCK_NONBLOCK|unix.SOCK_CLOEXEC)
	if err != nil {
		t.Fatalf("accept4: %v", err)
	}
	closeOnCleanup(t, afd)
	if ev := waitEvents(t, afd, epollAll, 0); ev&unix.EPOLLIN == 0 {
		t.Fatalf("accepted socket events %s, want IN (the data is queued)", eventString(ev))
	}
}

// TestRejectTCPResetRefuses checks that "reject with tcp reset" refuses a
// connect to a port that has a listener, like a closed port,
// and that the port works again after undo.
func TestRejectTCPResetRefuses(t *testing.T) {
	t.Parallel()
	ns := nettest.NewNS(t)
	for _, family := range []int{unix.AF_INET, unix.AF_INET6} {
		t.Run(familyName(family), func(t *testing.T) {
			_, port := listenOrSkip(t, ns, family)
			undo, err := ns.RejectTCPReset(port)
			if err != nil {
				t.Fatal(err)
			}
			cfd := connectIn(t, ns, family, port)
			ev := waitEvents(t, cfd, epollAll, time.Second)
			if ev&unix.EPOLLERR == 0 || ev&unix.EPOLLHUP == 0 {
				t.Fatalf("events %s, want ERR and HUP", eventString(ev))
			}
			if e := soError(t, cfd); e != unix.ECONNREFUSED {
				t.Fatalf("SO_ERROR %v, want ECONNREFUSED", e)
			}
			if s := tcpState(t, cfd); s != tcpClose {
				t.Fatalf("state %d, want CLOSE", s)
			}

			undo()
			cfd = connectIn(t, ns, family, port)
			if ev := waitEvents(t, cfd, epollAll, time.Second); ev&unix.EPOLLOUT == 0 || ev&unix.EPOLLERR != 0 {
				t.Fatalf("after undo: events %s, SO_ERROR %v; want OUT without ERR", eventString(ev), soError(t, cfd))
			}
		})
	}
}

// TestRejectICMP checks each ICMP reject code against the errno the
// connecting socket reports, over IPv4 and IPv6.
//
// The two families differ on loopback. The ICMP error arrives while connect()
// still owns the socket, so tcp_v{4,6}_err can only record a soft error. Over
// IPv4 epoll nevertheless reports EPOLLERR alone at once, with the socket in
// SYN_SENT; over IPv6 there is no event at all until the retransmitted SYN
// draws a second ICMP error about 1 s later, which closes the socket
// (IN|OUT|ERR|HUP|RDHUP). SO_ERROR reports the error in both cases.
func TestRejectICMP(t *testing.T) {
	t.Parallel()
	ns := nettest.NewNS(t)
	for _, tc := range []struct {
		code        netns.ICMPCode
		want, want6 unix.Errno
	}{
		{netns.ICMPPortUnreachable, unix.ECONNREFUSED, unix.ECONNREFUSED},
		{netns.ICMPHostUnreachable, unix.EHOSTUNREACH, unix.EHOSTUNREACH},
		{netns.ICMPAdminProhibited, unix.EHOSTUNREACH, unix.EACCES},
		{netns.ICMPNoRoute, unix.ENETUNREACH, unix.ENETUNREACH},
	} {
		for _, family := range []int{unix.AF_INET, unix.AF_INET6} {
			t.Run(tc.code.String()+"/"+familyName(family), func(t *testing.T) {
				t.Parallel()
				want := tc.want
				if family == unix.AF_INET6 {
					want = tc.want6
				}
				_, port := listenOrSkip(t, ns, family)
				undo, err := ns.RejectICMP(port, tc.code)
				if err != nil {
					t.Fatal(err)
				}
				defer undo()
				start := time.Now()
				cfd := connectIn(t, ns, family, port)
				ev := waitEvents(t, cfd, epollAll, 3*time.Second)
				elapsed := time.Since(start).Round(time.Millisecond)
				state := tcpState(t, cfd)
				if e := soError(t, cfd); ev&unix.EPOLLERR == 0 || e != want {
					t.Fatalf("events %s, SO_ERROR %v after %v; want ERR and %v", eventString(ev), e, elapsed, want)
				}
				t.Logf("events %s, state %d after %v", eventString(ev), state, elapsed)
				switch {
				case family == unix.AF_INET && (ev&(unix.EPOLLOUT|unix.EPOLLHUP) != 0 || state != tcpSynSent):
					t.Errorf("IPv4: want ERR without OUT or HUP while still SYN_SENT")
				case family == unix.AF_INET6 && (ev&unix.EPOLLHUP == 0 || state != tcpClose):
					t.Errorf("IPv6: want the socket closed (HUP, CLOSE) by the first event")
				}
			})
		}
	}
}

// TestSysctl checks that a net/ sysctl written inside the namespace reads
// back there and leaves the host's value alone, and that sysctls outside
// net/, which are global, are refused.
func TestSysctl(t *testing.T) {
	ns := nettest.NewNS(t)
	const name = "net/ipv4/tcp_abort_on_overflow"
	readHost := func() string {
		b, err := os.ReadFile("/proc/sys/" + name)
		if err != nil {
			t.Fatal(err)
		}
		return strings.TrimSpace(string(b))
	}
	host := readHost()
	// tcp_sk_init gives every new namespace the default, 0.
	if v, err := ns.Sysctl(name); err != nil || v != "0" {
		t.Fatalf("Sysctl(%s) in a new namespace = %q, %v; want \"0\"", name, v, err)
	}
	want := "1"
	if host == "1" {
		want = "0"
	}
	if err := ns.SetSysctl(name, want); err != nil {
		t.Fatal(err)
	}
	if v, err := ns.Sysctl("net.ipv4.tcp_abort_on_overflow"); err != nil || v != want {
		t.Fatalf("Sysctl after SetSysctl(%q) = %q, %v", want, v, err)
	}
	if h := readHost(); h != host {
		t.Fatalf("host value changed from %q to %q", host, h)
	}
	for _, bad := range []string{"kernel/pid_max", "kernel.pid_max", "net/../kernel/pid_max", "/net/ipv4/tcp_syn_retries"} {
		if err := ns.SetSysctl(bad, "1"); err == nil {
			t.Errorf("SetSysctl(%q) succeeded, want it refused", bad)
		}
	}
}

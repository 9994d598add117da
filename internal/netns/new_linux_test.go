//go:build linux

package netns_test

import (
	"runtime"
	"testing"
	"time"

	"github.com/epollnet/epollnet/internal/netns"
	"github.com/epollnet/epollnet/internal/nettest"

	"golang.org/x/sys/unix"
)

// TestNewWorksWithoutTesting checks the program-facing API: New and Close
// without a testing.TB, a listener from ListenLoopback and a client socket
// from Socket (the epollnet.DialConfig.Socket hook) that reach each other
// inside the namespace, a rule's undo, and nothing left pinning the
// namespace once the sockets and the NS are closed.
func TestNewWorksWithoutTesting(t *testing.T) {
	nettest.NeedRoot(t)
	goroutines := runtime.NumGoroutine()
	ns, err := netns.New()
	if err != nil {
		t.Fatal(err)
	}
	id, err := fdNSID(netns.FD(ns))
	if err != nil {
		t.Fatal(err)
	}
	lfd, port, err := ns.ListenLoopback(unix.AF_INET, 4)
	if err != nil {
		t.Fatal(err)
	}
	undo, err := ns.DropSYN(port)
	if err != nil {
		t.Fatal(err)
	}
	undo() // the port works again
	cfd, err := ns.Socket(unix.AF_INET, unix.SOCK_STREAM, 0)
	if err != nil {
		t.Fatal(err)
	}
	if fl, err := unix.FcntlInt(uintptr(cfd), unix.F_GETFL, 0); err != nil || fl&unix.O_NONBLOCK == 0 {
		t.Errorf("Socket's descriptor is not non-blocking (flags %#x, %v)", fl, err)
	}
	if err := unix.Connect(cfd, loopback(unix.AF_INET, port)); err != unix.EINPROGRESS {
		t.Fatalf("connect from a Socket socket: %v, want EINPROGRESS", err)
	}
	if ev := waitEvents(t, lfd, unix.EPOLLIN, 2*time.Second); ev&unix.EPOLLIN == 0 {
		t.Fatalf("listener events %s, want IN: the client socket is not in the namespace", eventString(ev))
	}
	unix.Close(cfd)
	unix.Close(lfd)
	if err := ns.Close(); err != nil {
		t.Fatal(err)
	}
	if err := ns.Close(); err != nil {
		t.Fatalf("second Close: %v", err)
	}
	if _, err := ns.Socket(unix.AF_INET, unix.SOCK_STREAM, 0); err == nil {
		t.Error("Socket after Close succeeded")
	}
	if refs := nsReferences(t, id); len(refs) != 0 {
		t.Errorf("namespace still referenced after Close: %q", refs)
	}
	deadline := time.Now().Add(time.Second)
	for runtime.NumGoroutine() > goroutines && time.Now().Before(deadline) {
		runtime.Gosched()
	}
	if n := runtime.NumGoroutine(); n > goroutines {
		t.Errorf("%d goroutines after Close, %d before", n, goroutines)
	}
}

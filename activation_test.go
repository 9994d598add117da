//go:build linux

package epollnet

import (
	"bufio"
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/epollnet/epollnet/internal/nettest"
)

// TestListenActivatedUnderSystemdSocketActivate starts this test binary
// under systemd-socket-activate, which listens, waits for the first
// connection and then execs the child with the socket as descriptor 3 and
// LISTEN_PID/LISTEN_FDS/LISTEN_FDNAMES set (sd_listen_fds(3)). The child
// serves that connection through Engine.ListenActivated and exits.
func TestListenActivatedUnderSystemdSocketActivate(t *testing.T) {
	nettest.NeedEpoll(t, "socket activation passes descriptors")
	if os.Getenv("EPOLLNET_ACTIVATION_CHILD") == "1" {
		activationChild()
		return
	}
	bin := nettest.NeedProgram(t, "systemd-socket-activate", "systemd")
	leakCheck(t)
	probe, err := net.Listen("tcp", "127.0.0.1:0") // find a free port
	if err != nil {
		t.Fatal(err)
	}
	addr := probe.Addr().String()
	probe.Close()
	cmd := exec.Command(bin, "-l", addr, "--fdname=echo", "-E", "EPOLLNET_ACTIVATION_CHILD=1",
		os.Args[0], "-test.run=^TestListenActivatedUnderSystemdSocketActivate$")
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	t.Cleanup(func() {
		select {
		case <-done:
		case <-time.After(10 * time.Second):
			cmd.Process.Kill()
			<-done
		}
	})
	c := dialRetry(t, addr)
	defer c.Close()
	c.SetDeadline(time.Now().Add(10 * time.Second))
	fmt.Fprintln(c, "ping")
	line, err := bufio.NewReader(c).ReadString('\n')
	if err != nil {
		t.Fatalf("reading the activated server's reply: %v", err)
	}
	if want := "echo: ping (env cleared: true)\n"; line != want {
		t.Fatalf("reply %q, want %q", line, want)
	}
}

// dialRetry connects, retrying while systemd-socket-activate starts up.
func dialRetry(t *testing.T, addr string) net.Conn {
	deadline := time.Now().Add(10 * time.Second)
	for {
		c, err := net.Dial("tcp", addr)
		if err == nil {
			return c
		}
		if time.Now().After(deadline) {
			t.Fatalf("connecting to systemd-socket-activate on %s: %v", addr, err)
		}
		time.Sleep(20 * time.Millisecond) // it has no readiness signal to wait on
	}
}

// activationChild answers one line with the socket's name, then exits.
func activationChild() {
	e, err := New(Options{Loops: 1})
	if err != nil {
		fmt.Fprintln(os.Stderr, "child:", err)
		os.Exit(1)
	}
	h := &activatedEcho{done: make(chan struct{}), ready: make(chan struct{})}
	lns, err := e.ListenActivated(h, nil)
	if err != nil || len(lns) != 1 {
		fmt.Fprintln(os.Stderr, "child: ListenActivated:", lns, err)
		os.Exit(1)
	}
	h.prefix = "echo"
	h.cleared = os.Getenv("LISTEN_FDS") == "" && os.Getenv("LISTEN_PID") == ""
	close(h.ready)
	select {
	case <-h.done:
	case <-time.After(10 * time.Second):
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	e.Shutdown(ctx)
	os.Exit(0)
}

type activatedEcho struct {
	BaseHandler
	ready   chan struct{} // closed once the fields below are set
	prefix  string
	cleared bool
	done    chan struct{}
}

func (h *activatedEcho) OnData(c *Conn, in []byte) int {
	i := strings.IndexByte(string(in), '\n')
	if i < 0 {
		return 0
	}
	<-h.ready // the listener serves before ListenActivated returns
	fmt.Fprintf(c, "%s: %s (env cleared: %v)\n", h.prefix, in[:i], h.cleared)
	return i + 1
}

func (h *activatedEcho) OnClose(c *Conn, err error) { close(h.done) }

func TestActivatedSocketsIgnoresOtherProcesses(t *testing.T) {
	t.Setenv("LISTEN_PID", "1")
	t.Setenv("LISTEN_FDS", "2")
	socks, err := ActivatedSockets()
	if err != nil || socks != nil {
		t.Fatalf("got %v, %v for another process's sockets", socks, err)
	}
	if os.Getenv("LISTEN_FDS") != "" {
		t.Fatal("LISTEN_FDS left in the environment")
	}
	t.Setenv("LISTEN_PID", fmt.Sprint(os.Getpid()))
	t.Setenv("LISTEN_FDS", "many")
	if _, err := ActivatedSockets(); err == nil {
		t.Fatal("a malformed LISTEN_FDS was accepted")
	}
}

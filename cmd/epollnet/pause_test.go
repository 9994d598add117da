package main

import (
	"io"
	"net"
	"regexp"
	"syscall"
	"testing"
	"time"

	"github.com/epollnet/epollnet/cmd/epollnet/internal/cli"
	"github.com/epollnet/epollnet/cmd/epollnet/internal/clitest"
)

// TestServeLogsListenerPause runs serve with RLIMIT_NOFILE 64 and more
// connections than that: accept4 fails with EMFILE, the listener pauses,
// and the engine's warning reaches stderr through --log-level's logger.
// The queued connections are served once the first ones close.
func TestServeLogsListenerPause(t *testing.T) {
	p := startCLI(t, cliCommand(nil, []string{nofileEnv + "=64"}, "serve", "--proto", "echo",
		"--listen", "127.0.0.1:0", "--loops", "1", "--quiet", "--max-conns", "1000"))
	addr := p.waitOutput(t, regexp.MustCompile(` on tcp (\S+) \(`), 1, 20*time.Second)[1]
	var conns []net.Conn
	for range 80 {
		conns = append(conns, clitest.Dial(t, addr))
	}
	p.waitOutput(t, regexp.MustCompile(`level=WARN msg="epollnet: listener paused: accept4 is out of resources`), 1, 10*time.Second)
	for _, c := range conns[:40] {
		c.Close()
	}
	last := conns[len(conns)-1]
	io.WriteString(last, "late")
	if got, _ := clitest.ReadAll(t, last, 500*time.Millisecond); got != "late" {
		t.Errorf("the last queued connection got %q once descriptors were free", got)
	}
	p.cmd.Process.Signal(syscall.SIGTERM)
	if code := p.wait(t, 20*time.Second); code != cli.ExitOK {
		t.Errorf("exit %d", code)
	}
}

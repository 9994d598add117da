package main

import (
	"io"
	"net"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/epollnet/epollnet/cmd/epollnet/internal/cli"
	"github.com/epollnet/epollnet/internal/nettest"
)

// TestServeSystemdSocketActivation runs "serve --proto echo" under
// systemd-socket-activate, which creates a Unix socket, waits for the
// first client and then executes serve with LISTEN_FDS=1: serve must echo
// on that socket, name it in its status line, and open no default
// listener. A SIGHUP then hands the socket to a new process, which echoes
// too; at the end the socket file, systemd's, is left in place.
func TestServeSystemdSocketActivation(t *testing.T) {
	nettest.NeedEpoll(t, "socket activation passes descriptors")
	ssa := nettest.NeedProgram(t, "systemd-socket-activate", "systemd")
	subreaper(t)
	sock := filepath.Join(t.TempDir(), "echo.sock")
	// systemd-socket-activate passes on only the variables named by -E.
	wrapper := []string{ssa, "--listen", sock, "--fdname", "echo", "-E", cliEnv, "-E", "GORACE"}
	p := startCLI(t, cliCommand(wrapper, nil, "serve", "--proto", "echo", "--loops", "1", "--quiet"))
	deadline := time.Now().Add(10 * time.Second)
	for {
		if _, err := os.Stat(sock); err == nil {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("systemd-socket-activate created no %s:\n%s", sock, p.out.String())
		}
		time.Sleep(5 * time.Millisecond)
	}
	echoOver(t, sock, "activated") // the first client makes it start serve

	line := regexp.QuoteMeta(`epollnet serve: echo on unix `+sock) + ` \(from systemd socket "echo", 1 loops`
	p.waitOutput(t, regexp.MustCompile(line), 1, 10*time.Second)
	p.waitOutput(t, readyLine, 1, 10*time.Second) // SIGHUP is handled from here on
	if strings.Count(p.out.String(), "epollnet serve: echo on ") != 1 {
		t.Errorf("serve listens on more than the activated socket:\n%s", p.out.String())
	}

	// Restart: the new process serves the same socket, inherited.
	p.cmd.Process.Signal(syscall.SIGHUP)
	line = regexp.QuoteMeta(`epollnet serve: echo on unix `+sock) + ` \(inherited systemd socket, 1 loops`
	p.waitOutput(t, regexp.MustCompile(line), 1, 20*time.Second)
	newPid, _ := strconv.Atoi(p.waitOutput(t, readyLine, 2, 20*time.Second)[1])
	if code := p.wait(t, 20*time.Second); code != cli.ExitOK {
		t.Fatalf("the activated process exited %d after the restart", code)
	}
	echoOver(t, sock, "inherited")
	syscall.Kill(newPid, syscall.SIGTERM)
	if code := waitOrphan(t, newPid, 15*time.Second); code != cli.ExitOK {
		t.Fatalf("the new process exited %d", code)
	}
	if _, err := os.Stat(sock); err != nil {
		t.Errorf("serve removed systemd's socket file: %v", err)
	}
}

// echoOver sends msg over the Unix socket and expects it back.
func echoOver(t *testing.T, sock, msg string) {
	t.Helper()
	c, err := net.Dial("unix", sock)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(20 * time.Second))
	if _, err := io.WriteString(c, msg); err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, len(msg))
	if _, err := io.ReadFull(c, buf); err != nil || string(buf) != msg {
		t.Fatalf("echo of %q: %q, %v", msg, buf, err)
	}
}

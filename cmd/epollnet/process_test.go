package main

import (
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/epollnet/epollnet/cmd/epollnet/internal/cli"
	"github.com/epollnet/epollnet/cmd/epollnet/internal/clitest"
	"github.com/epollnet/epollnet/cmd/epollnet/internal/daemon"
	"github.com/epollnet/epollnet/internal/nettest"
)

// Environment variables that make the test binary run the program instead
// of the tests (see TestMain), so that a test can run it as a process of
// its own: restarts (which re-execute it), socket activation, rlimits.
const (
	cliEnv    = "EPOLLNET_TEST_RUN_CLI"
	nofileEnv = "EPOLLNET_TEST_NOFILE" // RLIMIT_NOFILE for the program
)

// TestMain runs the program when cliEnv is set: os.Args[1:] are its
// arguments, as for the real binary, and a restart re-executes the test
// binary with the same arguments and environment, so it runs the program
// again.
func TestMain(m *testing.M) {
	if os.Getenv(cliEnv) != "" {
		if n, err := strconv.ParseUint(os.Getenv(nofileEnv), 10, 64); err == nil {
			if err := syscall.Setrlimit(syscall.RLIMIT_NOFILE, &syscall.Rlimit{Cur: n, Max: n}); err != nil {
				fmt.Fprintln(os.Stderr, "setrlimit:", err)
				os.Exit(cli.ExitFail)
			}
		}
		daemon.Restartable = true
		os.Exit(cli.Process(run, os.Args[1:]))
	}
	os.Exit(nettest.Main(m))
}

// cliProcess is the program running as a process of its own.
type cliProcess struct {
	cmd    *exec.Cmd
	out    *clitest.SyncBuffer // stdout and stderr, also of the processes it restarts into
	waited chan error          // the process's exit, once
}

// cliCommand returns a command that runs the program (this test binary,
// see TestMain) with args, optionally under a wrapper such as
// systemd-socket-activate: wrapper... then the binary then args.
func cliCommand(wrapper []string, env []string, args ...string) *exec.Cmd {
	argv := append(append(append([]string{}, wrapper...), os.Args[0]), args...)
	cmd := exec.Command(argv[0], argv[1:]...)
	cmd.Env = append(append(os.Environ(), cliEnv+"=1"), env...)
	if os.Getenv("GORACE") == "" {
		// A race-enabled program sleeps a second at exit by default,
		// which would count as drain time.
		cmd.Env = append(cmd.Env, "GORACE=atexit_sleep_ms=0")
	}
	return cmd
}

// startCLI starts cmd with its output collected through a pipe of ours
// rather than exec's copying goroutine, whose Wait would wait for every
// process holding the pipe: after a restart, the new process does. The
// cleanup kills the process if the test left it running.
func startCLI(t *testing.T, cmd *exec.Cmd) *cliProcess {
	t.Helper()
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stdout, cmd.Stderr = w, w
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	w.Close()
	p := &cliProcess{cmd: cmd, out: &clitest.SyncBuffer{}, waited: make(chan error, 1)}
	go func() {
		io.Copy(p.out, r)
		r.Close()
	}()
	go func() { p.waited <- cmd.Wait() }()
	t.Cleanup(func() {
		cmd.Process.Kill()
		if t.Failed() {
			t.Logf("output of %v:\n%s", cmd.Args, p.out.String())
		}
	})
	return p
}

// waitOutput waits until re matches the output for the n-th time (from 1)
// and returns that match's submatches.
func (p *cliProcess) waitOutput(t *testing.T, re *regexp.Regexp, n int, timeout time.Duration) []string {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		if ms := re.FindAllStringSubmatch(p.out.String(), -1); len(ms) >= n {
			return ms[n-1]
		}
		if time.Now().After(deadline) {
			t.Fatalf("no %q (#%d) within %v in the output:\n%s", re, n, timeout, p.out.String())
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// wait waits for the process to exit and returns its exit code.
func (p *cliProcess) wait(t *testing.T, timeout time.Duration) int {
	t.Helper()
	select {
	case err := <-p.waited:
		p.waited <- err
		if err != nil {
			if ee, ok := err.(*exec.ExitError); ok {
				return ee.ExitCode()
			}
			t.Fatal(err)
		}
		return 0
	case <-time.After(timeout):
		t.Fatalf("pid %d did not exit within %v:\n%s", p.cmd.Process.Pid, timeout, p.out.String())
		return -1
	}
}

var (
	readyLine   = regexp.MustCompile(`epollnet serve: pid (\d+) ready`)
	summaryLine = regexp.MustCompile(`epollnet serve: pid (\d+): ([\d,]+) connections served, ([\d,]+) refused; ([\d,]+) (requests|reads)`)
)

// atoiCount reads a count printed with thousands separators ("1,234"), as
// summaryLine's are (cli.Count).
func atoiCount(s string) (int, error) { return strconv.Atoi(strings.ReplaceAll(s, ",", "")) }

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

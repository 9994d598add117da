package main

import (
	"context"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/epollnet/epollnet/cmd/epollnet/internal/cli"
	"github.com/epollnet/epollnet/cmd/epollnet/internal/clitest"
)

// TestTraceAsNonRoot checks the README's promise: "epollnet trace" works
// for any user, and a scenario that needs a namespace says so and fails
// cleanly. As root it builds the command and runs it as nobody; otherwise
// the test process is already unprivileged.
func TestTraceAsNonRoot(t *testing.T) {
	if os.Geteuid() != 0 {
		code, stdout, _ := clitest.Run(t, run, "trace")
		if code != cli.ExitOK || !strings.Contains(stdout, "accept4() → fd") {
			t.Fatalf("trace as uid %d: exit %d\n%s", os.Geteuid(), code, stdout)
		}
		code, _, stderr := clitest.Run(t, run, "trace", "--scenario", "timeout")
		if code != cli.ExitFail || !strings.Contains(stderr, "needs root") {
			t.Fatalf("timeout scenario as uid %d: exit %d, stderr %q", os.Geteuid(), code, stderr)
		}
		return
	}
	bin := buildAsNobodyCanRun(t)
	out, code := runAsNobody(t, bin, "trace")
	if code != cli.ExitOK || !strings.Contains(out, "accept4() → fd") || !strings.Contains(out, "Where the common picture") {
		t.Fatalf("trace as nobody: exit %d\n%s", code, out)
	}
	out, code = runAsNobody(t, bin, "trace", "--scenario", "timeout")
	if code != cli.ExitFail || !strings.Contains(out, "needs root: run it with sudo") {
		t.Fatalf("timeout scenario as nobody: exit %d\n%s", code, out)
	}
}

// buildAsNobodyCanRun builds the command into a directory nobody can enter.
func buildAsNobodyCanRun(t *testing.T) string {
	t.Helper()
	gobin, err := exec.LookPath("go")
	if err != nil {
		gobin = filepath.Join(os.Getenv("GOROOT"), "bin", "go")
	}
	dir := t.TempDir()
	for d := dir; d != os.TempDir() && d != "/"; d = filepath.Dir(d) {
		os.Chmod(d, 0o755)
	}
	bin := filepath.Join(dir, "epollnet")
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	if out, err := exec.CommandContext(ctx, gobin, "build", "-o", bin, ".").CombinedOutput(); err != nil {
		t.Skipf("cannot build the command (%v): %s", err, out)
	}
	return bin
}

// runAsNobody runs bin with args as uid/gid 65534 and returns its combined
// output and exit code.
func runAsNobody(t *testing.T, bin string, args ...string) (string, int) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, bin, args...)
	cmd.Dir = "/"
	cmd.Env = []string{"PATH=/usr/bin:/bin", "TMPDIR=" + os.TempDir()}
	cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: 65534, Gid: 65534}}
	out, err := cmd.CombinedOutput()
	var exit *exec.ExitError
	switch {
	case errors.As(err, &exit):
		return string(out), exit.ExitCode()
	case err != nil:
		t.Fatalf("running as nobody: %v", err)
	}
	return string(out), 0
}

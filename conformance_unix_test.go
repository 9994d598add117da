//go:build linux

package epollnet

import (
	"context"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/epollnet/epollnet/internal/nettest"
)

// AF_UNIX stream sockets never report EINPROGRESS: connect returns 0, or
// EAGAIN when the listener's backlog is full (see docs/kernel.md, "AF_UNIX
// connect returns 0 or EAGAIN"). These
// tests need neither root nor a namespace: the address is a file.

// unixEnv is an engine with a traced single loop and a Unix listener that
// the test owns and accepts from by hand (or never).
type unixEnv struct {
	eng  *Engine
	tl   *traceLog
	lfd  int
	path string
}

func newUnixEnv(t *testing.T, backlog int) *unixEnv {
	t.Helper()
	tl := newTraceLog()
	env := &unixEnv{eng: newEngine(t, Options{Loops: 1, Tracer: tl.record}), tl: tl}
	env.path = filepath.Join(t.TempDir(), "s")
	fd, err := unix.Socket(unix.AF_UNIX, unix.SOCK_STREAM|unix.SOCK_NONBLOCK|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		t.Fatal(err)
	}
	closeAtEnd(t, fd)
	if err := unix.Bind(fd, &unix.SockaddrUnix{Name: env.path}); err != nil {
		t.Fatal(err)
	}
	if err := unix.Listen(fd, backlog); err != nil {
		t.Fatal(err)
	}
	env.lfd = fd
	return env
}

// fill connects the two clients that listen(fd, 1) queues; connect()
// returns 0 for each, there is no in-progress state.
func (env *unixEnv) fill(t *testing.T) {
	t.Helper()
	for i := 0; i < 2; i++ {
		c, err := env.eng.Dial(context.Background(), "unix", env.path, newDialHandler(), nil)
		if err != nil {
			t.Fatalf("client %d: %v", i+1, err)
		}
		if conn := env.tl.await(t, "connect", 5*time.Second, connEv(TraceConnect, c)); conn.Err != nil {
			t.Errorf("client %d: connect returned %v, want 0", i+1, conn.Err)
		}
	}
}

// TestUnixDialRetriesEAGAINUntilSlotFrees: with the backlog full, connect
// returns EAGAIN, which is not "in progress": no event will ever come and
// the socket reports OUT|HUP meanwhile. The engine takes it out of epoll
// (no readiness is seen, no spinning), retries with backoff, and connects
// once the server accepts one client.
func TestUnixDialRetriesEAGAINUntilSlotFrees(t *testing.T) {
	nettest.NeedEpoll(t, "an AF_UNIX connect that returns EAGAIN")
	env := newUnixEnv(t, 1)
	env.fill(t)
	cli := newDialHandler()
	c, err := env.eng.DialAsync("unix", env.path, cli, nil)
	if err != nil {
		t.Fatal(err)
	}
	env.tl.await(t, "connect EAGAIN", 5*time.Second, connEv(TraceConnect, c).and(errIs(syscall.EAGAIN)))
	// Pausing and resuming reads must not put the waiting socket back
	// into epoll: it would report OUT|HUP and fail the dial.
	c.PauseRead()
	c.ResumeRead()
	env.tl.quiet(t, "open while the backlog is full", quietWindow, connEv(TraceOpen, c))
	if n := env.tl.count(connEv(TraceReady, c)); n != 0 {
		t.Errorf("%d readiness events for a socket waiting to retry, want none", n)
	}
	retries := env.tl.count(connEv(TraceConnect, c).and(errIs(syscall.EAGAIN)))
	if retries < 3 || retries > 30 {
		t.Errorf("%d connect attempts in %v, want a backoff (1 ms doubling to 100 ms)", retries, quietWindow)
	}
	afd, _, err := unix.Accept4(env.lfd, unix.SOCK_NONBLOCK|unix.SOCK_CLOEXEC)
	if err != nil {
		t.Fatal(err)
	}
	closeAtEnd(t, afd)
	env.tl.await(t, "open after a slot freed", 5*time.Second, connEv(TraceOpen, c))
	recv(t, cli.opened, "OnOpen")
	if last := env.tl.count(connEv(TraceConnect, c).and(errIs(nil))); last != 1 {
		t.Errorf("%d successful connects, want 1", last)
	}
}

// TestUnixDialEAGAINUntilDeadline: if no slot frees, the retries end at
// the dial deadline with a timeout and the socket is closed.
func TestUnixDialEAGAINUntilDeadline(t *testing.T) {
	nettest.NeedEpoll(t, "an AF_UNIX connect that returns EAGAIN")
	env := newUnixEnv(t, 1)
	env.fill(t)
	cli := newDialHandler()
	start := time.Now()
	_, err := env.eng.Dial(context.Background(), "unix", env.path, cli, &DialConfig{Timeout: 200 * time.Millisecond})
	if d := time.Since(start); d < 200*time.Millisecond || d > 3*time.Second {
		t.Errorf("failed after %v, want the 200ms deadline", d)
	}
	if Classify(err) != ClassTimeout {
		t.Errorf("error %v: class %v, want timeout", err, Classify(err))
	}
	expectDialFailure(t, cli, nil, ClassTimeout)
}

// TestUnixDialImmediateErrorsAreAsync: a missing socket file (ENOENT) and
// a stale one (ECONNREFUSED) fail connect() at once, with no epoll step;
// the engine still reports them from the loop after DialAsync returned,
// even when DialAsync runs on that loop.
func TestUnixDialImmediateErrorsAreAsync(t *testing.T) {
	dir := t.TempDir()
	stale := filepath.Join(dir, "stale")
	fd, err := unix.Socket(unix.AF_UNIX, unix.SOCK_STREAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		t.Fatal(err)
	}
	if err := unix.Bind(fd, &unix.SockaddrUnix{Name: stale}); err != nil {
		t.Fatal(err)
	}
	unix.Close(fd) // the file stays, nobody listens
	for _, tc := range []struct {
		name, path string
		errno      syscall.Errno
	}{
		{"ENOENT", filepath.Join(dir, "missing"), syscall.ENOENT},
		{"ECONNREFUSED", stale, syscall.ECONNREFUSED},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := newEngine(t, Options{Loops: 1})
			cli := newDialHandler()
			if dialFromLoop(t, e, "unix", tc.path, cli, nil) {
				t.Errorf("OnClose ran inside DialAsync")
			}
			err := expectDialFailure(t, cli, tc.errno, ClassRefused)
			if sc := syscallName(err); sc != "connect" {
				t.Errorf("dial error names %q, want connect", sc)
			}
		})
	}
}

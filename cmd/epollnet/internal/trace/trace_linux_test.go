//go:build !epollnet_portable

package trace

import (
	"bufio"
	"context"
	"encoding/json"
	"net"
	"os"
	"path/filepath"
	"reflect"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/epollnet/epollnet/cmd/epollnet/internal/cli"
	"github.com/epollnet/epollnet/cmd/epollnet/internal/clitest"
	"github.com/epollnet/epollnet/cmd/epollnet/internal/tracefmt"
)

// TestTraceDefault runs "epollnet trace" with no arguments, the README's
// quick start: the default scenario uses no namespace, so it works as any
// user (TestTraceAsNonRoot runs it as one). The diagram must tell the
// whole story in order.
func TestTraceDefault(t *testing.T) {
	clitest.CheckLeaks(t)
	code, stdout, stderr := runCLI(t)
	if code != cli.ExitOK {
		t.Fatalf("exit %d\nstderr: %s", code, stderr)
	}
	if strings.Contains(stdout, "\x1b[") {
		t.Error("ANSI colour written to a buffer, not a terminal")
	}
	flat := strings.Join(strings.Fields(stdout), " ") // the footer is wrapped
	pos := 0
	for _, want := range []string{
		"scenario ok", "listening on fd", "socket() → fd", "connect() → EINPROGRESS", "─ SYN ",
		"● EPOLLOUT fd", "SO_ERROR → 0", "send() → 11 B", "● EPOLLIN fd", "(listener)",
		"accept4() → fd", "accept4() → EAGAIN", "recv() → 11 B", "send() → 6 B", "recv() → 6 B",
		"─ FIN ", "recv() → 0: EOF", "close(fd", "Where the common picture is wrong",
		"Common picture: the listener becomes readable at SYN+ACK", "not at SYN+ACK",
	} {
		i := strings.Index(flat[pos:], want)
		if i < 0 {
			t.Fatalf("%q missing, or out of order:\n%s", want, stdout)
		}
		pos += i + len(want)
	}
}

// TestTraceJSON parses every line of --json and checks the documented
// field set and the values that identify the events.
func TestTraceJSON(t *testing.T) {
	clitest.CheckLeaks(t)
	code, stdout, stderr := runCLI(t, "--json")
	if code != cli.ExitOK {
		t.Fatalf("exit %d\nstderr: %s", code, stderr)
	}
	want := []string{"addr", "conn", "detail", "err", "fd", "kind", "loop", "n", "ready", "role", "side", "t_us", "tcp_state"}
	var kinds []string
	last := -1.0
	sc := bufio.NewScanner(strings.NewReader(stdout))
	for sc.Scan() {
		var obj map[string]any
		if err := json.Unmarshal(sc.Bytes(), &obj); err != nil {
			t.Fatalf("line is not JSON: %v: %s", err, sc.Text())
		}
		keys := make([]string, 0, len(obj))
		for k := range obj {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		if !reflect.DeepEqual(keys, want) {
			t.Fatalf("fields %v, want %v", keys, want)
		}
		if tus := obj["t_us"].(float64); tus < last {
			t.Errorf("t_us went back from %v to %v", last, tus)
		} else {
			last = tus
		}
		side, role := obj["side"].(string), obj["role"].(string)
		if (role == "dialed") != (side == "client") {
			t.Errorf("role %q on side %q", role, side)
		}
		kinds = append(kinds, obj["kind"].(string)+"/"+role)
	}
	recs, err := tracefmt.ReadJSON(strings.NewReader(stdout))
	if err != nil {
		t.Fatal(err)
	}
	inOrder(t, recs,
		m("client connect EINPROGRESS", is("connect", "dialed", errIs("EINPROGRESS"))),
		m("client ready OUT", is("ready", "dialed", readyIs("OUT"))),
		m("listener ready IN", is("ready", "listener", readyIs("IN"))),
		m("accept4 EAGAIN", is("accept4", "listener", errIs("EAGAIN"))),
		m("listener closed", is("close", "listener")))
	if len(kinds) < 25 {
		t.Errorf("only %d events: %v", len(kinds), kinds)
	}
}

// TestTraceSVGFile checks that --svg writes a complete picture besides
// the text diagram.
func TestTraceSVGFile(t *testing.T) {
	clitest.CheckLeaks(t)
	path := filepath.Join(t.TempDir(), "trace.svg")
	code, stdout, stderr := runCLI(t, "--scenario", "refused", "--svg", path)
	if code != cli.ExitOK || !strings.Contains(stderr, "wrote "+path) || !strings.Contains(stdout, "SO_ERROR → ECONNREFUSED") {
		t.Fatalf("exit %d\nstdout:\n%s\nstderr:\n%s", code, stdout, stderr)
	}
	svg, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	s := string(svg)
	for _, want := range []string{"<svg ", "SO_ERROR → ECONNREFUSED", ">RST<", "</svg>"} {
		if !strings.Contains(s, want) {
			t.Errorf("SVG lacks %q", want)
		}
	}
}

// TestTraceTarget traces a dial to a server this test runs on loopback:
// client column only, the exchange visible from the client's side.
func TestTraceTarget(t *testing.T) {
	clitest.CheckLeaks(t)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	served := make(chan error, 1)
	go func() {
		c, err := ln.Accept()
		if err == nil {
			c.SetDeadline(time.Now().Add(5 * time.Second))
			buf := make([]byte, 4)
			if _, err = c.Read(buf); err == nil {
				_, err = c.Write([]byte("pong\n"))
			}
			c.Close()
		}
		served <- err
	}()
	code, stdout, stderr := runCLI(t, "--target", ln.Addr().String(), "--send", "ping", "--timeout", "2s")
	if err := <-served; err != nil {
		t.Fatalf("test server: %v", err)
	}
	if code != cli.ExitOK {
		t.Fatalf("exit %d\nstderr: %s", code, stderr)
	}
	for _, want := range []string{"server (not traced)", "send() → 4 B", "recv() → 5 B"} {
		if !strings.Contains(stdout, want) {
			t.Errorf("output lacks %q:\n%s", want, stdout)
		}
	}
}

// TestTraceListen runs --listen until its context is canceled, as SIGINT
// does, connecting once meanwhile; the events stream as they happen.
func TestTraceListen(t *testing.T) {
	clitest.CheckLeaks(t)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	var out, errOut clitest.SyncBuffer
	done := make(chan int, 1)
	go func() { done <- Run(ctx, []string{"--listen", "127.0.0.1:0"}, &out, &errOut) }()
	waitOutput(t, &out, "listening on fd")
	title := strings.SplitN(out.String(), "\n", 2)[0]
	addr := title[strings.LastIndex(title, " ")+1:]
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatalf("dial %q from the title %q: %v", addr, title, err)
	}
	c.Write([]byte("hello"))
	c.Close()
	waitOutput(t, &out, "connection closed by peer")
	cancel()
	if code := <-done; code != cli.ExitOK {
		t.Fatalf("exit %d\nstderr: %s", code, errOut.String())
	}
	text := out.String()
	pos := 0
	for _, want := range []string{"clients (not traced)", "accept4() → fd", "recv() → 5 B", "recv() → 0: EOF",
		"◀─", "close(fd", ": listener"} {
		i := strings.Index(text[pos:], want)
		if i < 0 {
			t.Fatalf("%q missing or out of order:\n%s", want, text)
		}
		pos += i + len(want)
	}
}

// waitOutput waits until out contains s.
func waitOutput(t *testing.T, out *clitest.SyncBuffer, s string) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for !strings.Contains(out.String(), s) {
		if time.Now().After(deadline) {
			t.Fatalf("no %q in output:\n%s", s, out.String())
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// TestTraceInterrupted checks that SIGINT (a canceled context) during a
// scenario stops it cleanly: a one-word reason, status 1, nothing leaked.
func TestTraceInterrupted(t *testing.T) {
	clitest.CheckLeaks(t)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	var stdout, stderr clitest.SyncBuffer
	code := Run(ctx, []string{"--scenario", "defer-accept"}, &stdout, &stderr)
	if code != cli.ExitFail || strings.TrimSpace(stderr.String()) != "epollnet trace: interrupted" {
		t.Fatalf("exit %d, stderr %q", code, stderr.String())
	}
}

package main

import (
	"bytes"
	"errors"
	"io"
	"net"
	"net/http"
	"regexp"
	"strconv"
	"syscall"
	"testing"
	"time"

	"github.com/epollnet/epollnet/cmd/epollnet/internal/cli"
	"github.com/epollnet/epollnet/cmd/epollnet/internal/clitest"
	"github.com/epollnet/epollnet/cmd/epollnet/internal/promtext"
	"github.com/epollnet/epollnet/internal/nettest"
)

var (
	listenLine  = regexp.MustCompile(` on tcp (\S+) \(`)
	metricsLine = regexp.MustCompile(`metrics on (http://\S+)`)
)

// startEchoProcess runs "serve --proto echo" as a process of its own and
// returns it with its address.
func startEchoProcess(t *testing.T) (*cliProcess, string) {
	t.Helper()
	p := startCLI(t, cliCommand(nil, nil, "serve", "--proto", "echo", "--listen", "127.0.0.1:0", "--loops", "1", "--quiet"))
	addr := p.waitOutput(t, listenLine, 1, 20*time.Second)[1]
	p.waitOutput(t, readyLine, 1, 20*time.Second)
	return p, addr
}

// scrapeProxy reads a proxy's metrics endpoint.
func scrapeProxy(t *testing.T, url string) map[string]promtext.Family {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	fams, err := promtext.Parse(bytes.NewReader(body))
	if err != nil {
		t.Fatalf("%v\n%s", err, body)
	}
	out := map[string]promtext.Family{}
	for _, f := range fams {
		out[f.Name] = f
	}
	return out
}

// backendValue is a proxy family's sample for one backend (and class).
func backendValue(f promtext.Family, backend string, more ...promtext.Label) float64 {
	for _, s := range f.Samples {
		want := append([]promtext.Label{{Name: "backend", Value: backend}}, more...)
		n := 0
		for _, w := range want {
			for _, l := range s.Labels {
				if l == w {
					n++
				}
			}
		}
		if n == len(want) {
			return s.Value
		}
	}
	return -1
}

// TestProxyProcessSurvivesKilledBackend is the proxy's acceptance check,
// with every piece a process of its own: "epollnet proxy --listen
// 127.0.0.1:P --backend A --backend B" in front of two "serve --proto
// echo" relays 40 concurrent 1 MiB streams byte-exact, each half-closed
// by its client, to both backends. Then A is killed (SIGKILL). The
// connections relayed to A at that moment end: their clients get a FIN
// (the kernel closed A's sockets; the pipe passes the half-close on) and
// no echo of what they send next, while those on B go on. Every new
// client after the kill is relayed without an error: a connect to A is
// refused and retried on B at once, and after --fails refusals A is down
// and no longer tried. SIGTERM then drains and exits 0.
func TestProxyProcessSurvivesKilledBackend(t *testing.T) {
	a, addrA := startEchoProcess(t)
	_, addrB := startEchoProcess(t)
	px := startCLI(t, cliCommand(nil, nil, "proxy", "--listen", "127.0.0.1:0", "--backend", addrA, "--backend", addrB,
		"--metrics", "127.0.0.1:0", "--fails", "2", "--loops", "1", "--quiet"))
	addr := px.waitOutput(t, listenLine, 1, 20*time.Second)[1]
	url := px.waitOutput(t, metricsLine, 1, 20*time.Second)[1]
	t.Cleanup(http.DefaultClient.CloseIdleConnections)

	if errs := clitest.Streams(addr, 40, 1<<20); clitest.Failures(errs) != "0 failed" {
		t.Fatalf("before the kill: %s", clitest.Failures(errs))
	}
	// Connections held open across the kill, each echoing once first so
	// that its relay is established.
	const held = 6
	var conns []net.Conn
	for range held {
		c := clitest.Dial(t, addr)
		c.SetDeadline(time.Now().Add(20 * time.Second))
		if _, err := c.Write([]byte("x")); err != nil {
			t.Fatal(err)
		}
		if _, err := io.ReadFull(c, make([]byte, 1)); err != nil {
			t.Fatal(err)
		}
		conns = append(conns, c)
	}
	fams := scrapeProxy(t, url)
	onA := backendValue(fams["epollnet_proxy_backend_connections_active"], addrA)
	if before := backendValue(fams["epollnet_proxy_backend_connections_total"], addrA); before < 20 || onA < 1 {
		t.Fatalf("backend A had %v connections, %v open now; want both backends used", before, onA)
	}

	a.cmd.Process.Signal(syscall.SIGKILL)
	a.wait(t, 10*time.Second)
	cut := 0
	for _, c := range conns {
		c.Write([]byte("y"))
		got, err := io.ReadAll(io.LimitReader(c, 1))
		switch {
		case string(got) == "y":
		case len(got) == 0 && (err == nil || errors.Is(err, syscall.ECONNRESET)):
			cut++ // EOF (or a reset, if the proxy's close overtook it): relayed to A
		default:
			t.Errorf("held connection: %q, %v", got, err)
		}
	}
	if float64(cut) != onA {
		t.Errorf("%d held connections ended at the kill, want the %v relayed to A", cut, onA)
	}

	if errs := clitest.Streams(addr, 40, 1<<20); clitest.Failures(errs) != "0 failed" {
		t.Fatalf("after the kill: %s", clitest.Failures(errs))
	}
	fams = scrapeProxy(t, url)
	refused := backendValue(fams["epollnet_proxy_backend_connect_failures_total"], addrA, promtext.Label{Name: "class", Value: "refused"})
	retries := backendValue(fams["epollnet_proxy_backend_retries_total"], addrA)
	up := backendValue(fams["epollnet_proxy_backend_up"], addrA)
	t.Logf("after the kill: A refused %v connects, all retried on B (%v); A up: %v", refused, retries, up)
	if refused < 2 || retries != refused || up != 0 {
		t.Errorf("A: %v refused, %v retries, up %v; want at least --fails refusals, each retried, and A down", refused, retries, up)
	}

	// The drain waits for the relays still open, the held ones on B,
	// until their clients leave.
	px.cmd.Process.Signal(syscall.SIGTERM)
	px.waitOutput(t, regexp.MustCompile(`shutting down, \d+ relays finishing`), 1, 10*time.Second)
	for _, c := range conns {
		c.Close()
	}
	if code := px.wait(t, 20*time.Second); code != cli.ExitOK {
		t.Fatalf("proxy exited %d", code)
	}
	summary := regexp.MustCompile(`([\d,]+) connections relayed, ([\d,]+) not relayed`)
	if m := px.waitOutput(t, summary, 1, time.Second); m[2] != "0" {
		t.Errorf("summary: %s", m[0])
	}
}

// TestProxyRestartHandsOverListener: SIGHUP starts a new proxy process on
// the same listening socket; the old one, once the new one is ready,
// finishes the relay it holds and exits 0, while new clients are relayed
// by the new one.
func TestProxyRestartHandsOverListener(t *testing.T) {
	nettest.NeedEpoll(t, "a restart hands listening descriptors over")
	subreaper(t)
	_, backend := startEchoProcess(t)
	px := startCLI(t, cliCommand(nil, nil, "proxy", "--listen", "127.0.0.1:0", "--backend", backend, "--loops", "1", "--quiet"))
	addr := px.waitOutput(t, listenLine, 1, 20*time.Second)[1]
	ready := regexp.MustCompile(`epollnet proxy: pid (\d+) ready`)
	px.waitOutput(t, ready, 1, 20*time.Second)

	held := clitest.Dial(t, addr)
	held.SetDeadline(time.Now().Add(20 * time.Second))
	if _, err := held.Write([]byte("a")); err != nil {
		t.Fatal(err)
	}
	if _, err := io.ReadFull(held, make([]byte, 1)); err != nil {
		t.Fatal(err)
	}
	px.cmd.Process.Signal(syscall.SIGHUP)
	newPID := px.waitOutput(t, ready, 2, 30*time.Second)[1]
	px.waitOutput(t, regexp.MustCompile(`the new process serves the sockets; 1 relays finishing`), 1, 10*time.Second)
	if errs := clitest.Streams(addr, 4, 64<<10); clitest.Failures(errs) != "0 failed" {
		t.Fatalf("after the restart: %s", clitest.Failures(errs))
	}
	// The old process still relays the held connection, then exits.
	if _, err := held.Write([]byte("b")); err != nil {
		t.Fatal(err)
	}
	if b := make([]byte, 1); func() error { _, err := io.ReadFull(held, b); return err }() != nil || b[0] != 'b' {
		t.Fatal("the held relay broke at the restart")
	}
	held.Close()
	if code := px.wait(t, 20*time.Second); code != cli.ExitOK {
		t.Fatalf("old proxy exited %d", code)
	}
	pid, _ := strconv.Atoi(newPID)
	syscall.Kill(pid, syscall.SIGTERM)
	if code := waitOrphan(t, pid, 20*time.Second); code != cli.ExitOK {
		t.Fatalf("new proxy exited %d", code)
	}
}

package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/epollnet/epollnet/cmd/epollnet/internal/cli"
	"github.com/epollnet/epollnet/cmd/epollnet/internal/serve"
	"github.com/epollnet/epollnet/internal/nettest"
	"golang.org/x/sys/unix"
)

// subreaper makes this process the reaper of its orphaned descendants for
// the test: the process a restart starts outlives its parent, and the
// test must be able to wait for it.
func subreaper(t *testing.T) {
	t.Helper()
	if err := unix.Prctl(unix.PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0); err != nil {
		t.Skipf("PR_SET_CHILD_SUBREAPER: %v", err)
	}
	t.Cleanup(func() { unix.Prctl(unix.PR_SET_CHILD_SUBREAPER, 0, 0, 0, 0) })
}

// waitOrphan waits for pid, a descendant re-parented to this process (see
// subreaper), to exit, and returns its exit code.
func waitOrphan(t *testing.T, pid int, timeout time.Duration) int {
	t.Helper()
	done := make(chan int, 1)
	go func() {
		var ws unix.WaitStatus
		for {
			_, err := unix.Wait4(pid, &ws, 0, nil)
			if err != unix.EINTR {
				break
			}
		}
		done <- ws.ExitStatus()
	}()
	select {
	case code := <-done:
		return code
	case <-time.After(timeout):
		syscall.Kill(pid, syscall.SIGKILL)
		t.Fatalf("pid %d did not exit within %v", pid, timeout)
		return -1
	}
}

// probe is one fresh connection of the prober: when it started, and how
// it went.
type probe struct {
	at  time.Time
	err error
}

// prober opens a new connection every interval until stop, sends one
// request with Connection: close and reads the whole response: a steady
// stream of connection attempts, so that some fall in every moment of a
// restart.
func prober(addr string, interval time.Duration, stop <-chan struct{}) []probe {
	var mu sync.Mutex
	var probes []probe
	var wg sync.WaitGroup
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		select {
		case <-stop:
			wg.Wait()
			return probes
		case <-t.C:
		}
		wg.Add(1)
		go func(at time.Time) {
			defer wg.Done()
			err := probeOnce(addr)
			mu.Lock()
			probes = append(probes, probe{at, err})
			mu.Unlock()
		}(time.Now())
	}
}

func probeOnce(addr string) error {
	c, err := net.DialTimeout("tcp", addr, 5*time.Second)
	if err != nil {
		return err
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(10 * time.Second))
	if _, err := io.WriteString(c, "GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"); err != nil {
		return err
	}
	resp, err := http.ReadResponse(bufio.NewReader(c), nil)
	if err != nil {
		return err
	}
	body, err := io.ReadAll(resp.Body)
	if err == nil && (resp.StatusCode != 200 || string(body) != serve.HelloBody) {
		err = &net.AddrError{Err: "unexpected response " + resp.Status, Addr: string(body)}
	}
	return err
}

// TestServeRestartRefusesNoConnection restarts "serve --proto http
// --reuseport" with SIGHUP three times in a row under a steady load:
// bench's 20 keep-alive connections and a fresh connection every
// millisecond. Each new process inherits the group of SO_REUSEPORT
// sockets, and the old one stops accepting once the new one is ready and
// drains (its connections get Connection: close and reconnect, to the new
// one). No connection attempt may fail (closing a reuseport socket resets
// the connections queued on it unless net.ipv4.tcp_migrate_req=1), no
// request may be lost, every process must have served requests, and
// --pid-file must name the newest process.
func TestServeRestartRefusesNoConnection(t *testing.T) {
	nettest.NeedEpoll(t, "a restart hands listening descriptors over")
	const restarts = 3
	subreaper(t)
	pidFile := filepath.Join(t.TempDir(), "serve.pid")
	p := startCLI(t, cliCommand(nil, nil, "serve", "--proto", "http", "--listen", "127.0.0.1:0",
		"--reuseport", "--loops", "2", "--quiet", "--shutdown-timeout", "5s", "--pid-file", pidFile))
	addr := p.waitOutput(t, regexp.MustCompile(` on tcp (\S+) \(`), 1, 20*time.Second)[1]
	pids := []string{p.waitOutput(t, readyLine, 1, 20*time.Second)[1]}

	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	reports := make(chan *benchReport, 1)
	go func() {
		// bench's 20 keep-alive connections, bounded: two cores run two
		// servers, the load and the race detector.
		reports <- runBench(t, ctx, "--target", addr, "--proto", "http", "-c", "20", "--ramp", "200",
			"-d", "1m", "--loops", "1", "--rate", "2000")
	}()
	stopProbes := make(chan struct{})
	probes := make(chan []probe, 1)
	go func() { probes <- prober(addr, time.Millisecond, stopProbes) }()

	type window struct{ hup, ready, exit time.Time }
	var switches []window
	time.Sleep(300 * time.Millisecond)
	for i := 1; i <= restarts; i++ {
		var w window
		w.hup = time.Now()
		old, _ := strconv.Atoi(pids[i-1])
		syscall.Kill(old, syscall.SIGHUP)
		pids = append(pids, p.waitOutput(t, readyLine, i+1, 30*time.Second)[1])
		w.ready = time.Now()
		code := 0
		if i == 1 {
			code = p.wait(t, 30*time.Second) // our child; the later ones are orphans
		} else {
			code = waitOrphan(t, old, 30*time.Second)
		}
		if code != cli.ExitOK {
			t.Fatalf("old pid %d exited %d", old, code)
		}
		w.exit = time.Now()
		switches = append(switches, w)
		if b, _ := os.ReadFile(pidFile); string(b) != pids[i]+"\n" {
			t.Errorf("--pid-file holds %q after restart %d, want pid %s", b, i, pids[i])
		}
		time.Sleep(300 * time.Millisecond)
	}
	cancel()
	close(stopProbes)
	rep, ps := <-reports, <-probes

	last, _ := strconv.Atoi(pids[restarts])
	syscall.Kill(last, syscall.SIGTERM)
	if code := waitOrphan(t, last, 15*time.Second); code != cli.ExitOK {
		t.Fatalf("the last process exited %d", code)
	}
	if _, err := os.Stat(pidFile); !os.IsNotExist(err) {
		t.Errorf("--pid-file left behind by the last process: %v", err)
	}
	// The last process (an orphan) has exited, but its summary line may
	// still be on its way through the output pipe.
	p.waitOutput(t, summaryLine, restarts+1, 10*time.Second)
	served := map[string]int{}
	for _, m := range summaryLine.FindAllStringSubmatch(p.out.String(), -1) {
		served[m[1]], _ = atoiCount(m[4])
	}

	failed, during, overlap := 0, 0, 0
	for _, pr := range ps {
		if pr.err != nil {
			failed++
			t.Errorf("connection attempt at %v: %v", pr.at.Format("15:04:05.000"), pr.err)
		}
		for _, w := range switches {
			if !pr.at.Before(w.hup) && pr.at.Before(w.exit) {
				during++
			}
			if !pr.at.Before(w.ready) && pr.at.Before(w.exit) {
				overlap++
			}
		}
	}
	for i, w := range switches {
		t.Logf("restart %d: SIGHUP → pid %s ready after %v → old pid %s drained and exited %v later", i+1,
			pids[i+1], w.ready.Sub(w.hup).Round(time.Millisecond), pids[i], w.exit.Sub(w.ready).Round(time.Millisecond))
	}
	t.Logf("probes: %d fresh connections, %d failed; %d between a SIGHUP and the old process's exit, %d of them after the new one was ready",
		len(ps), failed, during, overlap)
	if rep != nil {
		t.Logf("bench: %d requests, %d connects (20 kept alive, the rest after Connection: close), %d errors",
			rep.Requests, rep.Connect.Count, rep.ErrorTotal)
		if rep.ErrorTotal != 0 || rep.Requests == 0 {
			t.Errorf("bench: %d requests, %d errors: %v", rep.Requests, rep.ErrorTotal, rep.ErrorSamples)
		}
	}
	for _, pid := range pids {
		t.Logf("pid %s served %d requests", pid, served[pid])
		if served[pid] == 0 {
			t.Errorf("pid %s served no request", pid)
		}
	}
	if during == 0 {
		t.Errorf("no connection attempt during a switch")
	}
	if n := strings.Count(p.out.String(), "the new process serves the sockets; draining"); n != restarts {
		t.Errorf("%d old processes said they drain, want %d", n, restarts)
	}
}

// TestServeRestartKeepsUnixSocketPath: the old process leaves the path of
// a --listen Unix socket to the new one, which serves it and removes it
// at its final exit.
func TestServeRestartKeepsUnixSocketPath(t *testing.T) {
	nettest.NeedEpoll(t, "a restart hands listening descriptors over")
	subreaper(t)
	sock := filepath.Join(t.TempDir(), "echo.sock")
	p := startCLI(t, cliCommand(nil, nil, "serve", "--proto", "echo", "--listen", "unix:"+sock, "--loops", "1", "--quiet"))
	p.waitOutput(t, readyLine, 1, 20*time.Second)
	echoOver(t, sock, "before")
	p.cmd.Process.Signal(syscall.SIGHUP)
	newPid, _ := strconv.Atoi(p.waitOutput(t, readyLine, 2, 20*time.Second)[1])
	if code := p.wait(t, 20*time.Second); code != cli.ExitOK {
		t.Fatalf("the old process exited %d", code)
	}
	echoOver(t, sock, "after") // the path is still there, served by the new process
	syscall.Kill(newPid, syscall.SIGTERM)
	if code := waitOrphan(t, newPid, 15*time.Second); code != cli.ExitOK {
		t.Fatalf("the new process exited %d", code)
	}
	if _, err := os.Stat(sock); !os.IsNotExist(err) {
		t.Errorf("the socket file outlived the last process: %v", err)
	}
}

// benchReport is what the restart test reads of bench's --json report.
type benchReport struct {
	Requests uint64 `json:"requests"`
	Connect  struct {
		Count uint64 `json:"count"`
	} `json:"connect_us"`
	ErrorTotal   uint64            `json:"error_total"`
	ErrorSamples map[string]string `json:"error_samples"`
}

// runBench runs "epollnet bench --json --quiet args..." in-process until
// ctx ends and returns its report, or nil after reporting why there is
// none.
func runBench(t *testing.T, ctx context.Context, args ...string) *benchReport {
	var stdout, stderr bytes.Buffer
	code := run(ctx, append([]string{"bench", "--json", "--quiet"}, args...), &stdout, &stderr)
	rep := new(benchReport)
	if err := json.Unmarshal(stdout.Bytes(), rep); err != nil {
		t.Errorf("bench exited %d without a report (%v):\n%s", code, err, stderr.String())
		return nil
	}
	return rep
}

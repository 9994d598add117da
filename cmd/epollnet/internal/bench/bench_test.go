package bench

import (
	"encoding/json"
	"net"
	"os"
	"regexp"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/epollnet/epollnet"
	"github.com/epollnet/epollnet/cmd/epollnet/internal/cli"
	"github.com/epollnet/epollnet/cmd/epollnet/internal/clitest"
	"github.com/epollnet/epollnet/cmd/epollnet/internal/serve"
)

// benchJSON runs "epollnet bench --json args..." through run and decodes
// the report. It returns the exit code and the report (nil if there was
// no JSON on stdout).
func benchJSON(t *testing.T, args ...string) (int, *benchReport, string) {
	t.Helper()
	code, stdout, stderr := runCLI(t, append([]string{"--json", "--quiet", "--loops", "1"}, args...)...)
	if stdout == "" {
		return code, nil, stderr
	}
	var rep benchReport
	if err := json.Unmarshal([]byte(stdout), &rep); err != nil {
		t.Fatalf("bench printed no JSON report: %v\n%s\nstderr:\n%s", err, stdout, stderr)
	}
	checkCounts(t, &rep)
	return code, &rep, stderr
}

// checkCounts asserts that the report's request counts add up: each
// request sent was answered, lost with its connection, or in flight at
// the end, and no more can be in flight than the connections' pipelines
// hold.
func checkCounts(t *testing.T, rep *benchReport) {
	t.Helper()
	if rep.Sent != rep.Requests+rep.Unanswered || rep.Unanswered != rep.Lost+rep.InFlight {
		t.Errorf("counts do not add up: sent %d, answered %d, unanswered %d = lost %d + in flight %d",
			rep.Sent, rep.Requests, rep.Unanswered, rep.Lost, rep.InFlight)
	}
	if limit := uint64(rep.Connections * rep.Pipeline); rep.InFlight > limit {
		t.Errorf("%d requests in flight at the end, more than %d connections × pipeline %d allow",
			rep.InFlight, rep.Connections, rep.Pipeline)
	}
}

// checkClean asserts a successful run: requests answered, no error,
// percentiles in order, every connection's connect time recorded.
func checkClean(t *testing.T, code int, rep *benchReport, stderr string, conns int) {
	t.Helper()
	if code != cli.ExitOK || rep == nil {
		t.Fatalf("exit %d, report %v:\n%s", code, rep, stderr)
	}
	if rep.Requests == 0 || rep.ErrorTotal != 0 || rep.RequestsPerS <= 0 {
		t.Errorf("requests %d, errors %d (%v), req/s %v", rep.Requests, rep.ErrorTotal, rep.ErrorSamples, rep.RequestsPerS)
	}
	if rep.Connect.Count < uint64(conns) {
		t.Errorf("%d connect times for %d connections", rep.Connect.Count, conns)
	}
	dists := map[string]distribution{"connect": rep.Connect}
	if rep.Latency != nil {
		dists["latency"] = *rep.Latency
		if rep.Latency.Count != rep.Requests {
			t.Errorf("%d latencies for %d requests", rep.Latency.Count, rep.Requests)
		}
	} else if rep.Proto != cli.ProtoRaw {
		t.Errorf("no latency for %s", rep.Proto)
	}
	for name, d := range dists {
		if !(d.Min <= d.P50 && d.P50 <= d.P90 && d.P90 <= d.P99 && d.P99 <= d.P999 && d.P999 <= d.Max && d.Min > 0) {
			t.Errorf("%s percentiles out of order: %+v", name, d)
		}
	}
}

// TestBenchAgainstServe runs bench against serve, both through run, for
// every protocol over TCP and Unix sockets, with pipelining and a fixed
// rate in the mix.
func TestBenchAgainstServe(t *testing.T) {
	for _, tc := range []struct {
		name, serve string
		bench       []string
	}{
		{"echo", cli.ProtoEcho, []string{"--proto", "echo", "--size", "300"}},
		{"echo-pipeline-rate", cli.ProtoEcho, []string{"--proto", "echo", "--pipeline", "4", "--rate", "2000"}},
		{"raw-discard", cli.ProtoDiscard, []string{"--proto", "raw", "--size", "1000"}},
		{"http", cli.ProtoHTTP, []string{"--proto", "http", "--path", "/x?y=1", "-H", "X-A: b"}},
		{"http-pipeline-post", cli.ProtoHTTP, []string{"--proto", "http", "--pipeline", "8", "--method", "POST", "--body", "hello"}},
	} {
		for _, network := range []string{"tcp", "unix"} {
			t.Run(tc.name+"/"+network, func(t *testing.T) {
				clitest.CheckLeaks(t)
				listen := "127.0.0.1:0"
				if network == "unix" {
					listen = "unix:" + t.TempDir() + "/s.sock"
				}
				addr, _ := clitest.StartServe(t, serve.Run, "--proto", tc.serve, "--listen", listen, "--loops", "1")
				args := append([]string{"--target", addr, "-c", "4", "-d", "300ms"}, tc.bench...)
				code, rep, stderr := benchJSON(t, args...)
				checkClean(t, code, rep, stderr, 4)
				if rep.Network != network || rep.InProcess {
					t.Errorf("network %q, in-process %v", rep.Network, rep.InProcess)
				}
				if tc.serve == cli.ProtoHTTP && rep.Status["200"] != rep.Requests {
					t.Errorf("status counts %v for %d requests", rep.Status, rep.Requests)
				}
			})
		}
	}
}

// TestBenchDefaultRunsInProcess: with no target, bench starts its own
// server, so it works with nothing else running; -n stops it by count.
func TestBenchDefaultRunsInProcess(t *testing.T) {
	clitest.CheckLeaks(t)
	code, rep, stderr := benchJSON(t, "-d", "300ms", "-c", "4")
	checkClean(t, code, rep, stderr, 4)
	if !rep.InProcess || rep.Proto != cli.ProtoEcho || !strings.HasPrefix(rep.Target, "127.0.0.1:") {
		t.Errorf("in-process %v, proto %q, target %q", rep.InProcess, rep.Proto, rep.Target)
	}
	code, rep, stderr = benchJSON(t, "--proto", "http", "-n", "500", "-c", "4", "--pipeline", "2")
	checkClean(t, code, rep, stderr, 4)
	if rep.Requests != 500 || rep.Status["200"] != 500 {
		t.Errorf("-n 500: %d requests, status %v", rep.Requests, rep.Status)
	}
}

// TestBenchTextReport checks the human report's lines.
func TestBenchTextReport(t *testing.T) {
	clitest.CheckLeaks(t)
	code, stdout, stderr := runCLI(t, "--proto", "http", "-d", "300ms", "-c", "2", "--loops", "1")
	if code != cli.ExitOK {
		t.Fatalf("exit %d\n%s\n%s", code, stdout, stderr)
	}
	for _, want := range []string{"in-process server", "requests ", "req/s", "throughput ", "latency ", "p99.9 ",
		"connect ", "status      200 ", "errors      none"} {
		if !strings.Contains(stdout, want) {
			t.Errorf("report lacks %q:\n%s", want, stdout)
		}
	}
}

// TestBenchRefusedPort: every connect to a closed port is refused; the
// run reports them and fails (--max-errors 0), unless allowed.
func TestBenchRefusedPort(t *testing.T) {
	clitest.CheckLeaks(t)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	code, rep, stderr := benchJSON(t, "--target", addr, "-c", "2", "-d", "300ms")
	if code != cli.ExitFail || rep == nil || rep.Errors["refused"] == 0 || rep.ErrorTotal != rep.Errors["refused"] {
		t.Fatalf("exit %d, report %+v", code, rep)
	}
	if !strings.Contains(stderr, "more than --max-errors 0") || !strings.Contains(rep.ErrorSamples["refused"], "refused") {
		t.Errorf("stderr %q, sample %q", stderr, rep.ErrorSamples["refused"])
	}
	if rep.Connect.Count != 0 || rep.Requests != 0 {
		t.Errorf("connects %d, requests %d to a closed port", rep.Connect.Count, rep.Requests)
	}
	code, _, _ = benchJSON(t, "--target", addr, "-c", "1", "-d", "100ms", "--max-errors", "1000")
	if code != cli.ExitOK {
		t.Errorf("exit %d with errors allowed", code)
	}
}

// rudeServer is a test server that misbehaves in one way.
type rudeServer struct {
	epollnet.BaseHandler
	mode string
}

func (h *rudeServer) OnOpen(c *epollnet.Conn) {
	if h.mode == "abort" {
		c.Abort() // RST on every connection
	}
}

func (h *rudeServer) OnData(c *epollnet.Conn, in []byte) int {
	switch h.mode {
	case "corrupt-echo":
		out := append([]byte(nil), in...)
		out[len(out)-1] ^= 0x20
		c.Write(out)
	case "bad-http":
		c.Write([]byte("HTTP/1.1 200 OK\r\nContent-Length: x\r\n\r\n"))
	}
	return len(in)
}

// TestBenchErrorClasses provokes resets and bad responses for real and
// checks each is counted under its class.
func TestBenchErrorClasses(t *testing.T) {
	for _, tc := range []struct {
		mode, proto, class string
	}{
		{"abort", cli.ProtoEcho, "reset"},
		{"corrupt-echo", cli.ProtoEcho, "bad-response"},
		{"bad-http", cli.ProtoHTTP, "bad-response"},
	} {
		t.Run(tc.mode, func(t *testing.T) {
			clitest.CheckLeaks(t)
			eng, err := epollnet.New(epollnet.Options{Loops: 1})
			if err != nil {
				t.Fatal(err)
			}
			defer eng.Abort()
			ln, err := eng.Listen("tcp", "127.0.0.1:0", &rudeServer{mode: tc.mode}, nil)
			if err != nil {
				t.Fatal(err)
			}
			code, rep, stderr := benchJSON(t, "--target", ln.Addr().String(), "--proto", tc.proto, "-c", "2", "-d", "300ms")
			if code != cli.ExitFail || rep == nil || rep.Errors[tc.class] == 0 {
				t.Fatalf("exit %d, errors %v, samples %v\n%s", code, rep.Errors, rep.ErrorSamples, stderr)
			}
			if rep.Requests != 0 {
				t.Errorf("%d requests counted from a broken server", rep.Requests)
			}
			if tc.mode == "abort" && rep.Lost == 0 {
				t.Errorf("connections reset with requests in flight, yet none lost: sent %d, in flight %d",
					rep.Sent, rep.InFlight)
			}
			t.Logf("%s: %s", tc.class, rep.ErrorSamples[tc.class])
		})
	}
}

// TestBenchRefusesRemoteTargets: a target outside loopback is refused
// before any packet is sent (192.0.2.0/24 is TEST-NET-1).
func TestBenchRefusesRemoteTargets(t *testing.T) {
	code, _, stderr := runCLI(t, "--target", "192.0.2.1:80", "-d", "100ms")
	if code != cli.ExitFail || !strings.Contains(stderr, "not a loopback address") || !strings.Contains(stderr, "--allow-remote") {
		t.Errorf("exit %d:\n%s", code, stderr)
	}
}

// TestBenchJSONFieldsDocumented keeps docs/cli.md and the JSON report in
// step: every field the report has is documented, and nothing more.
func TestBenchJSONFieldsDocumented(t *testing.T) {
	doc, err := os.ReadFile("../../../../docs/cli.md")
	if err != nil {
		t.Fatal(err)
	}
	section := string(doc)
	if i := strings.Index(section, "## bench JSON report"); i >= 0 {
		section = section[i:]
		if j := strings.Index(section, "\n## "); j >= 0 {
			section = section[:j] // the next section's tables are not the report's
		}
	} else {
		t.Fatal(`docs/cli.md has no "## bench JSON report" section`)
	}
	documented := map[string]bool{}
	for _, m := range regexp.MustCompile("(?m)^\\| `([a-z0-9_.]+)` \\|").FindAllStringSubmatch(section, -1) {
		documented[m[1]] = true
	}
	rep := benchReport{Latency: &distribution{}, TLS: &tlsReport{}, Handshake: &distribution{}}
	b, _ := json.Marshal(rep)
	var top map[string]json.RawMessage
	json.Unmarshal(b, &top)
	var want []string
	for k := range top {
		want = append(want, k)
	}
	b, _ = json.Marshal(distribution{})
	var dist map[string]any
	json.Unmarshal(b, &dist)
	for k := range dist {
		want = append(want, "latency_us."+k, "connect_us."+k, "handshake_us."+k)
	}
	b, _ = json.Marshal(tlsReport{})
	var tlsFields map[string]any
	json.Unmarshal(b, &tlsFields)
	for k := range tlsFields {
		want = append(want, "tls."+k)
	}
	sort.Strings(want)
	for _, k := range want {
		if !documented[k] {
			t.Errorf("JSON field %q is not documented in docs/cli.md", k)
		}
		delete(documented, k)
	}
	for k := range documented {
		t.Errorf("docs/cli.md documents %q, which the report does not have", k)
	}
}

// TestBenchProgressLine: a run longer than the progress period prints the
// live line on stderr.
func TestBenchProgressLine(t *testing.T) {
	clitest.CheckLeaks(t)
	o := defaultBenchOptions()
	o.duration, o.conns, o.loops, o.progressEvery = 350*time.Millisecond, 2, 1, 100*time.Millisecond
	var stderr clitest.SyncBuffer
	rep, err := bench(t.Context(), o, &stderr)
	if err != nil || rep.Requests == 0 {
		t.Fatalf("bench: %v, %+v", err, rep)
	}
	line := regexp.MustCompile(`(?m)^bench: [\d.]+ms/350ms  [\d,.]+ req/s  [\d,]+ conns  0 errors$`)
	if !line.MatchString(stderr.String()) {
		t.Errorf("no progress line in:\n%s", stderr.String())
	}
}

// sourceRecorder echoes and records the peers' IP addresses.
type sourceRecorder struct {
	epollnet.BaseHandler
	mu  sync.Mutex
	ips map[string]int
}

func (h *sourceRecorder) OnOpen(c *epollnet.Conn) {
	h.mu.Lock()
	h.ips[c.RemoteAddr().(*net.TCPAddr).IP.String()]++
	h.mu.Unlock()
}

func (h *sourceRecorder) OnData(c *epollnet.Conn, in []byte) int {
	c.Write(in)
	return len(in)
}

// TestBenchSourcesRotate: connections are bound to the --source addresses
// in turn.
func TestBenchSourcesRotate(t *testing.T) {
	clitest.CheckLeaks(t)
	eng, err := epollnet.New(epollnet.Options{Loops: 1})
	if err != nil {
		t.Fatal(err)
	}
	defer eng.Abort()
	h := &sourceRecorder{ips: map[string]int{}}
	ln, err := eng.Listen("tcp", "127.0.0.1:0", h, nil)
	if err != nil {
		t.Fatal(err)
	}
	code, rep, stderr := benchJSON(t, "--target", ln.Addr().String(), "-c", "4", "-d", "200ms",
		"--source", "127.0.0.2", "--source", "127.0.0.3")
	checkClean(t, code, rep, stderr, 4)
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.ips["127.0.0.2"] != 2 || h.ips["127.0.0.3"] != 2 || len(h.ips) != 2 {
		t.Errorf("connections by source: %v, want 2 from each of 127.0.0.2 and 127.0.0.3", h.ips)
	}
}

// runCLI runs "epollnet bench" with args.
func runCLI(t *testing.T, args ...string) (int, string, string) {
	t.Helper()
	return clitest.Run(t, Run, args...)
}

// TestBenchTLS: --tls against the in-process server (which serves TLS with
// a certificate bench trusts, so nothing is skipped in verification): a
// connection per request, so the report counts a handshake per
// connection, and the later ones resume their session.
func TestBenchTLS(t *testing.T) {
	clitest.CheckLeaks(t)
	code, rep, stderr := benchJSON(t, "--tls", "--proto", "http", "-c", "4", "-d", "300ms", "--requests-per-conn", "1")
	checkClean(t, code, rep, stderr, 4)
	if rep.TLS == nil || rep.TLS.Version == "" || rep.TLS.ALPN != "http/1.1" ||
		rep.TLS.Full+rep.TLS.Resumed != rep.Connects || rep.TLS.Resumed == 0 ||
		rep.Handshake == nil || rep.Handshake.Count != rep.Connects || rep.Handshake.P50 <= 0 {
		t.Fatalf("TLS report %+v for %d connections", rep.TLS, rep.Connects)
	}
}

// TestBenchTLSAgainstAPlainServer: --tls to a server that does not speak
// TLS (an echo server, which sends the ClientHello back) fails every
// handshake, counted under the class tls, and bench exits 1.
func TestBenchTLSAgainstAPlainServer(t *testing.T) {
	clitest.CheckLeaks(t)
	addr, _ := clitest.StartServe(t, serve.Run, "--proto", "echo", "--listen", "127.0.0.1:0", "--loops", "1")
	code, rep, stderr := benchJSON(t, "--tls", "--insecure", "--target", addr, "-c", "2", "-d", "200ms")
	if code != cli.ExitFail || rep == nil || rep.Errors["tls"] == 0 || rep.Requests != 0 {
		t.Fatalf("exit %d, report %+v\n%s", code, rep, stderr)
	}
}

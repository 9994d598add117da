package serve

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net"
	"os/exec"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/epollnet/epollnet/cmd/epollnet/internal/cli"
	"github.com/epollnet/epollnet/cmd/epollnet/internal/clitest"
	"github.com/epollnet/epollnet/cmd/epollnet/internal/http1"
	"github.com/epollnet/epollnet/internal/nettest"
)

// startServe runs "epollnet serve args..." (see clitest.StartServe) and
// returns the address of its first listener in --target form.
func startServe(t *testing.T, args ...string) string {
	t.Helper()
	addr, _ := clitest.StartServe(t, Run, args...)
	return addr
}

// testServer starts an in-process server on loopback for the HTTP tests.
func testServer(t *testing.T, proto string, edit func(*serveOptions)) (*runningServer, string) {
	t.Helper()
	clitest.CheckLeaks(t)
	o := defaultServeOptions()
	o.proto, o.listen, o.loops = proto, []string{"127.0.0.1:0"}, 1
	if edit != nil {
		edit(&o)
	}
	s, err := startServer(o)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := s.shutdown(2 * time.Second); err != nil {
			t.Errorf("shutdown: %v", err)
		}
	})
	return s, s.addrs()[0].String()
}

// httpExchange sends req on a new connection and reads until the server
// closes it or quiet passes without data; it reports whether the server
// closed.
func httpExchange(t *testing.T, addr, req string, quiet time.Duration) (reply string, closed bool) {
	t.Helper()
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if _, err := io.WriteString(c, req); err != nil {
		t.Fatal(err)
	}
	return clitest.ReadAll(t, c, quiet)
}

// parseResponses parses raw as responses to requests with methods, in
// order, and fails t unless exactly those are there.
func parseResponses(t *testing.T, raw string, methods ...string) []http1.Response {
	t.Helper()
	var p http1.ResponseParser
	var out []http1.Response
	b := []byte(raw)
	for _, m := range methods {
		var r http1.Response
		n, err := p.Parse(b, m, &r)
		if err != nil || n == 0 {
			t.Fatalf("response %d of %q: n=%d err=%v", len(out)+1, raw, n, err)
		}
		r.Body = bytes.Clone(r.Body)
		out = append(out, r)
		b = b[n:]
	}
	if len(b) > 0 {
		t.Fatalf("%d bytes after %d responses: %q", len(b), len(methods), b)
	}
	return out
}

func header(r *http1.Response, name string) string {
	for _, h := range r.Headers {
		if strings.EqualFold(string(h.Name), name) {
			return string(h.Value)
		}
	}
	return ""
}

// TestHTTPPipelinedRequestsAnsweredInOrder sends three requests in one
// write (GET, HEAD, HTTP/1.0 keep-alive GET) and gets the three responses
// in that order, on a connection that stays open.
func TestHTTPPipelinedRequestsAnsweredInOrder(t *testing.T) {
	_, addr := testServer(t, cli.ProtoHTTP, nil)
	req := "GET /a HTTP/1.1\r\nHost: x\r\n\r\n" + "HEAD /b HTTP/1.1\r\nHost: x\r\n\r\n" +
		"GET /c HTTP/1.0\r\nConnection: keep-alive\r\n\r\n"
	reply, closed := httpExchange(t, addr, req, 300*time.Millisecond)
	rs := parseResponses(t, reply, "GET", "HEAD", "GET")
	if closed {
		t.Error("the server closed a keep-alive connection")
	}
	for i, r := range rs {
		if r.StatusCode != 200 {
			t.Errorf("response %d: status %d", i+1, r.StatusCode)
		}
	}
	if string(rs[0].Body) != HelloBody || len(rs[1].Body) != 0 || string(rs[2].Body) != HelloBody {
		t.Errorf("bodies %q, %q, %q: want the GET, HEAD, GET order", rs[0].Body, rs[1].Body, rs[2].Body)
	}
	if header(&rs[1], "Content-Length") != "13" || header(&rs[2], "Connection") != "keep-alive" ||
		header(&rs[0], "Connection") != "" {
		t.Errorf("headers out of order: %q", reply)
	}
}

// TestHTTPResponsesOfOneReadInOneWrite: process, which OnData calls once
// per read and whose output OnData writes once, answers every complete
// request of the read and leaves the partial one unconsumed.
func TestHTTPResponsesOfOneReadInOneWrite(t *testing.T) {
	s := newHTTPServer(newServeStats(1, 10), 1, defaultServeOptions())
	hc := &httpConn{p: http1.RequestParser{Limits: s.limits}}
	one := "GET / HTTP/1.1\r\nHost: x\r\n\r\n"
	in := []byte(strings.Repeat(one, 16) + one[:10])
	used, answered, closeConn := s.process(0, hc, in, time.Now())
	if used != 16*len(one) || answered != 16 || closeConn {
		t.Fatalf("process: used %d answered %d close %v; want %d, 16, false", used, answered, closeConn, 16*len(one))
	}
	methods := make([]string, 16)
	for i := range methods {
		methods[i] = "GET"
	}
	parseResponses(t, string(s.loops[0].out), methods...)
	if got := s.st.ops(); got != 16 {
		t.Errorf("counted %d requests, want 16", got)
	}
}

// TestHTTPConnectionCloseHonoured: the response to "Connection: close"
// says so, is flushed, and is followed by the server's FIN; the request
// pipelined after it is not answered.
func TestHTTPConnectionCloseHonoured(t *testing.T) {
	_, addr := testServer(t, cli.ProtoHTTP, nil)
	reply, closed := httpExchange(t, addr, "GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"+
		"GET /after HTTP/1.1\r\nHost: x\r\n\r\n", 2*time.Second)
	rs := parseResponses(t, reply, "GET")
	if !closed || header(&rs[0], "Connection") != "close" {
		t.Errorf("closed %v, Connection %q: want the server to close after saying so", closed, header(&rs[0], "Connection"))
	}
}

// TestHTTP10KeepAliveRules: HTTP/1.0 closes after the response unless the
// client asked for keep-alive, and then the response says keep-alive.
func TestHTTP10KeepAliveRules(t *testing.T) {
	_, addr := testServer(t, cli.ProtoHTTP, nil)
	reply, closed := httpExchange(t, addr, "GET / HTTP/1.0\r\n\r\n", 2*time.Second)
	rs := parseResponses(t, reply, "GET")
	if !closed || header(&rs[0], "Connection") != "close" {
		t.Errorf("HTTP/1.0 without keep-alive: closed %v, Connection %q", closed, header(&rs[0], "Connection"))
	}
	ka := "GET / HTTP/1.0\r\nConnection: keep-alive\r\n\r\n"
	reply, closed = httpExchange(t, addr, ka+ka, 300*time.Millisecond)
	rs = parseResponses(t, reply, "GET", "GET")
	if closed || header(&rs[1], "Connection") != "keep-alive" {
		t.Errorf("HTTP/1.0 keep-alive: closed %v, Connection %q", closed, header(&rs[1], "Connection"))
	}
}

// TestHTTPBadRequestsAnsweredAndClosed: each kind of unacceptable request
// gets its status from internal/http1, then the connection is closed.
func TestHTTPBadRequestsAnsweredAndClosed(t *testing.T) {
	st, addr := testServer(t, cli.ProtoHTTP, nil)
	for _, tc := range []struct {
		name, req string
		status    int
	}{
		{"malformed", "BAD\r\n\r\n", 400},
		{"no Host", "GET / HTTP/1.1\r\n\r\n", 400},
		{"body too large", "POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 100000000\r\n\r\n", 413},
		{"URI too long", "GET /" + strings.Repeat("a", 9000) + " HTTP/1.1\r\nHost: x\r\n\r\n", 414},
		{"header too large", "GET / HTTP/1.1\r\nHost: x\r\nX: " + strings.Repeat("b", 9000) + "\r\n\r\n", 431},
		{"unknown coding", "POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: gzip, chunked\r\n\r\n", 501},
		{"HTTP/2.0", "GET / HTTP/2.0\r\nHost: x\r\n\r\n", 505},
	} {
		t.Run(tc.name, func(t *testing.T) {
			reply, closed := httpExchange(t, addr, "GET /ok HTTP/1.1\r\nHost: x\r\n\r\n"+tc.req, 2*time.Second)
			rs := parseResponses(t, reply, "GET", "GET")
			if rs[0].StatusCode != 200 || rs[1].StatusCode != tc.status || !closed {
				t.Errorf("statuses %d, %d, closed %v; want 200, %d, closed", rs[0].StatusCode, rs[1].StatusCode, closed, tc.status)
			}
			if header(&rs[1], "Connection") != "close" {
				t.Errorf("error response without Connection: close: %q", reply)
			}
		})
	}
	if got := st.st.badReqs.Load(); got != 7 {
		t.Errorf("counted %d bad requests, want 7", got)
	}
}

// TestHTTPSlowlorisHeaderTimeout: a client that trickles its request head
// a byte at a time, never idle long enough for an idle timeout, gets 408
// once the header timeout passes and is disconnected.
func TestHTTPSlowlorisHeaderTimeout(t *testing.T) {
	const ttl = 300 * time.Millisecond
	st, addr := testServer(t, cli.ProtoHTTP, func(o *serveOptions) { o.headerTimeout, o.idleTimeout = ttl, time.Second })
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	start := time.Now()
	head := "GET / HTTP/1.1\r\nHost: x\r\nX-Slow: " + strings.Repeat("z", 100)
	for i := 0; i < len(head) && time.Since(start) < 3*time.Second; i++ {
		if _, err := c.Write([]byte{head[i]}); err != nil {
			break // the server closed: expected once the timeout passed
		}
		time.Sleep(20 * time.Millisecond)
		if time.Since(start) > ttl+200*time.Millisecond {
			break
		}
	}
	reply, closed := clitest.ReadAll(t, c, 2*time.Second)
	elapsed := time.Since(start)
	if !closed || !strings.HasPrefix(reply, "HTTP/1.1 408 ") {
		t.Fatalf("after %v: closed %v, reply %q; want 408 and close", elapsed, closed, reply)
	}
	if elapsed < ttl-50*time.Millisecond {
		t.Errorf("timed out after %v, before the %v header timeout", elapsed, ttl)
	}
	if st.st.timeouts.Load() != 1 {
		t.Errorf("counted %d timeouts, want 1", st.st.timeouts.Load())
	}
}

// TestHTTPExpectContinue: a client that waits for 100 Continue before its
// body gets it, then the response.
func TestHTTPExpectContinue(t *testing.T) {
	_, addr := testServer(t, cli.ProtoHTTP, nil)
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	io.WriteString(c, "POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\nExpect: 100-continue\r\n\r\n")
	interim, _ := clitest.ReadAll(t, c, 300*time.Millisecond)
	if interim != string(continue100) {
		t.Fatalf("before the body: %q, want 100 Continue", interim)
	}
	io.WriteString(c, "hello")
	reply, _ := clitest.ReadAll(t, c, 300*time.Millisecond)
	if rs := parseResponses(t, reply, "POST"); rs[0].StatusCode != 200 {
		t.Errorf("status %d", rs[0].StatusCode)
	}
}

// admitEchoing opens n connections to an echo server and checks that each
// is served; they are closed when the test ends.
func admitEchoing(t *testing.T, addr string, n int) []net.Conn {
	t.Helper()
	var admitted []net.Conn
	for range n {
		c, err := net.Dial("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { c.Close() })
		io.WriteString(c, "ping")
		if got, _ := clitest.ReadAll(t, c, 200*time.Millisecond); got != "ping" {
			t.Fatalf("admitted connection echoed %q", got)
		}
		admitted = append(admitted, c)
	}
	return admitted
}

// TestServeMaxConnsResetsExtraConnections: beyond --max-conns a connection
// is reset at once and counted; the admitted ones keep working.
func TestServeMaxConnsResetsExtraConnections(t *testing.T) {
	st, addr := testServer(t, cli.ProtoEcho, func(o *serveOptions) { o.maxConns = 2 })
	admitted := admitEchoing(t, addr, 2)
	// The reset can beat net.Dial's own completion check (SO_ERROR after
	// EPOLLOUT), so it shows either there or on the first read.
	extra, err := net.Dial("tcp", addr)
	switch {
	case errors.Is(err, syscall.ECONNRESET):
	case err != nil:
		t.Fatal(err)
	default:
		defer extra.Close()
		if got, closed := clitest.ReadAll(t, extra, 2*time.Second); !closed || got != "" {
			t.Fatalf("connection over the cap: read %q, closed %v; want a reset", got, closed)
		}
	}
	if n := st.st.refused.Load(); n != 1 {
		t.Errorf("refused %d, want 1", n)
	}
	io.WriteString(admitted[0], "again")
	if got, _ := clitest.ReadAll(t, admitted[0], 200*time.Millisecond); got != "again" {
		t.Errorf("admitted connection echoed %q after the refusal", got)
	}
}

// TestServeAtCapWaitLeavesClientsInBacklog: with --at-cap wait a
// connection beyond --max-conns is neither accepted nor reset: its
// handshake completes in the kernel's accept queue, and it is served, with
// what it sent meanwhile, as soon as an admitted connection closes.
func TestServeAtCapWaitLeavesClientsInBacklog(t *testing.T) {
	st, addr := testServer(t, cli.ProtoEcho, func(o *serveOptions) { o.maxConns, o.atCap = 2, capWait })
	admitted := admitEchoing(t, addr, 2)
	extra, err := net.Dial("tcp", addr) // completes: the kernel queues it
	if err != nil {
		t.Fatal(err)
	}
	defer extra.Close()
	io.WriteString(extra, "queued")
	if got, closed := clitest.ReadAll(t, extra, 300*time.Millisecond); got != "" || closed {
		t.Fatalf("connection over the cap: read %q, closed %v; want it left waiting", got, closed)
	}
	if n := st.eng.Stats().Total.CapPauses; n == 0 {
		t.Error("LoopStats.CapPauses is 0: the listener was not held at its cap")
	}
	admitted[0].Close()
	extra.SetReadDeadline(time.Now().Add(5 * time.Second))
	got := make([]byte, len("queued"))
	if _, err := io.ReadFull(extra, got); err != nil || string(got) != "queued" {
		t.Fatalf("after a close, the waiting connection echoed %q (%v), want \"queued\"", got, err)
	}
	if n := st.st.refused.Load(); n != 0 {
		t.Errorf("refused %d, want 0: nothing is reset under --at-cap wait", n)
	}
}

// TestEchoBackpressureInsteadOfWriteCap: a client that sends much more
// than the write cap before reading anything is slowed down (the server
// stops reading), not disconnected, and gets every byte back.
func TestEchoBackpressureInsteadOfWriteCap(t *testing.T) {
	_, addr := testServer(t, cli.ProtoEcho, func(o *serveOptions) { o.maxWriteBuffer = minWriteBuffer })
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	// More than the kernel buffers hold (the server's send buffer grows
	// to net.ipv4.tcp_wmem's 4 MiB; the client's receive buffer is fixed
	// small), so the server's own output must pile up.
	c.(*net.TCPConn).SetReadBuffer(16 << 10)
	sent := bytes.Repeat([]byte("0123456789abcdef"), 1<<20) // 16 MiB
	werr := make(chan error, 1)
	go func() { _, err := c.Write(sent); werr <- err }()
	time.Sleep(200 * time.Millisecond) // let the output pile up before reading
	c.SetReadDeadline(time.Now().Add(10 * time.Second))
	got := make([]byte, len(sent))
	if _, err := io.ReadFull(c, got); err != nil {
		t.Fatalf("read back: %v", err)
	}
	if err := <-werr; err != nil {
		t.Fatalf("write: %v", err)
	}
	if !bytes.Equal(got, sent) {
		t.Fatal("echoed bytes differ")
	}
}

// TestServeIdleTimeout: an idle keep-alive connection is closed.
func TestServeIdleTimeout(t *testing.T) {
	_, addr := testServer(t, cli.ProtoHTTP, func(o *serveOptions) { o.idleTimeout = 200 * time.Millisecond })
	start := time.Now()
	reply, closed := httpExchange(t, addr, "GET / HTTP/1.1\r\nHost: x\r\n\r\n", 3*time.Second)
	parseResponses(t, reply, "GET")
	if !closed || time.Since(start) < 150*time.Millisecond {
		t.Errorf("closed %v after %v; want a close after the 200ms idle timeout", closed, time.Since(start))
	}
}

// TestServeRunsUntilInterrupted: serve through run prints where it
// listens, serves, and exits 0 when its context ends (SIGINT, SIGTERM).
func TestServeRunsUntilInterrupted(t *testing.T) {
	clitest.CheckLeaks(t)
	sock := t.TempDir() + "/s.sock"
	addr := startServe(t, "--proto", "echo", "--listen", "unix:"+sock, "--loops", "1")
	if addr != "unix:"+sock {
		t.Fatalf("address %q, want unix:%s", addr, sock)
	}
	c, err := net.Dial("unix", sock)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	io.WriteString(c, "hi")
	if got, _ := clitest.ReadAll(t, c, 200*time.Millisecond); got != "hi" {
		t.Errorf("echo over unix: %q", got)
	}
}

// TestHTTPPipelineWithoutReadingIsSlowedNotDropped: a client that
// pipelines far more responses than the write cap before reading any is
// slowed down (the server stops reading) and gets every response.
func TestHTTPPipelineWithoutReadingIsSlowedNotDropped(t *testing.T) {
	const n = 100000 // 2.7 MB of requests, 13 MB of responses
	_, addr := testServer(t, cli.ProtoHTTP, func(o *serveOptions) { o.maxWriteBuffer = minWriteBuffer })
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.(*net.TCPConn).SetReadBuffer(16 << 10) // see TestEchoBackpressureInsteadOfWriteCap
	werr := make(chan error, 1)
	go func() {
		_, err := io.WriteString(c, strings.Repeat("GET / HTTP/1.1\r\nHost: x\r\n\r\n", n))
		werr <- err
	}()
	time.Sleep(200 * time.Millisecond) // let the output pile up before reading
	c.SetReadDeadline(time.Now().Add(10 * time.Second))
	var p http1.ResponseParser
	var r http1.Response
	buf := make([]byte, 0, 256<<10)
	got := 0
	for got < n {
		m, err := c.Read(buf[len(buf):cap(buf)])
		if err != nil {
			t.Fatalf("after %d responses: %v", got, err)
		}
		buf = buf[:len(buf)+m]
		used := 0
		for {
			k, err := p.Parse(buf[used:], "GET", &r)
			if err != nil {
				t.Fatal(err)
			}
			if k == 0 {
				break
			}
			used += k
			got++
		}
		buf = buf[:copy(buf, buf[used:])]
	}
	if err := <-werr; err != nil {
		t.Fatalf("write: %v", err)
	}
}

// TestServeWithWrk loads serve with wrk, when installed, as an outside
// check of keep-alive and framing: every response counted, no socket
// error, no non-2xx status. The suite does not require wrk.
func TestServeWithWrk(t *testing.T) {
	wrk := nettest.NeedProgram(t, "wrk", "wrk")
	_, addr := testServer(t, cli.ProtoHTTP, nil)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	out, err := exec.CommandContext(ctx, wrk, "-t1", "-c4", "-d1s", "http://"+addr+"/").CombinedOutput()
	if err != nil {
		t.Fatalf("wrk: %v\n%s", err, out)
	}
	m := regexp.MustCompile(`(\d+) requests in`).FindSubmatch(out)
	if m == nil || string(m[1]) == "0" || bytes.Contains(out, []byte("Socket errors")) ||
		bytes.Contains(out, []byte("Non-2xx")) {
		t.Fatalf("wrk reports a problem:\n%s", out)
	}
}

// runCLI runs "epollnet serve" with args.
func runCLI(t *testing.T, args ...string) (int, string, string) {
	t.Helper()
	return clitest.Run(t, Run, args...)
}

package bench

import (
	"bytes"
	"fmt"
	"strings"
	"sync"
	"testing"

	"github.com/epollnet/epollnet"
	"github.com/epollnet/epollnet/cmd/epollnet/internal/cli"
	"github.com/epollnet/epollnet/cmd/epollnet/internal/clitest"
)

// TestBenchRequestsPerConnOne: --requests-per-conn 1 opens a connection
// for every request, as ab without -k: the connections opened in the
// window match the requests answered, give or take the -c connections
// under way at either end, and bench, which closes first, leaves its
// sockets in TIME_WAIT.
func TestBenchRequestsPerConnOne(t *testing.T) {
	clitest.CheckLeaks(t)
	code, rep, stderr := benchJSON(t, "--requests-per-conn", "1", "-c", "8", "-d", "2s")
	checkClean(t, code, rep, stderr, 8)
	if rep.PerConn != 1 || rep.Connects < rep.Requests || rep.Connects > rep.Requests+8 {
		t.Errorf("requests per conn %d: %d connects for %d requests; want requests ≤ connects ≤ requests + 8",
			rep.PerConn, rep.Connects, rep.Requests)
	}
	if rep.Connect.Count != rep.Connects || rep.ConnectsPerS <= 0 {
		t.Errorf("%d connects, %d connect times, %v per second", rep.Connects, rep.Connect.Count, rep.ConnectsPerS)
	}
	if rep.TimeWait == nil || *rep.TimeWait == 0 {
		t.Errorf("time_wait %v after %d connections bench closed first", rep.TimeWait, rep.Connects)
	}
	if len(rep.Advice) != 0 {
		t.Errorf("advice on a clean run: %q", rep.Advice)
	}
}

// TestBenchKeepAliveOpensEachConnectionOnce: by default connections stay
// open, so the window sees -c connects.
func TestBenchKeepAliveOpensEachConnectionOnce(t *testing.T) {
	clitest.CheckLeaks(t)
	code, rep, stderr := benchJSON(t, "-c", "3", "-d", "200ms")
	checkClean(t, code, rep, stderr, 3)
	if rep.PerConn != 0 || rep.Connects != 3 {
		t.Errorf("requests per conn %d, %d connects; want 0 and 3", rep.PerConn, rep.Connects)
	}
}

// closeRecorder is an HTTP server that records, per connection, the
// requests it received and which asked it to close; it answers each with
// a fixed response and, unless ignoreClose, closes after Connection: close.
type closeRecorder struct {
	epollnet.BaseHandler
	ignoreClose bool
	mu          sync.Mutex
	conns       map[*epollnet.Conn][]bool // per request: carried Connection: close
}

var recorderResponse = []byte("HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok")

func (h *closeRecorder) OnData(c *epollnet.Conn, in []byte) int {
	used := 0
	for {
		end := bytes.Index(in[used:], []byte("\r\n\r\n"))
		if end < 0 {
			return used
		}
		req := in[used : used+end+4]
		used += end + 4
		closing := bytes.Contains(req, []byte("\r\nConnection: close\r\n"))
		h.mu.Lock()
		h.conns[c] = append(h.conns[c], closing)
		h.mu.Unlock()
		c.Write(recorderResponse)
		if closing && !h.ignoreClose {
			c.Close()
			return len(in)
		}
	}
}

// TestBenchRequestsPerConnHTTP: every connection carries --requests-per-conn
// requests, pipelined, and only the last asks the server to close; bench
// handles the server's close, and closes itself when the server keeps the
// connection open.
func TestBenchRequestsPerConnHTTP(t *testing.T) {
	for _, ignore := range []bool{false, true} {
		t.Run(fmt.Sprintf("server-ignores-close=%v", ignore), func(t *testing.T) {
			clitest.CheckLeaks(t)
			eng, err := epollnet.New(epollnet.Options{Loops: 1})
			if err != nil {
				t.Fatal(err)
			}
			defer eng.Abort()
			h := &closeRecorder{ignoreClose: ignore, conns: map[*epollnet.Conn][]bool{}}
			ln, err := eng.Listen("tcp", "127.0.0.1:0", h, nil)
			if err != nil {
				t.Fatal(err)
			}
			code, rep, stderr := benchJSON(t, "--target", ln.Addr().String(), "--proto", "http",
				"--requests-per-conn", "3", "--pipeline", "2", "-c", "4", "-d", "300ms")
			checkClean(t, code, rep, stderr, 4)
			if rep.Status["200"] != rep.Requests || rep.Requests > 3*rep.Connects || rep.Requests < 3*(rep.Connects-4) {
				t.Errorf("%d requests (status %v) over %d connections of 3 requests each", rep.Requests, rep.Status, rep.Connects)
			}
			h.mu.Lock()
			defer h.mu.Unlock()
			full := 0
			for c, reqs := range h.conns {
				for i, closing := range reqs {
					if closing != (i == 2) || i > 2 {
						t.Errorf("connection %d: requests %v; want 3, only the last with Connection: close", c.ID(), reqs)
						break
					}
				}
				if len(reqs) == 3 {
					full++
				}
			}
			if full < len(h.conns)-4 { // the run's end cuts up to -c connections short
				t.Errorf("%d of %d connections carried their 3 requests", full, len(h.conns))
			}
		})
	}
}

// TestBenchRequestsPerConnFlags: the flag's range, and the combinations it
// refuses.
func TestBenchRequestsPerConnFlags(t *testing.T) {
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"--requests-per-conn", "-1"}, "--requests-per-conn -1 out of range"},
		{[]string{"--requests-per-conn", "1", "--proto", "raw"}, "applies to --proto echo and http only"},
		{[]string{"--requests-per-conn", "1", "--proto", "http", "-H", "Connection: keep-alive"},
			"bench sets Connection itself"},
	} {
		code, _, stderr := runCLI(t, tc.args...)
		if code != cli.ExitUsage || !strings.Contains(stderr, tc.want) {
			t.Errorf("%q: exit %d, stderr %q; want usage error %q", tc.args, code, stderr, tc.want)
		}
	}
}

// TestBenchRequestsPerConnRate: with --rate, a replacing connection takes
// over its predecessor's schedule, so the rate holds across connections:
// no more is sent than the schedule allows (a new connection starting a
// schedule of its own would send at once, above it). A slow machine may
// send less, so only the upper bound is checked.
func TestBenchRequestsPerConnRate(t *testing.T) {
	clitest.CheckLeaks(t)
	code, rep, stderr := benchJSON(t, "--requests-per-conn", "2", "--rate", "2000", "-c", "4", "-d", "500ms")
	checkClean(t, code, rep, stderr, 4)
	if limit := 2000*rep.DurationS*1.05 + 4; float64(rep.Sent) > limit {
		t.Errorf("%d requests sent in %.2f s on a schedule of 2,000/s (at most %.0f)", rep.Sent, rep.DurationS, limit)
	}
}

// TestSockstatTW reads the TIME_WAIT count of /proc/net/sockstat.
func TestSockstatTW(t *testing.T) {
	const s = "sockets: used 180\nTCP: inuse 5 orphan 0 tw 131072 alloc 12 mem 1\nUDP: inuse 0 mem 0\n"
	if n, ok := sockstatTW(s); n != 131072 || !ok {
		t.Errorf("sockstatTW = %d, %v", n, ok)
	}
	if _, ok := sockstatTW("TCP: inuse 5\n"); ok {
		t.Error("sockstatTW found a tw field in a line without one")
	}
}

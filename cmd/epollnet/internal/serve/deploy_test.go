package serve

import (
	"errors"
	"io"
	"net"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/epollnet/epollnet/cmd/epollnet/internal/cli"
	"github.com/epollnet/epollnet/cmd/epollnet/internal/clitest"
)

// TestServeDeployFlagErrors: the deployment flags' bad values and
// combinations exit 2 with a line that says what is wrong.
func TestServeDeployFlagErrors(t *testing.T) {
	for _, tc := range []struct {
		args   []string
		stderr string
	}{
		{[]string{"--metrics", "9100"}, `--metrics "9100": want HOST:PORT`},
		{[]string{"--log-level", "loud"}, `unknown --log-level "loud"`},
		{[]string{"--trusted", "10.0.0.0/8"}, "--trusted applies with --proxy-protocol only"},
		{[]string{"--proxy-protocol", "--listen", "127.0.0.1:0"}, "--proxy-protocol on TCP needs --trusted"},
		{[]string{"--proxy-protocol", "--trusted", "10.0.0.0/33"}, `--trusted "10.0.0.0/33": want a CIDR prefix`},
		{[]string{"--proxy-protocol", "--trusted", "10.0.0.1,nope"}, `--trusted "nope"`},
	} {
		t.Run(strings.Join(tc.args, " "), func(t *testing.T) {
			code, stdout, stderr := runCLI(t, tc.args...)
			if code != cli.ExitUsage || !strings.Contains(stderr, tc.stderr) || stdout != "" {
				t.Errorf("exit %d, want %d; stderr lacks %q?\n%s", code, cli.ExitUsage, tc.stderr, stderr)
			}
		})
	}
	o, err := parseServe([]string{"--proxy-protocol", "--trusted", "10.0.0.0/8,192.0.2.7", "--trusted", "::1"}, io.Discard, io.Discard)
	if err != nil || len(o.trusted) != 3 || o.trusted[1].String() != "192.0.2.7/32" || o.trusted[2].String() != "::1/128" {
		t.Errorf("--trusted parsed as %v, %v", o.trusted, err)
	}
	if o, err := parseServe([]string{"--proxy-protocol", "--listen", "unix:/tmp/x.sock"}, io.Discard, io.Discard); err != nil || o.proxyConfig() == nil {
		t.Errorf("--proxy-protocol on a Unix socket needs no --trusted: %v", err)
	}
}

// TestServeProxyProtocol: with --proxy-protocol a connection from a
// trusted proxy is served after its header (the header itself is not
// echoed); one without a header, or from an untrusted source, is reset
// without a byte of reply, and counted in the metrics.
func TestServeProxyProtocol(t *testing.T) {
	_, out := clitest.StartServe(t, Run, "--proto", "echo", "--listen", "127.0.0.1:0", "--loops", "1",
		"--proxy-protocol", "--trusted", "127.0.0.1", "--metrics", "127.0.0.1:0")
	addr := regexp.MustCompile(` on tcp (\S+) \(`).FindStringSubmatch(out.String())[1]
	url := regexp.MustCompile(`metrics on (\S+)`).FindStringSubmatch(out.String())[1]

	c := clitest.Dial(t, addr)
	io.WriteString(c, "PROXY TCP4 192.0.2.7 127.0.0.1 40000 80\r\nhello")
	if got, _ := clitest.ReadAll(t, c, 200*time.Millisecond); got != "hello" {
		t.Errorf("echo behind the PROXY header: %q", got)
	}
	c = clitest.Dial(t, addr)
	io.WriteString(c, "hello\r\n")
	if got, closed := clitest.ReadAll(t, c, 2*time.Second); got != "" || !closed {
		t.Errorf("no header: reply %q, closed %v", got, closed)
	}
	// The reset reaches the client when the server closes the socket; the
	// count follows, in the same loop turn, a moment later.
	n := sum(scrape(t, url)["epollnet_proxy_rejected_total"])
	for deadline := time.Now().Add(5 * time.Second); n == 0 && time.Now().Before(deadline); {
		time.Sleep(5 * time.Millisecond)
		n = sum(scrape(t, url)["epollnet_proxy_rejected_total"])
	}
	if n != 1 {
		t.Errorf("epollnet_proxy_rejected_total %v, want 1", n)
	}

	untrusted := startServe(t, "--proto", "echo", "--listen", "127.0.0.1:0", "--loops", "1",
		"--proxy-protocol", "--trusted", "10.0.0.0/8")
	// The reset follows accept4 so closely that it may fail the dial.
	if c, err := net.Dial("tcp", untrusted); err == nil {
		defer c.Close()
		io.WriteString(c, "PROXY TCP4 192.0.2.7 127.0.0.1 40000 80\r\nhello")
		if got, closed := clitest.ReadAll(t, c, 2*time.Second); got != "" || !closed {
			t.Errorf("untrusted source: reply %q, closed %v", got, closed)
		}
	} else if !errors.Is(err, syscall.ECONNRESET) {
		t.Errorf("untrusted source: %v", err)
	}
}

// TestHTTPDrainFinishesRequests: on shutdown (and so on a handover) an
// idle keep-alive connection is closed after the grace period without a
// byte, while a request in progress is completed, answered with
// Connection: close, and its connection closed after the response.
func TestHTTPDrainFinishesRequests(t *testing.T) {
	clitest.CheckLeaks(t)
	o := defaultServeOptions()
	o.proto, o.listen, o.loops = cli.ProtoHTTP, []string{"127.0.0.1:0"}, 1
	s, err := startServer(o)
	if err != nil {
		t.Fatal(err)
	}
	addr := s.addrs()[0].String()
	idle := clitest.Dial(t, addr)
	io.WriteString(idle, "GET / HTTP/1.1\r\nHost: x\r\n\r\n")
	if got, _ := clitest.ReadAll(t, idle, 100*time.Millisecond); !strings.Contains(got, "200 OK") {
		t.Fatalf("reply %q", got)
	}
	busy := clitest.Dial(t, addr)
	partial := "GET / HTTP/1.1\r\nHost: x\r\n" // the head is not complete yet
	before := s.eng.Stats().Total.BytesIn
	io.WriteString(busy, partial)
	// Shut down only once the server has read the partial head, so that it
	// knows the connection is mid-request.
	for deadline := time.Now().Add(5 * time.Second); s.eng.Stats().Total.BytesIn < before+uint64(len(partial)); {
		if time.Now().After(deadline) {
			t.Fatal("the server never read the partial request")
		}
		time.Sleep(time.Millisecond)
	}

	start := time.Now()
	done := make(chan error, 1)
	go func() { done <- s.shutdown(5 * time.Second) }()
	if got, closed := clitest.ReadAll(t, idle, 2*time.Second); got != "" || !closed || time.Since(start) < drainGrace {
		t.Errorf("idle connection: %q, closed %v after %v; want closed without reply after %v", got, closed, time.Since(start), drainGrace)
	}
	io.WriteString(busy, "\r\n")
	got, closed := clitest.ReadAll(t, busy, 2*time.Second)
	if rs := parseResponses(t, got, "GET"); len(rs) != 1 || rs[0].StatusCode != 200 || !rs[0].Close || !closed {
		t.Errorf("request in progress: %q, closed %v; want one 200 with Connection: close, then the close", got, closed)
	}
	if err := <-done; err != nil || time.Since(start) > 3*time.Second {
		t.Errorf("shutdown: %v after %v", err, time.Since(start))
	}
}

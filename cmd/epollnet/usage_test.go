package main

import (
	"strings"
	"testing"

	"github.com/epollnet/epollnet/cmd/epollnet/internal/cli"
	"github.com/epollnet/epollnet/cmd/epollnet/internal/clitest"
)

// TestCommandUsageErrors: bad command lines exit 2 with a line that
// says what is wrong, and print nothing on stdout.
func TestCommandUsageErrors(t *testing.T) {
	for _, tc := range []struct {
		args   []string
		stderr string
	}{
		{[]string{"serve", "--proto", "gopher"}, `unknown --proto "gopher"`},
		{[]string{"serve", "--listen", "nowhere"}, "want HOST:PORT or unix:/path"},
		{[]string{"serve", "--listen", "unix:"}, "empty Unix socket path"},
		{[]string{"serve", "--listen", "unix:/tmp/x", "--reuseport"}, "TCP listeners only"},
		{[]string{"serve", "--loops", "-1"}, "--loops -1 out of range"},
		{[]string{"serve", "--max-conns", "-5"}, "--max-conns must not be negative"},
		{[]string{"serve", "--at-cap", "drop"}, `--at-cap "drop": want reset or wait`},
		{[]string{"serve", "--proto", "http", "--max-body-bytes", "1000000"}, "cannot hold a request"},
		{[]string{"serve", "--max-write-buffer", "4096"}, "--max-write-buffer must be at least"},
		{[]string{"serve", "--status-interval", "0s"}, "must be positive"},
		{[]string{"serve", "extra"}, `unexpected argument "extra"`},
		{[]string{"serve", "--bogus"}, "flag provided but not defined: -bogus"},
		{[]string{"bench", "--proto", "ftp"}, `unknown --proto "ftp"`},
		{[]string{"bench", "-c", "0"}, "-c 0 out of range"},
		{[]string{"bench", "--insecure"}, "--insecure applies with --tls only"},
		{[]string{"bench", "--alpn", "h2"}, "--alpn applies with --tls only"},
		{[]string{"bench", "--tls", "--alpn", "h2,,x"}, "--alpn: want a comma-separated list"},
		{[]string{"bench", "--tls", "--target", "unix:/tmp/x.sock"}, "needs --sni"},
		{[]string{"bench", "-d", "0s"}, "-d must be positive"},
		{[]string{"bench", "-n", "-1"}, "-n must not be negative"},
		{[]string{"bench", "--pipeline", "0"}, "--pipeline 0 out of range"},
		{[]string{"bench", "--size", "0"}, "--size 0 out of range"},
		{[]string{"bench", "--rate", "-1"}, "must not be negative"},
		{[]string{"bench", "--rate", "NaN"}, "--rate NaN: want a finite number"},
		{[]string{"bench", "--rate", "Inf"}, "--rate +Inf: want a finite number"},
		{[]string{"bench", "--rate", "1e-300"}, "--rate 1e-300 out of range"},
		{[]string{"bench", "--ramp", "NaN"}, "--ramp NaN: want a finite number"},
		{[]string{"bench", "--ramp", "2e9"}, "--ramp 2e+09 out of range"},
		{[]string{"bench", "--target", "127.0.0.1:99999"}, "port 99999 out of range"},
		{[]string{"bench", "--target", "127.0.0.1:0"}, "port 0 out of range"},
		{[]string{"bench", "--target", "127.0.0.1:nosuchservice"}, `unknown port "nosuchservice"`},
		{[]string{"bench", "--max-errors", "-1"}, "--max-errors must not be negative"},
		{[]string{"bench", "--target", "localhost"}, "want HOST:PORT or unix:/path"},
		{[]string{"bench", "--proto", "echo", "--method", "POST"}, "-method applies to --proto http only"},
		{[]string{"bench", "--proto", "http", "--size", "10"}, "--size applies to --proto echo and raw only"},
		{[]string{"bench", "--proto", "http", "--method", "GE T"}, "not a valid HTTP method"},
		{[]string{"bench", "--proto", "http", "--path", "/a b"}, "printable ASCII without spaces"},
		{[]string{"bench", "--proto", "http", "-H", "NoColon"}, `want "Name: value"`},
		{[]string{"bench", "--proto", "http", "-H", "Content-Length: 3"}, "is set by bench"},
		{[]string{"bench", "--source", "nope"}, "want an IP address"},
		{[]string{"bench", "--source", "127.0.0.2", "--target", "unix:/tmp/s"}, "TCP targets only"},
		{[]string{"bench", "--connect-timeout", "0s"}, "--connect-timeout must be positive"},
		{[]string{"bench", "-x"}, "flag provided but not defined: -x"},
		{[]string{"proxy"}, "no --backend"},
		{[]string{"proxy", "--backend", "nowhere"}, "want HOST:PORT or unix:/path"},
		{[]string{"proxy", "--backend", "127.0.0.1:1,weight=0"}, "weight=N with N in [1, 1000]"},
		{[]string{"proxy", "--backend", "127.0.0.1:1,wait=3"}, "weight=N with N in [1, 1000]"},
		{[]string{"proxy", "--backend", "127.0.0.1:99999"}, "invalid port"},
		{[]string{"proxy", "--backend", "127.0.0.1:1", "--backend", "127.0.0.1:1"}, "given twice"},
		{[]string{"proxy", "--backend", "127.0.0.1:1", "--listen", "unix:"}, "empty Unix socket path"},
		{[]string{"proxy", "--backend", "127.0.0.1:1", "--balance", "random"}, `unknown --balance "random"`},
		{[]string{"proxy", "--backend", "127.0.0.1:1", "--connect-timeout", "0s"}, "--connect-timeout must be positive"},
		{[]string{"proxy", "--backend", "127.0.0.1:1", "--retries", "-1"}, "--retries -1 out of range"},
		{[]string{"proxy", "--backend", "127.0.0.1:1", "--fails", "0"}, "--fails must be at least 1"},
		{[]string{"proxy", "--backend", "127.0.0.1:1", "--check-interval", "1ms"}, "at least 10ms"},
		{[]string{"proxy", "--backend", "127.0.0.1:1", "--proxy-protocol-out", "v3"}, `--proxy-protocol-out "v3": want v1 or v2`},
		{[]string{"proxy", "--backend", "127.0.0.1:1", "--accept-proxy"}, "--accept-proxy on TCP needs --trusted"},
		{[]string{"proxy", "--backend", "127.0.0.1:1", "--trusted", "10.0.0.1"}, "--trusted applies with --accept-proxy only"},
		{[]string{"proxy", "--backend", "127.0.0.1:1", "--accept-proxy", "--trusted", "nope"}, `--trusted "nope"`},
		{[]string{"proxy", "--backend", "127.0.0.1:1", "--buffer", "10"}, "--buffer 10 out of range"},
		{[]string{"proxy", "--backend", "127.0.0.1:1", "--loops", "-1"}, "--loops -1 out of range"},
		{[]string{"proxy", "--backend", "127.0.0.1:1", "--metrics", "9100"}, `--metrics "9100": want HOST:PORT`},
		{[]string{"proxy", "--backend", "127.0.0.1:1", "--log-level", "loud"}, `unknown --log-level "loud"`},
		{[]string{"proxy", "--backend", "127.0.0.1:1", "extra"}, `unexpected argument "extra"`},
	} {
		t.Run(strings.Join(tc.args, " "), func(t *testing.T) {
			code, stdout, stderr := clitest.Run(t, run, tc.args...)
			if code != cli.ExitUsage || !strings.Contains(stderr, tc.stderr) || stdout != "" {
				t.Errorf("exit %d, want %d; stderr lacks %q?\n%s\nstdout: %q", code, cli.ExitUsage, tc.stderr, stderr, stdout)
			}
		})
	}
}

// TestHelpPrintsUsageOnceToStdout: every way of asking for a command's
// help prints its usage exactly once, on stdout, and exits 0.
func TestHelpPrintsUsageOnceToStdout(t *testing.T) {
	for _, c := range commands() {
		cmd := c.name
		for _, args := range [][]string{{"help", cmd}, {cmd, "-h"}, {cmd, "--help"}, {cmd, "-help"}} {
			code, stdout, stderr := clitest.Run(t, run, args...)
			if code != cli.ExitOK || strings.Count(stdout, "Usage:") != 1 || stderr != "" ||
				!strings.Contains(stdout, "Usage: epollnet "+cmd) {
				t.Errorf("%q: exit %d, %d \"Usage:\" on stdout, stderr %q\n%s",
					args, code, strings.Count(stdout, "Usage:"), stderr, stdout)
			}
		}
	}
}

package main

import (
	"strings"
	"testing"

	"github.com/epollnet/epollnet/cmd/epollnet/internal/http1"
)

// TestServeAndBenchUsageErrors: bad command lines exit 2 with a line that
// says what is wrong, and print nothing on stdout.
func TestServeAndBenchUsageErrors(t *testing.T) {
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
		{[]string{"bench", "-d", "0s"}, "-d must be positive"},
		{[]string{"bench", "-n", "-1"}, "-n must not be negative"},
		{[]string{"bench", "--pipeline", "0"}, "--pipeline 0 out of range"},
		{[]string{"bench", "--size", "0"}, "--size 0 out of range"},
		{[]string{"bench", "--rate", "-1"}, "must not be negative"},
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
	} {
		t.Run(strings.Join(tc.args, " "), func(t *testing.T) {
			code, stdout, stderr := runCLI(t, tc.args...)
			if code != exitUsage || !strings.Contains(stderr, tc.stderr) || stdout != "" {
				t.Errorf("exit %d, want %d; stderr lacks %q?\n%s\nstdout: %q", code, exitUsage, tc.stderr, stderr, stdout)
			}
		})
	}
	for _, cmd := range []string{"serve", "bench"} {
		code, stdout, _ := runCLI(t, "help", cmd)
		if code != exitOK || !strings.Contains(stdout, "Usage: epollnet "+cmd) {
			t.Errorf("help %s: exit %d\n%s", cmd, code, stdout)
		}
		code, stdout, _ = runCLI(t, cmd, "-h")
		if code != exitOK || !strings.Contains(stdout, "Usage: epollnet "+cmd) {
			t.Errorf("%s -h: exit %d\n%s", cmd, code, stdout)
		}
	}
}

// TestBenchHeaderFlags: -H fields are sent in order, Host replaces the
// target's, and the request is what http1.AppendRequest makes of them.
func TestBenchHeaderFlags(t *testing.T) {
	o, err := parseBench([]string{"--proto", "http", "--target", "127.0.0.1:9", "-H", "X-A:  1 ",
		"-H", "host: example", "-H", "X-B: two words"}, &strings.Builder{})
	if err != nil {
		t.Fatal(err)
	}
	if o.host != "example" || len(o.headers) != 2 || string(o.headers[0].Value) != "1" ||
		string(o.headers[1].Name) != "X-B" {
		t.Fatalf("host %q, headers %q", o.host, o.headers)
	}
	o, err = parseBench([]string{"--proto", "http", "--target", "[::1]:80"}, &strings.Builder{})
	if err != nil || o.host != "" {
		t.Fatalf("IPv6 target: host %q (filled in later from the target), %v", o.host, err)
	}
	if h := hostOf("[::1]:80"); h != "[::1]:80" {
		t.Errorf("hostOf([::1]:80) = %q", h)
	}
	if h := hostOf("unix:/tmp/s"); h != "localhost" {
		t.Errorf("hostOf(unix) = %q", h)
	}
}

// FuzzHeaderFlag checks -H parsing: no panic, and whatever it accepts
// makes a request that http1.AppendRequest writes (it panics on invalid
// fields) and http1.RequestParser reads back with the same field.
func FuzzHeaderFlag(f *testing.F) {
	for _, s := range []string{"X-A: b", "Host: example.com:80", "Content-Length: 5", "a:", ":b",
		"X: \x00", "Bad Name: v", "X:  spaced  ", "Transfer-Encoding: chunked", "X: caf\xc3\xa9"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		name, value, err := parseHeaderFlag(s)
		if err != nil {
			return
		}
		host := "localhost"
		var hs []http1.Header
		if strings.EqualFold(name, "host") {
			host = value
		} else {
			hs = append(hs, http1.Header{Name: []byte(name), Value: []byte(value)})
		}
		req := http1.AppendRequest(nil, "GET", "/", host, hs, nil)
		var p http1.RequestParser
		var r http1.Request
		n, perr := p.Parse(req, &r)
		if perr != nil || n != len(req) {
			t.Fatalf("-H %q wrote %q, which parses as n=%d, %v", s, req, n, perr)
		}
		if len(hs) > 0 {
			found := false
			for _, h := range r.Headers {
				found = found || string(h.Name) == name && string(h.Value) == value
			}
			if !found {
				t.Fatalf("-H %q: field lost in %q", s, req)
			}
		}
	})
}

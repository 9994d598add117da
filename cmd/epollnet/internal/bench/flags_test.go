package bench

import (
	"io"
	"strings"
	"testing"

	"github.com/epollnet/epollnet/cmd/epollnet/internal/http1"
)

// TestBenchHeaderFlags: -H fields are sent in order, Host replaces the
// target's, and the request is what http1.AppendRequest makes of them.
func TestBenchHeaderFlags(t *testing.T) {
	o, err := parseBench([]string{"--proto", "http", "--target", "127.0.0.1:9", "-H", "X-A:  1 ",
		"-H", "host: example", "-H", "X-B: two words"}, io.Discard, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	if o.host != "example" || len(o.headers) != 2 || string(o.headers[0].Value) != "1" ||
		string(o.headers[1].Name) != "X-B" {
		t.Fatalf("host %q, headers %q", o.host, o.headers)
	}
	o, err = parseBench([]string{"--proto", "http", "--target", "[::1]:80"}, io.Discard, io.Discard)
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

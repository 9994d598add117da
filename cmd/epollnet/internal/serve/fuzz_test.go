package serve

import (
	"bytes"
	"testing"
	"time"

	"github.com/epollnet/epollnet/cmd/epollnet/internal/http1"
)

// FuzzHTTPServe feeds the HTTP server's request handling arbitrary bytes,
// split into reads at arbitrary points, the way the engine delivers them
// (unconsumed bytes are offered again with the next read appended). It
// must never panic, never consume more than it was given, stop at a
// close, and everything it writes must parse as HTTP/1.1 responses.
func FuzzHTTPServe(f *testing.F) {
	for _, s := range []string{
		"GET / HTTP/1.1\r\nHost: x\r\n\r\nGET / HTTP/1.1\r\nHost: x\r\n\r\n",
		"GET / HTTP/1.0\r\n\r\n",
		"GET / HTTP/1.0\r\nConnection: keep-alive\r\n\r\nGET / HTTP/1.1\r\nHost: y\r\nConnection: close\r\n\r\n",
		"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\nExpect: 100-continue\r\n\r\nhello",
		"POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\n",
		"BAD\r\n\r\n",
		"GET / HTTP/2.0\r\nHost: x\r\n\r\n",
	} {
		f.Add([]byte(s), []byte{7, 20, 3})
	}
	f.Fuzz(func(t *testing.T, data, cuts []byte) {
		o := defaultServeOptions()
		o.maxHeaderBytes, o.maxBodyBytes = 512, 256
		s := newHTTPServer(newServeStats(1, 10), 1, o)
		hc := &httpConn{p: http1.RequestParser{Limits: s.limits}}
		now := time.Unix(1e9, 0)
		var pending, out []byte
		rest := data
		for i := 0; len(rest) > 0; i++ {
			n := len(rest)
			if i < len(cuts) {
				n = min(int(cuts[i])+1, n)
			}
			pending = append(pending, rest[:n]...)
			rest = rest[n:]
			s.loops[0].out = s.loops[0].out[:0]
			used, _, closeConn := s.process(0, hc, pending, now)
			if used < 0 || used > len(pending) {
				t.Fatalf("used %d of %d bytes", used, len(pending))
			}
			out = append(out, s.loops[0].out...)
			if closeConn {
				break
			}
			pending = pending[used:]
		}
		if bytes.Contains(data, []byte("HEAD")) {
			return // a HEAD response's length is only known with its request
		}
		var p http1.ResponseParser
		for len(out) > 0 {
			var r http1.Response
			n, err := p.Parse(out, "GET", &r)
			if err != nil || n == 0 {
				t.Fatalf("the server wrote an unparsable response (n=%d, %v): %q", n, err, out)
			}
			out = out[n:]
		}
	})
}

package http1

import (
	"strconv"
	"strings"
	"testing"
)

var validResponses = []struct {
	name   string
	method string
	in     string
	want   msg
}{
	{"content-length", "GET", crlf("HTTP/1.1 200 OK\nContent-Length: 5\n\nhello"),
		msg{Line: "200 OK 1", Length: 5, Body: "hello", Headers: "Content-Length: 5"}},
	{"no content", "GET", crlf("HTTP/1.1 204 No Content\n\n"), msg{Line: "204 No Content 1"}},
	{"not modified ignores length", "GET", crlf("HTTP/1.1 304 Not Modified\nContent-Length: 100\n\n"),
		msg{Line: "304 Not Modified 1", Length: 100, Headers: "Content-Length: 100"}},
	{"continue", "POST", crlf("HTTP/1.1 100 Continue\n\n"), msg{Line: "100 Continue 1"}},
	{"switching protocols", "GET", crlf("HTTP/1.1 101 Switching Protocols\nUpgrade: websocket\nConnection: Upgrade\n\n"),
		msg{Line: "101 Switching Protocols 1", Headers: "Upgrade: websocket|Connection: Upgrade"}},
	{"HEAD", "HEAD", crlf("HTTP/1.1 200 OK\nContent-Length: 5\n\n"),
		msg{Line: "200 OK 1", Length: 5, Headers: "Content-Length: 5"}},
	{"HEAD chunked", "HEAD", crlf("HTTP/1.1 200 OK\nTransfer-Encoding: chunked\n\n"),
		msg{Line: "200 OK 1", Headers: "Transfer-Encoding: chunked"}},
	{"CONNECT tunnel", "CONNECT", crlf("HTTP/1.1 200 Connection Established\n\n"),
		msg{Line: "200 Connection Established 1"}},
	{"chunked with trailer", "GET", crlf("HTTP/1.1 200 OK\nTransfer-Encoding: chunked\n\n") +
		"4;x=1\r\nabcd\r\n0\r\nDigest: x\r\n\r\n",
		msg{Line: "200 OK 1", Length: -1, Chunked: true, Body: "abcd",
			Headers: "Transfer-Encoding: chunked", Trailers: "Digest: x"}},
	{"gzip then chunked", "GET", crlf("HTTP/1.1 200 OK\nTransfer-Encoding: gzip, chunked\n\n1\nz\n0\n\n"),
		msg{Line: "200 OK 1", Length: -1, Chunked: true, Body: "z", Headers: "Transfer-Encoding: gzip, chunked"}},
	{"close-delimited", "GET", crlf("HTTP/1.1 200 OK\nContent-Type: text/plain\n\n"),
		msg{Line: "200 OK 1", Length: -1, Until: true, Close: true, Headers: "Content-Type: text/plain"}},
	{"chunked not last", "GET", crlf("HTTP/1.1 200 OK\nTransfer-Encoding: chunked, gzip\n\n"),
		msg{Line: "200 OK 1", Length: -1, Until: true, Close: true, Headers: "Transfer-Encoding: chunked, gzip"}},
	{"http10 closes", "GET", crlf("HTTP/1.0 200 OK\nContent-Length: 1\n\nx"),
		msg{Line: "200 OK 0", Length: 1, Close: true, Body: "x", Headers: "Content-Length: 1"}},
	{"http10 keep-alive", "GET", crlf("HTTP/1.0 200 OK\nConnection: keep-alive\nContent-Length: 0\n\n"),
		msg{Line: "200 OK 0", Headers: "Connection: keep-alive|Content-Length: 0"}},
	{"connection close", "GET", crlf("HTTP/1.1 404 Not Found\nConnection: close\nContent-Length: 0\n\n"),
		msg{Line: "404 Not Found 1", Close: true, Headers: "Connection: close|Content-Length: 0"}},
	{"no reason, no SP", "GET", crlf("HTTP/1.1 200\nContent-Length: 0\n\n"),
		msg{Line: "200  1", Headers: "Content-Length: 0"}},
	{"empty reason", "GET", crlf("HTTP/1.1 599 \nContent-Length: 0\n\n"),
		msg{Line: "599  1", Headers: "Content-Length: 0"}},
	{"reason with spaces and obs-text", "GET", crlf("HTTP/1.1 200 all \tgood \xe2\x9c\x93\nContent-Length: 0\n\n"),
		msg{Line: "200 all \tgood \xe2\x9c\x93 1", Headers: "Content-Length: 0"}},
}

func TestParseResponseValid(t *testing.T) {
	for _, tc := range validResponses {
		var p ResponseParser
		var resp Response
		in := tc.in + "HTTP/1.1 200 OK\r\n" // a pipelined response must not be looked at
		n, err := p.Parse([]byte(in), tc.method, &resp)
		if err != nil || n != len(tc.in) {
			t.Errorf("%s: Parse = %d, %v; want %d, nil", tc.name, n, err, len(tc.in))
			continue
		}
		if got := respMsg(&resp); got != tc.want {
			t.Errorf("%s:\n got %+v\nwant %+v", tc.name, got, tc.want)
		}
	}
}

func TestParseResponseEveryPrefix(t *testing.T) {
	for _, tc := range validResponses {
		var grown ResponseParser
		for k := 0; k <= len(tc.in); k++ {
			for _, p := range []*ResponseParser{{}, &grown} {
				var resp Response
				n, err := p.Parse([]byte(tc.in[:k]), tc.method, &resp)
				want := 0
				if k == len(tc.in) {
					want = k
				}
				if n != want || err != nil {
					t.Fatalf("%s: prefix %d: Parse = %d, %v; want %d, nil", tc.name, k, n, err, want)
				}
				if n > 0 && respMsg(&resp) != tc.want {
					t.Fatalf("%s: prefix %d: got %+v", tc.name, k, respMsg(&resp))
				}
			}
		}
	}
}

var invalidResponses = []struct {
	name string
	in   string
	lim  Limits
	want *Error
}{
	{"two-digit status", "HTTP/1.1 20 OK\r\n\r\n", Limits{}, errBadStatusLine},
	{"status below 100", "HTTP/1.1 099 Odd\r\n\r\n", Limits{}, errBadStatusLine},
	{"four-digit status", "HTTP/1.1 2000 OK\r\n\r\n", Limits{}, errBadStatusLine},
	{"no SP before reason", "HTTP/1.1 200OK\r\n\r\n", Limits{}, errBadStatusLine},
	{"two SPs before status", "HTTP/1.1  200 OK\r\n\r\n", Limits{}, errBadStatusLine},
	{"NUL in reason", "HTTP/1.1 200 O\x00K\r\n\r\n", Limits{}, errBadStatusLine},
	{"HTTP/2 without minor", "HTTP/2 200 OK\r\n\r\n", Limits{}, errBadVersion},
	{"lower-case name", "http/1.1 200 OK\r\n\r\n", Limits{}, errBadVersion},
	{"leading CRLF", "\r\nHTTP/1.1 200 OK\r\n\r\n", Limits{}, errBadVersion},
	{"HTTP/2.0", "HTTP/2.0 200 OK\r\n\r\n", Limits{}, errVersion},
	{"bare LF status-line", "HTTP/1.1 200 OK\nContent-Length: 0\r\n\r\n", Limits{}, errBareLF},
	{"bare LF field", "HTTP/1.1 200 OK\r\nContent-Length: 0\n\r\n", Limits{}, errBareLF},
	{"obs-fold", "HTTP/1.1 200 OK\r\nX: a\r\n\tb\r\n\r\n", Limits{}, errObsFold},
	{"length and chunked", "HTTP/1.1 200 OK\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n", Limits{}, errLengthAndTE},
	{"chunked in HTTP/1.0", "HTTP/1.0 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n", Limits{}, errTEHTTP10},
	{"chunked twice", "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked, chunked\r\n\r\n", Limits{}, errChunkedNotEnd},
	{"empty TE", "HTTP/1.1 200 OK\r\nTransfer-Encoding: ,\r\n\r\n", Limits{}, errBadTE},
	{"bad length", "HTTP/1.1 200 OK\r\nContent-Length: 0x10\r\n\r\n", Limits{}, errBadLength},
	{"lengths differ", "HTTP/1.1 200 OK\r\nContent-Length: 1\r\nContent-Length: 10\r\n\r\n", Limits{}, errDiffLength},
	{"bad chunk end", "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n1\r\nab\r\n", Limits{}, errBadChunkEnd},
	{"head too large", "HTTP/1.1 200 OK\r\nX: " + strings.Repeat("a", 64), small, errHeadTooLarge},
	{"too many fields", "HTTP/1.1 200 OK\r\nA: 1\r\nB: 2\r\nC: 3\r\nD: 4\r\n\r\n", small, errTooManyFields},
	{"body too large", "HTTP/1.1 200 OK\r\nContent-Length: 11\r\n\r\n", small, errBodyTooLarge},
	{"chunked body too large", "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nb\r\n", small, errBodyTooLarge},
}

func TestParseResponseInvalid(t *testing.T) {
	for _, tc := range invalidResponses {
		p := ResponseParser{Limits: tc.lim}
		var resp Response
		n, err := p.Parse([]byte(tc.in), "GET", &resp)
		if n != 0 || err != tc.want {
			t.Errorf("%s: Parse = %d, %v; want 0, %v", tc.name, n, err, tc.want)
		}
	}
}

func TestParseResponseInvalidEveryPrefix(t *testing.T) {
	for _, tc := range invalidResponses {
		for k := 0; k < len(tc.in); k++ {
			p := ResponseParser{Limits: tc.lim}
			var resp Response
			n, err := p.Parse([]byte(tc.in[:k]), "GET", &resp)
			if n != 0 || err != nil && err.(*Error).Status != tc.want.Status {
				t.Fatalf("%s: prefix %d: Parse = %d, %v; want 0 and nil or status %d",
					tc.name, k, n, err, tc.want.Status)
			}
		}
	}
}

// TestParseResponsePipelined walks a load generator's view of one
// connection: the responses to pipelined requests, in order, each framed by
// the method it answers.
func TestParseResponsePipelined(t *testing.T) {
	in := crlf("HTTP/1.1 100 Continue\n\n") +
		crlf("HTTP/1.1 201 Created\nContent-Length: 2\n\nok") +
		crlf("HTTP/1.1 200 OK\nContent-Length: 7\n\n") + // answers HEAD: no body
		crlf("HTTP/1.1 204 No Content\n\n") +
		crlf("HTTP/1.1 200 OK\nTransfer-Encoding: chunked\n\n2\nhi\n0\n\n") +
		crlf("HTTP/1.1 304 Not Modified\n\n")
	methods := []string{"POST", "POST", "HEAD", "DELETE", "GET", "GET"}
	want := []string{"100:", "201:ok", "200:", "204:", "200:hi", "304:"}
	var p ResponseParser
	var resp Response
	var got []string
	b := []byte(in)
	for _, m := range methods {
		n, err := p.Parse(b, m, &resp)
		if n == 0 || err != nil {
			t.Fatalf("Parse(%q, %s) = %d, %v", b, m, n, err)
		}
		got = append(got, strconv.Itoa(resp.StatusCode)+":"+string(resp.Body))
		b = b[n:]
	}
	if len(b) != 0 || strings.Join(got, ",") != strings.Join(want, ",") {
		t.Errorf("got %q with %d bytes left; want %q", got, len(b), want)
	}
}

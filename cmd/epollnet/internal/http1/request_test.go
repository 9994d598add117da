package http1

import (
	"strconv"
	"strings"
	"testing"
)

const wrkGET = "GET /index.html HTTP/1.1\r\nHost: localhost:8080\r\n" +
	"User-Agent: wrk/4.2\r\nAccept: */*\r\nConnection: keep-alive\r\n\r\n"

var validRequests = []struct {
	name string
	in   string
	want msg
}{
	{"minimal", crlf("GET / HTTP/1.1\nHost: example.com\n\n"),
		msg{Line: "GET / 1", Host: "example.com", Headers: "Host: example.com"}},
	{"wrk", wrkGET, msg{Line: "GET /index.html 1", Host: "localhost:8080",
		Headers: "Host: localhost:8080|User-Agent: wrk/4.2|Accept: */*|Connection: keep-alive"}},
	{"http10 closes", crlf("GET /a?b=c HTTP/1.0\n\n"), msg{Line: "GET /a?b=c 0", Close: true}},
	{"http10 keep-alive", crlf("GET / HTTP/1.0\nConnection: Keep-Alive\n\n"),
		msg{Line: "GET / 0", Headers: "Connection: Keep-Alive"}},
	{"close token", crlf("GET / HTTP/1.1\nHost: h\nConnection: keep-alive, CLOSE\n\n"),
		msg{Line: "GET / 1", Host: "h", Close: true, Headers: "Host: h|Connection: keep-alive, CLOSE"}},
	{"close on second line", crlf("GET / HTTP/1.1\nConnection: upgrade\nconnection: ,close,\nHost: h\n\n"),
		msg{Line: "GET / 1", Host: "h", Close: true, Headers: "Connection: upgrade|connection: ,close,|Host: h"}},
	{"content-length body", crlf("POST /p HTTP/1.1\nHost: h\nContent-Length: 5\n\nhello"),
		msg{Line: "POST /p 1", Host: "h", Length: 5, Body: "hello", Headers: "Host: h|Content-Length: 5"}},
	{"content-length zero", crlf("POST /p HTTP/1.1\nHost: h\nContent-Length: 000\n\n"),
		msg{Line: "POST /p 1", Host: "h", Headers: "Host: h|Content-Length: 000"}},
	{"identical lengths list", crlf("POST / HTTP/1.1\nHost: h\nContent-Length: 3 , 3\n\nabc"),
		msg{Line: "POST / 1", Host: "h", Length: 3, Body: "abc", Headers: "Host: h|Content-Length: 3 , 3"}},
	{"identical lengths lines", crlf("POST / HTTP/1.1\nHost: h\nContent-Length: 3\nContent-Length: 3\n\nabc"),
		msg{Line: "POST / 1", Host: "h", Length: 3, Body: "abc", Headers: "Host: h|Content-Length: 3|Content-Length: 3"}},
	{"chunked", crlf("POST / HTTP/1.1\nHost: h\nTransfer-Encoding: chunked\n\n") +
		"5\r\nhello\r\n6\r\n world\r\n0\r\n\r\n",
		msg{Line: "POST / 1", Host: "h", Length: -1, Chunked: true, Body: "hello world",
			Headers: "Host: h|Transfer-Encoding: chunked"}},
	{"chunked extensions", crlf("POST / HTTP/1.1\nHost: h\nTransfer-Encoding: Chunked\n\n") +
		"5;name=val\r\nhello\r\nA \t; a ; b = \"q \\\" x;\"\r\n0123456789\r\n000;last\r\n\r\n",
		msg{Line: "POST / 1", Host: "h", Length: -1, Chunked: true, Body: "hello0123456789",
			Headers: "Host: h|Transfer-Encoding: Chunked"}},
	{"chunked trailers", crlf("POST / HTTP/1.1\nHost: h\nTransfer-Encoding: , chunked\n\n") +
		"3\r\nabc\r\n0\r\nX-Sum: 1\r\nX-Two:two \r\n\r\n",
		msg{Line: "POST / 1", Host: "h", Length: -1, Chunked: true, Body: "abc",
			Headers: "Host: h|Transfer-Encoding: , chunked", Trailers: "X-Sum: 1|X-Two: two"}},
	{"chunked empty", crlf("POST / HTTP/1.1\nHost: h\nTransfer-Encoding: chunked\n\n0\n\n"),
		msg{Line: "POST / 1", Host: "h", Length: -1, Chunked: true, Headers: "Host: h|Transfer-Encoding: chunked"}},
	{"leading empty lines", crlf("\n\nGET / HTTP/1.1\nHost: h\n\n"),
		msg{Line: "GET / 1", Host: "h", Headers: "Host: h"}},
	{"OWS and empty value", "GET / HTTP/1.1\r\nHost:  \th \t\r\nX-Empty:\r\nX-Sp: \r\n\r\n",
		msg{Line: "GET / 1", Host: "h", Headers: "Host: h|X-Empty: |X-Sp: "}},
	{"obs-text value", crlf("GET / HTTP/1.1\nHost: h\nX-Name: caf\xc3\xa9 \x80\xff\n\n"),
		msg{Line: "GET / 1", Host: "h", Headers: "Host: h|X-Name: caf\xc3\xa9 \x80\xff"}},
	{"HTTP/1.2 served as 1.1", crlf("GET / HTTP/1.2\nHost: h\n\n"),
		msg{Line: "GET / 2", Host: "h", Headers: "Host: h"}},
	{"absolute-form", crlf("GET http://h/a?b#c HTTP/1.1\nHost: h\n\n"),
		msg{Line: "GET http://h/a?b#c 1", Host: "h", Headers: "Host: h"}},
	{"asterisk-form", crlf("OPTIONS * HTTP/1.1\nHost: h\n\n"),
		msg{Line: "OPTIONS * 1", Host: "h", Headers: "Host: h"}},
	{"authority-form and IPv6 host", crlf("CONNECT [::1]:443 HTTP/1.1\nHost: [::1]:443\n\n"),
		msg{Line: "CONNECT [::1]:443 1", Host: "[::1]:443", Headers: "Host: [::1]:443"}},
	{"empty host", crlf("GET / HTTP/1.1\nHost:\n\n"), msg{Line: "GET / 1", Headers: "Host: "}},
	{"expect 100-continue", crlf("PUT / HTTP/1.1\nHost: h\nExpect: 100-Continue\nContent-Length: 1\n\nx"),
		msg{Line: "PUT / 1", Host: "h", Expect: true, Length: 1, Body: "x",
			Headers: "Host: h|Expect: 100-Continue|Content-Length: 1"}},
	{"extension method", crlf("M-SEARCH * HTTP/1.1\nHost: h\n\n"),
		msg{Line: "M-SEARCH * 1", Host: "h", Headers: "Host: h"}},
}

func TestParseRequestValid(t *testing.T) {
	for _, tc := range validRequests {
		var p RequestParser
		var req Request
		in := tc.in + "GET /next HTTP/1.1\r\n" // a pipelined request must not be looked at
		n, err := p.Parse([]byte(in), &req)
		if err != nil || n != len(tc.in) {
			t.Errorf("%s: Parse = %d, %v; want %d, nil", tc.name, n, err, len(tc.in))
			continue
		}
		if got := reqMsg(&req); got != tc.want {
			t.Errorf("%s:\n got %+v\nwant %+v", tc.name, got, tc.want)
		}
	}
}

// TestParseRequestEveryPrefix feeds each valid request cut at every offset,
// to a fresh parser and to one parser fed growing prefixes (the event loop's
// pattern): each prefix needs more data, the whole gives the same result.
func TestParseRequestEveryPrefix(t *testing.T) {
	for _, tc := range validRequests {
		var grown RequestParser
		for k := 0; k <= len(tc.in); k++ {
			for _, p := range []*RequestParser{{}, &grown} {
				var req Request
				n, err := p.Parse([]byte(tc.in[:k]), &req)
				want := 0
				if k == len(tc.in) {
					want = k
				}
				if n != want || err != nil {
					t.Fatalf("%s: prefix %d: Parse = %d, %v; want %d, nil", tc.name, k, n, err, want)
				}
				if n > 0 && reqMsg(&req) != tc.want {
					t.Fatalf("%s: prefix %d: got %+v", tc.name, k, reqMsg(&req))
				}
			}
		}
	}
}

var small = Limits{MaxHeaderBytes: 64, MaxHeaders: 3, MaxBodyBytes: 10, MaxURI: 16}

var invalidRequests = []struct {
	name string
	in   string
	lim  Limits
	want *Error
}{
	{"bad method char", "G@T / HTTP/1.1\r\n", Limits{}, errBadMethod},
	{"leading space", " GET / HTTP/1.1\r\n", Limits{}, errBadMethod},
	{"TLS ClientHello", "\x16\x03\x01\x02\x00\x01", Limits{}, errBadMethod},
	{"bare LF before request", "\nGET / HTTP/1.1\r\n\r\n", Limits{}, errBareLF},
	{"bare CR before request", "\rGET / HTTP/1.1\r\n\r\n", Limits{}, errBareCR},
	{"empty target", "GET  / HTTP/1.1\r\n", Limits{}, errBadTarget},
	{"tab in target", "GET /a\tb HTTP/1.1\r\n", Limits{}, errBadTarget},
	{"UTF-8 target", "GET /caf\xc3\xa9 HTTP/1.1\r\n", Limits{}, errBadTarget},
	{"HTTP/0.9 request", "GET /\r\n", Limits{}, errBadTarget},
	{"lower-case version", "GET / http/1.1\r\n", Limits{}, errBadVersion},
	{"version one digit", "GET / HTTP/1\r\n", Limits{}, errBadVersion},
	{"version two digits", "GET / HTTP/1.10\r\n", Limits{}, errBadRequestLine},
	{"space after version", "GET / HTTP/1.1 \r\n", Limits{}, errBadRequestLine},
	{"HTTP/2.0", "GET / HTTP/2.0\r\n\r\n", Limits{}, errVersion},
	{"HTTP/0.9", "GET / HTTP/0.9\r\n\r\n", Limits{}, errVersion},
	{"bare LF request-line", "GET / HTTP/1.1\nHost: h\r\n\r\n", Limits{}, errBareLF},
	{"bare LF field", "GET / HTTP/1.1\r\nHost: h\n\r\n", Limits{}, errBareLF},
	{"bare LF end of head", "GET / HTTP/1.1\r\nHost: h\r\n\n", Limits{}, errBareLF},
	{"bare CR in value", "GET / HTTP/1.1\r\nX: a\rb\r\n\r\n", Limits{}, errBareCR},
	{"bare CR end of head", "GET / HTTP/1.1\r\nHost: h\r\n\rX", Limits{}, errBareCR},
	{"NUL in value", "GET / HTTP/1.1\r\nX: a\x00b\r\n\r\n", Limits{}, errBadFieldValue},
	{"DEL in value", "GET / HTTP/1.1\r\nX: a\x7fb\r\n\r\n", Limits{}, errBadFieldValue},
	{"obs-fold", "GET / HTTP/1.1\r\nX: a\r\n b\r\n\r\n", Limits{}, errObsFold},
	{"space after start-line", "GET / HTTP/1.1\r\n Host: h\r\n\r\n", Limits{}, errObsFold},
	{"space before colon", "GET / HTTP/1.1\r\nHost : h\r\n\r\n", Limits{}, errSpaceInName},
	{"tab before colon", "GET / HTTP/1.1\r\nHost\t: h\r\n\r\n", Limits{}, errSpaceInName},
	{"bad name char", "GET / HTTP/1.1\r\nX(y): a\r\n\r\n", Limits{}, errBadFieldName},
	{"empty name", "GET / HTTP/1.1\r\n: a\r\n\r\n", Limits{}, errBadFieldName},
	{"no colon", "GET / HTTP/1.1\r\nHost\r\n\r\n", Limits{}, errBadFieldName},
	{"missing Host", "GET / HTTP/1.1\r\n\r\n", Limits{}, errMissingHost},
	{"two Hosts", "GET / HTTP/1.1\r\nHost: a\r\nhost: a\r\n\r\n", Limits{}, errDuplicateHost},
	{"bad Host", "GET / HTTP/1.1\r\nHost: a/b\r\n\r\n", Limits{}, errBadHost},
	{"length not digits", "POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 1a\r\n\r\n", Limits{}, errBadLength},
	{"length negative", "POST / HTTP/1.1\r\nHost: h\r\nContent-Length: -1\r\n\r\n", Limits{}, errBadLength},
	{"length plus", "POST / HTTP/1.1\r\nHost: h\r\nContent-Length: +1\r\n\r\n", Limits{}, errBadLength},
	{"length empty", "POST / HTTP/1.1\r\nHost: h\r\nContent-Length:\r\n\r\n", Limits{}, errBadLength},
	{"length empty element", "POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 1,\r\n\r\n", Limits{}, errBadLength},
	{"length overflow", "POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 9223372036854775808\r\n\r\n", Limits{}, errBadLength},
	{"lengths differ", "POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 1, 2\r\n\r\n", Limits{}, errDiffLength},
	{"lengths differ on lines", "POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\n", Limits{}, errDiffLength},
	{"length and chunked", "POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 1\r\nTransfer-Encoding: chunked\r\n\r\n", Limits{}, errLengthAndTE},
	{"chunked and length", "POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\nContent-Length: 1\r\n\r\n", Limits{}, errLengthAndTE},
	{"gzip", "POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: gzip\r\n\r\n", Limits{}, errUnsupportedTE},
	{"gzip, chunked", "POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: gzip, chunked\r\n\r\n", Limits{}, errUnsupportedTE},
	{"chunked with parameter", "POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked;a=b\r\n\r\n", Limits{}, errUnsupportedTE},
	{"chunked twice", "POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n\r\n", Limits{}, errChunkedNotEnd},
	{"empty TE", "POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: \r\n\r\n", Limits{}, errBadTE},
	{"TE bad token", "POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: ch@nked\r\n\r\n", Limits{}, errBadTE},
	{"TE in HTTP/1.0", "POST / HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n", Limits{}, errTEHTTP10},
	{"bad chunk size", chunkedHead + "x\r\n", Limits{}, errBadChunkSize},
	{"chunk size overflow", chunkedHead + "8000000000000000\r\n", Limits{}, errChunkOverflow},
	{"empty chunk extension", chunkedHead + "5;\r\nhello\r\n0\r\n\r\n", Limits{}, errBadChunkExt},
	{"space after chunk size", chunkedHead + "5 \r\nhello\r\n0\r\n\r\n", Limits{}, errBadChunkExt},
	{"chunk extension junk", chunkedHead + "5;a=b c\r\nhello\r\n0\r\n\r\n", Limits{}, errBadChunkExt},
	{"open quoted extension", chunkedHead + "5;a=\"b\r\nhello\r\n0\r\n\r\n", Limits{}, errBadChunkExt},
	{"bare LF chunk size", chunkedHead + "5\nhello\r\n0\r\n\r\n", Limits{}, errBareLF},
	{"bare LF after data", chunkedHead + "5\r\nhello\n0\r\n\r\n", Limits{}, errBadChunkEnd},
	{"chunk too long for data", chunkedHead + "5\r\nhelloX\r\n0\r\n\r\n", Limits{}, errBadChunkEnd},
	{"chunk line too long", chunkedHead + "1;a=" + strings.Repeat("x", maxChunkLine) + "\r\n", Limits{}, errChunkLineLong},
	{"chunk size zeros too long", chunkedHead + strings.Repeat("0", maxChunkLine+1), Limits{}, errChunkLineLong},
	{"chunk overhead", chunkedHead + strings.Repeat("1;"+strings.Repeat("e", 3000)+"\r\nx\r\n", 6), Limits{}, errChunkOverhead},
	{"trailer obs-fold", chunkedHead + "0\r\nX: a\r\n b\r\n\r\n", Limits{}, errObsFold},
	{"trailer bare LF end", chunkedHead + "0\r\n\n", Limits{}, errBareLF},
	{"too many trailers", chunkedHead + "0\r\nA: 1\r\nB: 2\r\nC: 3\r\nD: 4\r\n\r\n", Limits{MaxHeaders: 3}, errTooManyTrailer},
	{"trailers too large", chunkedHead + "0\r\nA: " + strings.Repeat("a", 100), Limits{MaxHeaderBytes: 90}, errTrailerTooBig},
	{"head too large", "GET / HTTP/1.1\r\nHost: h\r\nX: " + strings.Repeat("a", 64), small, errHeadTooLarge},
	{"head too large in method", strings.Repeat("G", 65), small, errHeadTooLarge},
	{"too many fields", "GET / HTTP/1.1\r\nHost: h\r\nA: 1\r\nB: 2\r\nC: 3\r\n\r\n", small, errTooManyFields},
	{"target too long", "GET /" + strings.Repeat("a", 16) + " HTTP/1.1\r\n", small, errURITooLong},
	{"target too long, unfinished", "GET /" + strings.Repeat("a", 16), small, errURITooLong},
	{"target beyond head limit", "GET /" + strings.Repeat("a", 100), Limits{MaxHeaderBytes: 64, MaxURI: 1000}, errURITooLong},
	{"length too large", "POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 11\r\n\r\n", small, errBodyTooLarge},
	{"chunked too large", chunkedHead + "5\r\nhello\r\n6\r\n", small, errBodyTooLarge},
	{"chunk size huge", chunkedHead + "7fffffffffffffff\r\n", Limits{}, errBodyTooLarge},
}

const chunkedHead = "POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n"

func TestParseRequestInvalid(t *testing.T) {
	for _, tc := range invalidRequests {
		p := RequestParser{Limits: tc.lim}
		var req Request
		n, err := p.Parse([]byte(tc.in), &req)
		if n != 0 || err != tc.want {
			t.Errorf("%s: Parse = %d, %v; want 0, %v", tc.name, n, err, tc.want)
		}
	}
}

// TestParseRequestInvalidEveryPrefix checks that errors are decided by the
// bytes seen: a prefix of an invalid request needs more data or fails the
// same way, never with another status, and never succeeds.
func TestParseRequestInvalidEveryPrefix(t *testing.T) {
	for _, tc := range invalidRequests {
		for k := 0; k < len(tc.in); k++ {
			p := RequestParser{Limits: tc.lim}
			var req Request
			n, err := p.Parse([]byte(tc.in[:k]), &req)
			if n != 0 || err != nil && err.(*Error).Status != tc.want.Status {
				t.Fatalf("%s: prefix %d: Parse = %d, %v; want 0 and nil or status %d",
					tc.name, k, n, err, tc.want.Status)
			}
		}
	}
}

func TestParseRequestPipelined(t *testing.T) {
	in := wrkGET +
		crlf("POST /a HTTP/1.1\nHost: h\nContent-Length: 3\n\nabc") +
		chunkedHead + "3\r\ndef\r\n0\r\n\r\n" +
		"\r\n" + // a stray CRLF after a body is skipped, as RFC 9112 asks
		crlf("GET /last HTTP/1.1\nHost: h\nConnection: close\n\n")
	var p RequestParser
	var req Request
	var got []string
	for b := []byte(in); len(b) > 0; {
		n, err := p.Parse(b, &req)
		if n == 0 || err != nil {
			t.Fatalf("Parse(%q) = %d, %v", b, n, err)
		}
		got = append(got, string(req.Method)+" "+string(req.Target)+" "+string(req.Body))
		b = b[n:]
	}
	want := []string{"GET /index.html ", "POST /a abc", "POST / def", "GET /last "}
	if strings.Join(got, ",") != strings.Join(want, ",") || !req.Close {
		t.Errorf("got %q, last Close %v; want %q, true", got, req.Close, want)
	}
}

// TestParseRequestLimitBoundaries pins each limit's edge: exactly the limit
// is accepted, one more is refused.
func TestParseRequestLimitBoundaries(t *testing.T) {
	head := func(size int) string { // a request head of exactly size bytes
		const pre, post = "GET / HTTP/1.1\r\nHost: h\r\nX: ", "\r\n\r\n"
		return pre + strings.Repeat("a", size-len(pre)-len(post)) + post
	}
	target := func(size int) string { return "GET /" + strings.Repeat("a", size-1) + " HTTP/1.1\r\nHost: h\r\n\r\n" }
	body := func(size int) string {
		return "POST / HTTP/1.1\r\nHost: h\r\nContent-Length: " + strconv.Itoa(size) + "\r\n\r\n" + strings.Repeat("b", size)
	}
	fields := func(count int) string {
		return "GET / HTTP/1.1\r\nHost: h\r\n" + strings.Repeat("X: 1\r\n", count-1) + "\r\n"
	}
	lim := Limits{MaxHeaderBytes: 100, MaxHeaders: 5, MaxBodyBytes: 20, MaxURI: 30}
	for _, tc := range []struct {
		name     string
		ok, over string
		want     *Error
	}{
		{"MaxHeaderBytes", head(100), head(101), errHeadTooLarge},
		{"MaxURI", target(30), target(31), errURITooLong},
		{"MaxBodyBytes", body(20), body(21), errBodyTooLarge},
		{"MaxHeaders", fields(5), fields(6), errTooManyFields},
	} {
		p := RequestParser{Limits: lim}
		var req Request
		if n, err := p.Parse([]byte(tc.ok), &req); n != len(tc.ok) || err != nil {
			t.Errorf("%s at limit: Parse = %d, %v; want %d, nil", tc.name, n, err, len(tc.ok))
		}
		if n, err := p.Parse([]byte(tc.over), &req); n != 0 || err != tc.want {
			t.Errorf("%s over limit: Parse = %d, %v; want 0, %v", tc.name, n, err, tc.want)
		}
	}
}

// TestZeroLimitsAreDefaults checks that the zero Limits accepts a head of
// DefaultLimits().MaxHeaderBytes and refuses one byte more.
func TestZeroLimitsAreDefaults(t *testing.T) {
	d := DefaultLimits()
	if got := (Limits{MaxHeaders: -1}).resolved(); got != d {
		t.Fatalf("resolved zero Limits = %+v, want %+v", got, d)
	}
	in := "GET / HTTP/1.1\r\nHost: h\r\nX: "
	in += strings.Repeat("a", d.MaxHeaderBytes-len(in)-4) + "\r\n\r\n"
	var p RequestParser
	var req Request
	if n, err := p.Parse([]byte(in), &req); n != len(in) || err != nil {
		t.Fatalf("Parse(default-size head) = %d, %v", n, err)
	}
	in = in[:len(in)-4] + "a\r\n\r\n"
	if _, err := p.Parse([]byte(in), &req); err != errHeadTooLarge {
		t.Fatalf("Parse(default-size head + 1) error = %v, want %v", err, errHeadTooLarge)
	}
}

// TestParseHeadBeforeBody shows the Expect: 100-continue flow: the body is
// missing, Parse needs more, ParseHead has the head.
func TestParseHeadBeforeBody(t *testing.T) {
	in := []byte(crlf("PUT /up HTTP/1.1\nHost: h\nContent-Length: 5\nExpect: 100-continue\n\n"))
	var p RequestParser
	var req Request
	if n, err := p.Parse(in, &req); n != 0 || err != nil {
		t.Fatalf("Parse without body = %d, %v; want 0, nil", n, err)
	}
	n, err := p.ParseHead(in, &req)
	if n != len(in) || err != nil || !req.Expect100 || req.ContentLength != 5 || req.Body != nil {
		t.Fatalf("ParseHead = %d, %v, %+v", n, err, reqMsg(&req))
	}
}

// TestParseRequestStreamSplitAtEveryOffset replays OnData: a pipelined
// stream arrives in two reads split at every offset; each call parses what
// it can, and unconsumed bytes are offered again with the next read.
func TestParseRequestStreamSplitAtEveryOffset(t *testing.T) {
	chunked, _ := chunkedRequest(3, 5)
	in := wrkGET + crlf("POST /a HTTP/1.1\nHost: h\nContent-Length: 3\n\nabc") + chunked +
		crlf("GET /last HTTP/1.0\n\n")
	want := "GET /index.html |POST /a abc|POST / aaaaabbbbbccccc|GET /last "
	for k := 0; k <= len(in); k++ {
		var p RequestParser
		var req Request
		var got []string
		onData := func(b []byte) int {
			done := 0
			for {
				n, err := p.Parse(b[done:], &req)
				if err != nil {
					t.Fatalf("split %d: Parse(%q) error %v", k, b[done:], err)
				}
				if n == 0 {
					return done
				}
				got = append(got, string(req.Method)+" "+string(req.Target)+" "+string(req.Body))
				done += n
			}
		}
		rest := []byte(in[:k])
		rest = append(rest[onData(rest):], in[k:]...)
		if left := len(rest) - onData(rest); left != 0 || strings.Join(got, "|") != want {
			t.Fatalf("split %d: got %q with %d bytes left", k, got, left)
		}
	}
}

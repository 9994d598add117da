package http1

import (
	"strings"
	"testing"
	"time"
)

var testDate = []byte("Sun, 06 Nov 1994 08:49:37 GMT")

func hdr(name, value string) Header { return Header{[]byte(name), []byte(value)} }

func TestAppendResponse(t *testing.T) {
	ct := []Header{hdr("Content-Type", "text/plain")}
	for _, tc := range []struct {
		name string
		head ResponseHead
		body string
		want string
	}{
		{"plain", ResponseHead{StatusCode: 200, Date: testDate, Headers: ct}, "Hello",
			"HTTP/1.1 200 OK\nDate: Sun, 06 Nov 1994 08:49:37 GMT\nContent-Type: text/plain\nContent-Length: 5\n\nHello"},
		{"close", ResponseHead{StatusCode: 404, Close: true, KeepAlive: true}, "",
			"HTTP/1.1 404 Not Found\nContent-Length: 0\nConnection: close\n\n"},
		{"keep-alive for HTTP/1.0", ResponseHead{StatusCode: 200, KeepAlive: true}, "x",
			"HTTP/1.1 200 OK\nContent-Length: 1\nConnection: keep-alive\n\nx"},
		{"HEAD", ResponseHead{StatusCode: 200, Head: true}, "Hello",
			"HTTP/1.1 200 OK\nContent-Length: 5\n\n"},
		{"no content", ResponseHead{StatusCode: 204}, "", "HTTP/1.1 204 No Content\n\n"},
		{"not modified", ResponseHead{StatusCode: 304, Date: testDate}, "",
			"HTTP/1.1 304 Not Modified\nDate: Sun, 06 Nov 1994 08:49:37 GMT\n\n"},
		{"continue", ResponseHead{StatusCode: 100}, "", "HTTP/1.1 100 Continue\n\n"},
		{"unregistered status", ResponseHead{StatusCode: 299}, "", "HTTP/1.1 299 \nContent-Length: 0\n\n"},
	} {
		got := string(AppendResponse([]byte("prefix"), &tc.head, []byte(tc.body)))
		if want := "prefix" + crlf(tc.want); got != want {
			t.Errorf("%s:\n got %q\nwant %q", tc.name, got, want)
		}
	}
}

// TestAppendResponseParsesBack checks AppendResponse against ResponseParser.
func TestAppendResponseParsesBack(t *testing.T) {
	h := ResponseHead{StatusCode: 503, Date: testDate, Close: true, Headers: []Header{hdr("Retry-After", "1")}}
	b := AppendResponse(nil, &h, []byte("busy"))
	var p ResponseParser
	var resp Response
	n, err := p.Parse(b, "GET", &resp)
	if n != len(b) || err != nil || resp.StatusCode != 503 || string(resp.Body) != "busy" || !resp.Close {
		t.Fatalf("Parse(%q) = %d, %v, %+v", b, n, err, respMsg(&resp))
	}
}

func TestErrorAppendResponse(t *testing.T) {
	b := errHeadTooLarge.AppendResponse(nil, testDate)
	var p ResponseParser
	var resp Response
	n, err := p.Parse(b, "GET", &resp)
	if n != len(b) || err != nil || resp.StatusCode != 431 || !resp.Close ||
		string(resp.Reason) != "Request Header Fields Too Large" ||
		string(resp.Body) != "header section too large\n" {
		t.Fatalf("Parse(%q) = %d, %v, %+v", b, n, err, respMsg(&resp))
	}
	if got, want := errHeadTooLarge.Error(), "epollnet: http1: 431: header section too large"; got != want {
		t.Errorf("Error() = %q, want %q", got, want)
	}
}

func TestAppendRequest(t *testing.T) {
	hs := []Header{hdr("User-Agent", "epollnet"), hdr("Accept", "*/*")}
	for _, tc := range []struct {
		name string
		body []byte
		want string
	}{
		{"nil body", nil, "GET /x?y HTTP/1.1\nHost: h:1\nUser-Agent: epollnet\nAccept: */*\n\n"},
		{"empty body", []byte{}, "GET /x?y HTTP/1.1\nHost: h:1\nUser-Agent: epollnet\nAccept: */*\nContent-Length: 0\n\n"},
		{"body", []byte("abc"), "GET /x?y HTTP/1.1\nHost: h:1\nUser-Agent: epollnet\nAccept: */*\nContent-Length: 3\n\nabc"},
	} {
		got := string(AppendRequest(nil, "GET", "/x?y", "h:1", hs, tc.body))
		if got != crlf(tc.want) {
			t.Errorf("%s:\n got %q\nwant %q", tc.name, got, crlf(tc.want))
		}
	}
}

// TestAppendPanicsOnMalformed pins that the Append functions refuse to
// write what a parser would reject, naming the problem.
func TestAppendPanicsOnMalformed(t *testing.T) {
	for _, tc := range []struct {
		name string
		f    func()
		want string
	}{
		{"status", func() { AppendResponse(nil, &ResponseHead{StatusCode: 99}, nil) }, "status 99"},
		{"body on 204", func() { AppendResponse(nil, &ResponseHead{StatusCode: 204}, []byte("x")) }, "1-byte body"},
		{"CRLF in value", func() {
			AppendResponse(nil, &ResponseHead{StatusCode: 200, Headers: []Header{hdr("X", "a\r\nSet-Cookie: x")}}, nil)
		}, "invalid field"},
		{"Content-Length field", func() {
			AppendResponse(nil, &ResponseHead{StatusCode: 200, Headers: []Header{hdr("content-length", "1")}}, nil)
		}, "writes content-length itself"},
		{"method", func() { AppendRequest(nil, "G T", "/", "h", nil, nil) }, "invalid method"},
		{"target", func() { AppendRequest(nil, "GET", "/a b", "h", nil, nil) }, "invalid target"},
		{"host", func() { AppendRequest(nil, "GET", "/", "h/", nil, nil) }, "invalid host"},
		{"Host field", func() { AppendRequest(nil, "GET", "/", "h", []Header{hdr("Host", "x")}, nil) }, "writes Host itself"},
	} {
		func() {
			defer func() {
				r := recover()
				if s, _ := r.(string); !strings.Contains(s, tc.want) {
					t.Errorf("%s: panic %v, want one containing %q", tc.name, r, tc.want)
				}
			}()
			tc.f()
		}()
	}
}

func TestAppendDate(t *testing.T) {
	tm := time.Date(1994, 11, 6, 9, 49, 37, 5e8, time.FixedZone("CET", 3600))
	if got := string(AppendDate(nil, tm)); got != string(testDate) {
		t.Errorf("AppendDate = %q, want %q", got, testDate)
	}
}

// TestDateCacheReformatsOncePerSecond checks the cache changes its value
// only when the second does.
func TestDateCacheReformatsOncePerSecond(t *testing.T) {
	var c DateCache
	t0 := time.Unix(784111777, 0)
	v := c.Value(t0)
	if string(v) != string(testDate) {
		t.Fatalf("Value = %q, want %q", v, testDate)
	}
	if v2 := c.Value(t0.Add(999 * time.Millisecond)); &v2[0] != &v[0] || string(v2) != string(testDate) {
		t.Errorf("Value within the second = %q (reformatted?)", v2)
	}
	if v3 := c.Value(t0.Add(time.Second)); string(v3) != "Sun, 06 Nov 1994 08:49:38 GMT" {
		t.Errorf("Value a second later = %q", v3)
	}
	if allocs := testing.AllocsPerRun(100, func() { c.Value(t0) }); allocs != 0 {
		t.Errorf("DateCache.Value allocates %v times", allocs)
	}
}

func TestStatusText(t *testing.T) {
	for code, want := range map[int]string{200: "OK", 413: "Content Too Large", 431: "Request Header Fields Too Large",
		505: "HTTP Version Not Supported", 450: "", 299: "", 99: "", 600: "", 1000: ""} {
		if got := StatusText(code); got != want {
			t.Errorf("StatusText(%d) = %q, want %q", code, got, want)
		}
	}
}

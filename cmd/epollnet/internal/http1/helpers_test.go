package http1

import (
	"fmt"
	"strings"
)

// msg is a parsed Request or Response flattened into comparable strings, so
// table tests state expectations in one readable literal.
type msg struct {
	Line     string // "GET / 1" or "200 OK 1": method/status, target/reason, minor
	Host     string
	Length   int64
	Chunked  bool
	Close    bool
	Until    bool // Response.UntilClose
	Expect   bool // Request.Expect100
	Body     string
	Headers  string // "name: value|name: value"
	Trailers string
}

func fields2s(hs []Header) string {
	var parts []string
	for _, h := range hs {
		parts = append(parts, string(h.Name)+": "+string(h.Value))
	}
	return strings.Join(parts, "|")
}

func reqMsg(r *Request) msg {
	return msg{
		Line: fmt.Sprintf("%s %s %d", r.Method, r.Target, r.ProtoMinor), Host: string(r.Host),
		Length: r.ContentLength, Chunked: r.Chunked, Close: r.Close, Expect: r.Expect100,
		Body: string(r.Body), Headers: fields2s(r.Headers), Trailers: fields2s(r.Trailers),
	}
}

func respMsg(r *Response) msg {
	return msg{
		Line:   fmt.Sprintf("%d %s %d", r.StatusCode, r.Reason, r.ProtoMinor),
		Length: r.ContentLength, Chunked: r.Chunked, Close: r.Close, Until: r.UntilClose,
		Body: string(r.Body), Headers: fields2s(r.Headers), Trailers: fields2s(r.Trailers),
	}
}

// statusOf returns err's Status, 0 for nil, -1 for a foreign error.
func statusOf(err error) int {
	if err == nil {
		return 0
	}
	if e, ok := err.(*Error); ok {
		return e.Status
	}
	return -1
}

// crlf turns the readable "\n" of test literals into CRLF.
func crlf(s string) string { return strings.ReplaceAll(s, "\n", "\r\n") }

package http1

import (
	"fmt"
	"strconv"
	"time"
)

// ResponseHead describes the head AppendResponse writes. Its zero value
// with StatusCode set is a plain keep-alive response.
type ResponseHead struct {
	// StatusCode is the status, 100 to 999; the reason-phrase written is
	// StatusText's.
	StatusCode int
	// Date is the Date field value, written first when not empty. Servers
	// with a clock must send it (RFC 9110); DateCache keeps it cheap,
	// and passing it in keeps tests deterministic.
	Date []byte
	// Close writes "Connection: close": the server closes after this
	// response (RFC 9112: a server that received "close" must send it on
	// its last response). Set it when Request.Close is set.
	Close bool
	// KeepAlive writes "Connection: keep-alive", which an HTTP/1.0 client
	// needs to keep the connection (RFC 9112's HTTP/1.0 keep-alive
	// compatibility). Ignored with Close.
	KeepAlive bool
	// Head marks the answer to a HEAD request: Content-Length states the
	// body's length but the body is not written (RFC 9110: a HEAD response
	// has the GET response's fields and no content).
	Head bool
	// Headers are further fields, written in order after Date. They must
	// not include Content-Length, Transfer-Encoding or Host.
	Headers []Header
}

// AppendResponse appends an HTTP/1.1 response with the given head and body
// to dst and returns the extended slice. It writes Content-Length, except
// for 1xx, 204 and 304 responses, which have no body and must not send
// it (RFC 9110). It allocates only when dst must grow.
//
// It panics on what would be a malformed response, a programming error: a
// status outside 100..999, a body on a status that has none, or a field that
// is invalid (see ValidFieldName and ValidFieldValue) or owned by
// AppendResponse. Validate values taken from requests before passing them.
func AppendResponse(dst []byte, h *ResponseHead, body []byte) []byte {
	code := h.StatusCode
	noBody := code < 200 || code == 204 || code == 304
	switch {
	case code < 100 || code > 999:
		panic(fmt.Sprintf("http1: AppendResponse status %d not in 100..999", code))
	case noBody && len(body) > 0:
		panic(fmt.Sprintf("http1: AppendResponse status %d with a %d-byte body", code, len(body)))
	}
	dst = append(dst, "HTTP/1.1 "...)
	dst = strconv.AppendInt(dst, int64(code), 10)
	dst = append(dst, ' ')
	dst = append(dst, StatusText(code)...)
	dst = append(dst, "\r\n"...)
	if len(h.Date) > 0 {
		dst = appendField(dst, "Date", h.Date)
	}
	dst = appendFields(dst, h.Headers, "AppendResponse")
	if !noBody {
		dst = append(dst, "Content-Length: "...)
		dst = strconv.AppendInt(dst, int64(len(body)), 10)
		dst = append(dst, "\r\n"...)
	}
	switch {
	case h.Close:
		dst = append(dst, "Connection: close\r\n"...)
	case h.KeepAlive:
		dst = append(dst, "Connection: keep-alive\r\n"...)
	}
	dst = append(dst, "\r\n"...)
	if h.Head {
		return dst
	}
	return append(dst, body...)
}

// AppendResponse appends the response a server sends before closing a
// connection whose request failed to parse: e's status, "Connection: close"
// and e's reason as a text/plain body. date is as in ResponseHead.
func (e *Error) AppendResponse(dst, date []byte) []byte {
	h := ResponseHead{StatusCode: e.Status, Date: date, Close: true, Headers: textPlain}
	return AppendResponse(dst, &h, []byte(e.Reason+"\n"))
}

var textPlain = []Header{{Name: []byte("Content-Type"), Value: []byte("text/plain; charset=utf-8")}}

// AppendRequest appends an HTTP/1.1 request to dst and returns the extended
// slice: "method target HTTP/1.1", a Host field, headers in order, and, when
// body is not nil, Content-Length and the body. A nil body sends no
// Content-Length, as for GET; an empty non-nil one sends "Content-Length:
// 0", as a POST without content should (RFC 9110).
//
// It panics on what would be a malformed request, a programming error: an
// invalid method (not a token), target (not printable ASCII without SP) or
// host, an invalid field, or a Host, Content-Length or Transfer-Encoding
// field in headers, which AppendRequest owns.
func AppendRequest(dst []byte, method, target, host string, headers []Header, body []byte) []byte {
	switch {
	case !validToken(method):
		panic(fmt.Sprintf("http1: AppendRequest invalid method %q", method))
	case !validTarget(target):
		panic(fmt.Sprintf("http1: AppendRequest invalid target %q", target))
	case !validHost(host):
		panic(fmt.Sprintf("http1: AppendRequest invalid host %q", host))
	}
	dst = append(dst, method...)
	dst = append(dst, ' ')
	dst = append(dst, target...)
	dst = append(dst, " HTTP/1.1\r\nHost: "...)
	dst = append(dst, host...)
	dst = append(dst, "\r\n"...)
	dst = appendFields(dst, headers, "AppendRequest")
	if body != nil {
		dst = append(dst, "Content-Length: "...)
		dst = strconv.AppendInt(dst, int64(len(body)), 10)
		dst = append(dst, "\r\n"...)
	}
	dst = append(dst, "\r\n"...)
	return append(dst, body...)
}

// appendFields appends hs as field lines. It panics, in the name of the
// calling function fn, on an invalid field or on a framing field the Append
// functions write themselves. Host is refused in responses too, where it
// means nothing.
func appendFields(dst []byte, hs []Header, fn string) []byte {
	for _, h := range hs {
		switch {
		case !ValidFieldName(h.Name) || !ValidFieldValue(h.Value):
			panic(fmt.Sprintf("http1: %s invalid field %q: %q", fn, h.Name, h.Value))
		case equalFold(h.Name, "content-length"), equalFold(h.Name, "transfer-encoding"),
			equalFold(h.Name, "host"):
			panic(fmt.Sprintf("http1: %s writes %s itself", fn, h.Name))
		}
		dst = appendField(dst, h.Name, h.Value)
	}
	return dst
}

// appendField appends "name: value\r\n".
func appendField[T string | []byte](dst []byte, name T, value []byte) []byte {
	dst = append(dst, name...)
	dst = append(dst, ": "...)
	dst = append(dst, value...)
	return append(dst, "\r\n"...)
}

// AppendDate appends t as an IMF-fixdate (RFC 9110), the format of
// the Date field: "Sun, 06 Nov 1994 08:49:37 GMT".
func AppendDate(dst []byte, t time.Time) []byte {
	return t.UTC().AppendFormat(dst, "Mon, 02 Jan 2006 15:04:05 GMT")
}

// DateCache holds the Date field value for the current second, so a server
// formats it once a second instead of once per response. It is not safe for
// concurrent use: keep one per event loop. The zero value is ready to use.
type DateCache struct {
	unix  int64
	value []byte
}

// Value returns the IMF-fixdate for now, reformatting it only when the
// second has changed. The slice is overwritten by a later call in another
// second: append it to the response rather than keeping it.
func (c *DateCache) Value(now time.Time) []byte {
	if s := now.Unix(); s != c.unix || c.value == nil {
		c.unix, c.value = s, AppendDate(c.value[:0], now)
	}
	return c.value
}

// StatusText returns the reason-phrase RFC 9110 (and RFC 6585 for 428,
// 429, 431) registers for code, or "" for an unregistered code.
func StatusText(code int) string {
	if code < 100 || code >= 600 || code%100 >= len(statusText[0]) {
		return ""
	}
	return statusText[code/100][code%100]
}

// statusText holds the reason-phrases by class and code within the class.
var statusText = [6][32]string{
	1: {0: "Continue", 1: "Switching Protocols"},
	2: {0: "OK", 1: "Created", 2: "Accepted", 3: "Non-Authoritative Information",
		4: "No Content", 5: "Reset Content", 6: "Partial Content"},
	3: {0: "Multiple Choices", 1: "Moved Permanently", 2: "Found", 3: "See Other",
		4: "Not Modified", 5: "Use Proxy", 7: "Temporary Redirect", 8: "Permanent Redirect"},
	4: {0: "Bad Request", 1: "Unauthorized", 2: "Payment Required", 3: "Forbidden",
		4: "Not Found", 5: "Method Not Allowed", 6: "Not Acceptable",
		7: "Proxy Authentication Required", 8: "Request Timeout", 9: "Conflict",
		10: "Gone", 11: "Length Required", 12: "Precondition Failed",
		13: "Content Too Large", 14: "URI Too Long", 15: "Unsupported Media Type",
		16: "Range Not Satisfiable", 17: "Expectation Failed", 21: "Misdirected Request",
		22: "Unprocessable Content", 26: "Upgrade Required", 28: "Precondition Required",
		29: "Too Many Requests", 31: "Request Header Fields Too Large"},
	5: {0: "Internal Server Error", 1: "Not Implemented", 2: "Bad Gateway",
		3: "Service Unavailable", 4: "Gateway Timeout", 5: "HTTP Version Not Supported"},
}

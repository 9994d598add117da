// Package plaintext is the minimal HTTP/1.1 "plaintext" responder shared by
// the servers that have no HTTP stack of their own (epollnet, gnet), the
// same logic as the C reference server in cref/server.c: split the input at
// each "\r\n\r\n", answer every complete request with one fixed response,
// pipelining-aware, and keep the connection alive unless the request asks to
// close it. Requests with a body are not supported, as in gnet's example.
package plaintext

import (
	"bytes"
	"sync"
	"sync/atomic"
	"time"
)

// Body is the response body every server answers with.
const Body = "Hello, World!"

// Batch is the most responses one Responses call returns.
const Batch = 64

const (
	head  = "HTTP/1.1 200 OK\r\nServer: bench\r\nDate: "
	tailK = "\r\nContent-Type: text/plain\r\nContent-Length: 13\r\n\r\n" + Body
	tailC = "\r\nContent-Type: text/plain\r\nContent-Length: 13\r\nConnection: close\r\n\r\n" + Body
	// dateLen is the length of an RFC 1123 date in GMT, which never varies.
	dateLen = len("Mon, 02 Jan 2006 15:04:05 GMT")
)

// Len is the length of one keep-alive response.
const Len = len(head) + dateLen + len(tailK)

type responses struct {
	sec   int64
	batch []byte // Batch keep-alive responses back to back
	close []byte // one response with Connection: close
}

var (
	current atomic.Pointer[responses]
	rebuild sync.Mutex
)

// load returns the responses for now's second, rebuilding them when the
// second changed. It is lazy so that an idle server runs no timer. It never
// goes back to an earlier second: loops whose clocks straddle a second
// boundary would otherwise rebuild in turn.
func load(now time.Time) *responses {
	r := current.Load()
	if r != nil && r.sec >= now.Unix() {
		return r
	}
	rebuild.Lock()
	defer rebuild.Unlock()
	if r = current.Load(); r != nil && r.sec >= now.Unix() {
		return r
	}
	date := now.UTC().Format(time.RFC1123)
	date = date[:len(date)-3] + "GMT" // RFC1123 formats UTC as "UTC"
	one := head + date + tailK
	r = &responses{sec: now.Unix(), batch: bytes.Repeat([]byte(one), Batch),
		close: []byte(head + date + tailC)}
	current.Store(r)
	return r
}

// Responses returns min(n, Batch) keep-alive responses back to back, dated
// now. The slice is shared and must not be modified; it stays valid forever.
func Responses(n int) []byte { return ResponsesAt(n, time.Now()) }

// ResponsesAt is Responses dated at now, for a server that reads the clock
// once per round of events as the C reference does (epollnet's
// Conn.LoopTime) rather than once per response.
func ResponsesAt(n int, now time.Time) []byte {
	return load(now).batch[:min(n, Batch)*Len]
}

// CloseResponse returns one response that announces Connection: close.
func CloseResponse() []byte { return load(time.Now()).close }

// Scan looks for complete requests at the start of in. It returns how many
// it found (n), how many bytes they span (used), and whether the last of
// them asks to close the connection (then Scan stops there: bytes after a
// closing request are ignored).
func Scan(in []byte) (n, used int, closing bool) {
	for {
		end := bytes.Index(in[used:], crlfcrlf)
		if end < 0 {
			return n, used, false
		}
		req := in[used : used+end+4]
		n, used = n+1, used+end+4
		if wantsClose(req) {
			return n, used, true
		}
	}
}

var crlfcrlf = []byte("\r\n\r\n")

// wantsClose reports whether one request (its head, ending in CRLFCRLF)
// ends the connection: a "Connection: close" header, or HTTP/1.0, which
// this responder does not keep alive.
func wantsClose(req []byte) bool {
	line := req[:bytes.IndexByte(req, '\n')+1] // req ends in \n: found
	if bytes.HasSuffix(line, []byte("HTTP/1.0\r\n")) {
		return true
	}
	const hdr = "connection:"
	for i := len(line); i+len(hdr) < len(req); {
		if hasPrefixFold(req[i:], hdr) {
			v := bytes.TrimLeft(req[i+len(hdr):], " \t")
			return hasPrefixFold(v, "close")
		}
		j := bytes.IndexByte(req[i:], '\n')
		if j < 0 {
			break
		}
		i += j + 1
	}
	return false
}

// hasPrefixFold is bytes.HasPrefix ignoring ASCII case; prefix is lower case.
func hasPrefixFold(b []byte, prefix string) bool {
	if len(b) < len(prefix) {
		return false
	}
	for i := 0; i < len(prefix); i++ {
		if b[i]|0x20 != prefix[i] {
			return false
		}
	}
	return true
}

package http1

// Differential tests against net/http, a parser nobody here wrote: the same
// bytes go to RequestParser and http.ReadRequest (ResponseParser and
// http.ReadResponse), and the two must agree. Both accept or both reject;
// when both accept, they agree on every part of the message both expose:
// bytes consumed, method, request-target, version, status and reason, the
// header fields (names canonicalized as net/http does, every value in
// order), the framing (Content-Length or chunked), the body, the trailers,
// Host, and whether the connection closes.
//
// Where the two disagree by design, a named rule below says why: net/http
// is lenient in documented ways, or we are strict on purpose (RFC 9112,
// package doc). A rule names the aspect it explains and holds only when the
// input shows the cause (a bare LF, an obs-fold, a second Content-Length
// value...), so it cannot hide a different disagreement. Anything no rule
// explains fails the test. The seeds in testdata/fuzz are named after the
// rules they demonstrate (TestAgainstNetHTTPSeeds checks every rule has
// one), and outcome counts over the seeds are logged with -v.

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"maps"
	"net/http"
	"net/textproto"
	"net/url"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"testing"

	"golang.org/x/net/http/httpguts"
)

// nhVerdict is a parser's verdict on a byte string.
type nhVerdict int

const (
	nhAccept nhVerdict = iota // a complete message
	nhMore                    // a valid prefix: more bytes are needed
	nhReject                  // malformed or refused
)

func (v nhVerdict) String() string { return [...]string{"accept", "need more", "reject"}[v] }

// nhResult is net/http's reading of the bytes.
type nhResult struct {
	verdict nhVerdict
	req     *http.Request
	resp    *http.Response
	body    []byte // read to its end, trailers included
	n       int    // bytes consumed
	err     error
	// hosts are a request's Host field values, which ReadRequest moves
	// out of Header (into Request.Host, unless the target has an
	// authority): nhReadRequest reads them with the textproto reader
	// ReadRequest uses.
	hosts []string
}

func nhReadRequest(data []byte) nhResult {
	src := bytes.NewReader(data)
	br := bufio.NewReader(src)
	var r nhResult
	r.req, r.err = http.ReadRequest(br)
	if r.err == nil {
		r.body, r.err = io.ReadAll(r.req.Body)
	}
	r.finish(len(data) - src.Len() - br.Buffered())
	if r.req != nil {
		tp := textproto.NewReader(bufio.NewReader(bytes.NewReader(data)))
		tp.ReadLine() // the request-line
		h, _ := tp.ReadMIMEHeader()
		r.hosts = h["Host"]
	}
	return r
}

func nhReadResponse(data []byte, method string) nhResult {
	src := bytes.NewReader(data)
	br := bufio.NewReader(src)
	var r nhResult
	r.resp, r.err = http.ReadResponse(br, &http.Request{Method: method})
	if r.err == nil {
		r.body, r.err = io.ReadAll(r.resp.Body)
	}
	r.finish(len(data) - src.Len() - br.Buffered())
	return r
}

func (r *nhResult) finish(n int) {
	r.n = n
	switch {
	case r.err == nil:
		r.verdict = nhAccept
	case errors.Is(r.err, io.EOF), errors.Is(r.err, io.ErrUnexpectedEOF),
		r.err.Error() == "http: unexpected EOF reading trailer":
		r.verdict = nhMore // net/http ran out of bytes
	default:
		r.verdict = nhReject
	}
}

// The accessors below return zero values unless net/http returned a
// message.

func (r *nhResult) header() http.Header {
	switch {
	case r.req != nil:
		return r.req.Header
	case r.resp != nil:
		return r.resp.Header
	}
	return nil
}

func (r *nhResult) trailer() http.Header {
	switch {
	case r.req != nil:
		return r.req.Trailer
	case r.resp != nil:
		return r.resp.Trailer
	}
	return nil
}

func (r *nhResult) proto() (major, minor int) {
	switch {
	case r.req != nil:
		return r.req.ProtoMajor, r.req.ProtoMinor
	case r.resp != nil:
		return r.resp.ProtoMajor, r.resp.ProtoMinor
	}
	return 0, 0
}

// chunked reports whether net/http read Transfer-Encoding: chunked.
func (r *nhResult) chunked() bool {
	switch {
	case r.req != nil:
		return len(r.req.TransferEncoding) > 0
	case r.resp != nil:
		return len(r.resp.TransferEncoding) > 0
	}
	return false
}

// nhCase is one input, both readings of it, and how they differ.
type nhCase struct {
	data   []byte
	method string // for a response: the request's method
	req    *Request
	resp   *Response
	n      int
	err    error
	ours   nhVerdict
	nh     nhResult
	// undecided: one parser needs more bytes where the other refused.
	// net/http reads the end of the input as the end of its last line (a
	// "Host" cut short is a field line without a colon), and we refuse
	// some prefixes as soon as they are wrong; neither accepted.
	undecided bool
	diffs     []nhDiff
}

// nhDiff is one disagreement: the aspect of the message, and how.
type nhDiff struct{ aspect, detail string }

func (c *nhCase) expect(aspect string, ok bool, format string, args ...any) {
	if !ok {
		c.diffs = append(c.diffs, nhDiff{aspect, fmt.Sprintf(format, args...)})
	}
}

func verdictOf(n int, err error) nhVerdict {
	switch {
	case err != nil:
		return nhReject
	case n == 0:
		return nhMore
	}
	return nhAccept
}

func nhRequestCase(data []byte) *nhCase {
	var p RequestParser // DefaultLimits
	c := &nhCase{data: data, req: &Request{}}
	c.n, c.err = p.Parse(data, c.req)
	c.ours = verdictOf(c.n, c.err)
	c.nh = nhReadRequest(data)
	if c.compareVerdicts() {
		c.compareRequest()
	}
	return c
}

func nhResponseCase(data []byte, method string) *nhCase {
	var p ResponseParser
	c := &nhCase{data: data, method: method, resp: &Response{}}
	c.n, c.err = p.Parse(data, method, c.resp)
	c.ours = verdictOf(c.n, c.err)
	c.nh = nhReadResponse(data, method)
	if c.compareVerdicts() {
		c.compareResponse()
	}
	return c
}

// compareVerdicts records a disagreement on the verdicts, and reports
// whether both accepted.
func (c *nhCase) compareVerdicts() bool {
	switch {
	case c.ours == nhAccept && c.nh.verdict == nhAccept:
		return true
	case c.ours == c.nh.verdict:
	case c.ours != nhAccept && c.nh.verdict != nhAccept:
		c.undecided = true
	default:
		c.expect("verdict", false, "ours %v (%v), net/http %v (%v)", c.ours, c.err, c.nh.verdict, c.nh.err)
	}
	return false
}

func (c *nhCase) compareRequest() {
	r, h := c.req, c.nh.req
	c.expect("consumed", c.n == c.nh.n, "ours %d bytes, net/http %d", c.n, c.nh.n)
	c.expect("method", string(r.Method) == h.Method, "method %q, net/http %q", r.Method, h.Method)
	c.expect("target", string(r.Target) == h.RequestURI, "target %q, net/http %q", r.Target, h.RequestURI)
	c.expect("version", h.ProtoMajor == 1 && h.ProtoMinor == r.ProtoMinor,
		"HTTP/1.%d, net/http %s", r.ProtoMinor, h.Proto)
	var host []byte
	if len(c.nh.hosts) > 0 {
		host = []byte(c.nh.hosts[0])
	}
	c.expect("host field", bytes.Equal(r.Host, host) && (r.Host == nil) == (c.nh.hosts == nil),
		"Host %q, net/http's Host fields %q", r.Host, c.nh.hosts)
	c.expect("host", string(r.Host) == h.Host, "Host %q, net/http's Request.Host %q", r.Host, h.Host)
	c.compareFields(r.Headers, r.Trailers, false)
	c.expect("framing", r.ContentLength == h.ContentLength && r.Chunked == c.nh.chunked(),
		"length %d chunked %v, net/http %d %q", r.ContentLength, r.Chunked, h.ContentLength, h.TransferEncoding)
	c.expect("body", bytes.Equal(r.Body, c.nh.body), "body %q, net/http %q", r.Body, c.nh.body)
	c.expect("close", r.Close == h.Close, "Close %v, net/http %v", r.Close, h.Close)
	why := nhServerRefuses(h, c.nh.hosts)
	c.expect("server", why == "", "net/http's Server would refuse the request: %s", why)
}

func (c *nhCase) compareResponse() {
	r, h := c.resp, c.nh.resp
	n, body := c.n, r.Body
	if r.UntilClose {
		n, body = len(c.data), c.data[c.n:] // the body is everything after the head
	}
	c.expect("consumed", n == c.nh.n, "ours %d bytes, net/http %d", n, c.nh.n)
	_, reason, _ := strings.Cut(h.Status, " ")
	c.expect("status", r.StatusCode == h.StatusCode && string(r.Reason) == reason,
		"status %d %q, net/http %q", r.StatusCode, r.Reason, h.Status)
	c.expect("version", h.ProtoMajor == 1 && h.ProtoMinor == r.ProtoMinor,
		"HTTP/1.%d, net/http %s", r.ProtoMinor, h.Proto)
	c.compareFields(r.Headers, r.Trailers, h.ProtoMinor != 0)
	if r.hasBody(c.method) { // otherwise the framing fields describe no body
		c.expect("framing", r.ContentLength == h.ContentLength && r.Chunked == c.nh.chunked(),
			"length %d chunked %v, net/http %d %q", r.ContentLength, r.Chunked, h.ContentLength, h.TransferEncoding)
	}
	c.expect("body", bytes.Equal(body, c.nh.body), "body %q, net/http %q", body, c.nh.body)
	c.expect("close", r.Close == h.Close, "Close %v, net/http %v", r.Close, h.Close)
}

// nhHeader is hs as net/http keys them: canonical names, values in order.
func nhHeader(hs []Header) http.Header {
	m := http.Header{}
	for _, f := range hs {
		k := textproto.CanonicalMIMEHeaderKey(string(f.Name))
		m[k] = append(m[k], string(f.Value))
	}
	return m
}

// compareFields compares the header and trailer fields, after the
// rewrites net/http documents and makes on every message it reads.
// dropClose is for an HTTP/1.1 response, whose "Connection: close"
// net/http removes.
func (c *nhCase) compareFields(headers, trailers []Header, dropClose bool) {
	want, got := nhHeader(headers), c.nh.header().Clone()
	chunked := c.nh.chunked()
	if c.req != nil {
		delete(want, "Host") // ReadRequest removes it; compared above
	}
	// Transfer-Encoding becomes Request.TransferEncoding or
	// Response.TransferEncoding (transfer.go, parseTransferEncoding).
	delete(want, "Transfer-Encoding")
	// Repeated identical Content-Length lines become one, and
	// Content-Length beside chunked is dropped (transfer.go, fixLength).
	wantCL, gotCL := want["Content-Length"], got["Content-Length"]
	delete(want, "Content-Length")
	delete(got, "Content-Length")
	switch {
	case len(gotCL) == 0 && (len(wantCL) == 0 || chunked):
	case len(gotCL) == 1 && len(wantCL) > 0 && gotCL[0] == textproto.TrimString(wantCL[0]):
	default:
		c.expect("fields", false, "Content-Length %q, net/http %q", wantCL, gotCL)
	}
	// In a chunked message, the names the Trailer field lists become the
	// keys of Request.Trailer or Response.Trailer (transfer.go, fixTrailer).
	var declared []string
	if chunked {
		for _, v := range want["Trailer"] {
			for e := range strings.SplitSeq(v, ",") {
				if e = textproto.TrimString(e); e != "" {
					declared = append(declared, http.CanonicalHeaderKey(e))
				}
			}
		}
		delete(want, "Trailer")
	}
	// "Pragma: no-cache" without Cache-Control gains "Cache-Control:
	// no-cache" (response.go, fixPragmaCacheControl).
	if p := want["Pragma"]; len(p) > 0 && p[0] == "no-cache" && want["Cache-Control"] == nil {
		want["Cache-Control"] = []string{"no-cache"}
	}
	if dropClose && httpguts.HeaderValuesContainsToken(want["Connection"], "close") {
		delete(want, "Connection") // transfer.go, shouldClose
	}
	c.expect("fields", reflect.DeepEqual(want, got), "header %q, net/http %q", want, got)

	gotT := http.Header{}
	for k, vv := range c.nh.trailer() {
		if vv != nil { // nil: declared by Trailer, not received
			gotT[k] = vv
		}
	}
	wantT := nhHeader(trailers)
	c.expect("fields", reflect.DeepEqual(wantT, gotT), "trailers %q, net/http %q", wantT, gotT)
	for _, k := range declared {
		_, ok := c.nh.trailer()[k]
		c.expect("fields", ok, "Trailer declares %q, not among net/http's trailer keys", k)
	}
}

// nhServerRefuses makes the checks net/http's Server makes on a request
// it read, before any handler sees it (server.go, conn.readRequest), with
// the same httpguts functions, and says which fails. hosts are the Host
// field values. (The protocol version, also checked there, has a rule of
// its own.)
func nhServerRefuses(r *http.Request, hosts []string) string {
	switch {
	case r.ProtoAtLeast(1, 1) && len(hosts) == 0 && r.Method != "CONNECT":
		return "missing required Host header"
	case len(hosts) == 1 && !httpguts.ValidHostHeader(hosts[0]):
		return "malformed Host header"
	}
	for k, vv := range r.Header {
		if !httpguts.ValidHeaderFieldName(k) {
			return "invalid header name " + strconv.Quote(k)
		}
		for _, v := range vv {
			if !httpguts.ValidHeaderFieldValue(v) {
				return "invalid header value " + strconv.Quote(v)
			}
		}
	}
	return ""
}

// nhRule is a known, justified disagreement: it explains a difference in
// aspect when holds, which checks that the input shows the cause.
type nhRule struct {
	name, aspect string
	holds        func(c *nhCase) bool
}

func (c *nhCase) oursRejected(errs ...*Error) bool {
	for _, e := range errs {
		if c.err == error(e) {
			return true
		}
	}
	return false
}

func (c *nhCase) nhAccepted() bool { return c.nh.verdict == nhAccept }

// nhRefused reports that we accepted and net/http refused with an error
// whose text contains one of msgs.
func (c *nhCase) nhRefused(msgs ...string) bool {
	if c.ours != nhAccept || c.nh.verdict != nhReject {
		return false
	}
	return slices.ContainsFunc(msgs, func(m string) bool { return strings.Contains(c.nh.err.Error(), m) })
}

// oursFields returns our header fields named name (lower case).
func (c *nhCase) oursFields(name string) []Header {
	var hs []Header
	if c.req != nil {
		hs = c.req.Headers
	} else {
		hs = c.resp.Headers
	}
	var out []Header
	for _, h := range hs {
		if equalFold(h.Name, name) {
			out = append(out, h)
		}
	}
	return out
}

// hasBareLF reports an LF not preceded by CR.
func hasBareLF(b []byte) bool {
	for i, c := range b {
		if c == '\n' && (i == 0 || b[i-1] != '\r') {
			return true
		}
	}
	return false
}

func hasNonASCII(s string) bool {
	return strings.ContainsFunc(s, func(r rune) bool { return r >= 0x80 })
}

// Rules for requests and responses alike.
var (
	// RFC 9112 section 2.2 lets a recipient accept a bare LF as a line
	// terminator, and net/http's textproto does, in the head and the
	// trailers. We do not, anywhere: a proxy that splits lines otherwise
	// would frame the bytes differently (package doc; CVE-2025-22871).
	// (A status-line "HTTP/1.1 200" that ends in a bare LF is refused as
	// a malformed status-line.)
	ruleBareLF = nhRule{"bare-lf", "verdict", func(c *nhCase) bool {
		first, _, _ := bytes.Cut(c.data, []byte("\n"))
		statusLine := c.resp != nil && c.oursRejected(errBadStatusLine) && !bytes.HasSuffix(first, []byte("\r"))
		return (c.oursRejected(errBareLF) || statusLine) && c.nhAccepted() && hasBareLF(c.data)
	}}
	// RFC 9112 section 5.2: a recipient of obs-fold MUST either reject the
	// message or replace each obs-fold with SP. net/http replaces; we
	// reject (package doc).
	ruleObsFold = nhRule{"obs-fold", "verdict", func(c *nhCase) bool {
		return c.oursRejected(errObsFold) && c.nhAccepted() &&
			(bytes.Contains(c.data, []byte("\n ")) || bytes.Contains(c.data, []byte("\n\t")))
	}}
	// RFC 9112 section 5.1: no whitespace is allowed between a field name and
	// the colon, and a server MUST reject such a request with 400; a name
	// is a token, without spaces. net/http's textproto keeps a name with
	// spaces in or after it, uncanonicalized (go.dev/issue/34540); its
	// Server then refuses the name (httpguts.ValidHeaderFieldName), its
	// client keeps it.
	ruleSpaceBeforeColon = nhRule{"space-before-colon", "verdict", func(c *nhCase) bool {
		if !c.oursRejected(errSpaceInName) || !c.nhAccepted() {
			return false
		}
		for _, m := range []http.Header{c.nh.header(), c.nh.trailer()} {
			for k := range m {
				if strings.Contains(k, " ") && !httpguts.ValidHeaderFieldName(k) {
					return true
				}
			}
		}
		return false
	}}
	// An HTTP/1.1 connection speaks HTTP/1.x only; we answer 505 (RFC
	// 9110 section 15.6.6). net/http's ReadRequest and ReadResponse accept any
	// HTTP/d.d; its Server then answers 505 (http1ServerSupportsRequest,
	// which lets "PRI * HTTP/2.0" through to handlers for h2c).
	ruleMajorVersion = nhRule{"major-version", "verdict", func(c *nhCase) bool {
		major, _ := c.nh.proto()
		return c.oursRejected(errVersion) && c.nhAccepted() && major != 1
	}}
	// RFC 9110 section 8.6: a Content-Length that is a list of identical decimal
	// values, on one line ("42, 42") or repeated lines, MAY be accepted as
	// that value, and we do, comparing values. net/http accepts repeated
	// lines only, and only if their text is identical (transfer.go,
	// fixLength and parseContentLength).
	ruleContentLengthList = nhRule{"content-length-list", "verdict", func(c *nhCase) bool {
		values := 0
		for _, h := range c.oursFields("content-length") {
			values += bytes.Count(h.Value, []byte(",")) + 1
		}
		return c.nhRefused("Content-Length") && values > 1
	}}
	// RFC 9112 section 6.3 item 3: a message with both Transfer-Encoding and
	// Content-Length "ought to be handled as an error" (a server MAY
	// reject it, a client should close after it); we refuse it, a
	// smuggling vector. net/http drops Content-Length and reads chunked.
	ruleLengthAndChunked = nhRule{"content-length-with-chunked", "verdict", func(c *nhCase) bool {
		return c.oursRejected(errLengthAndTE) && c.nhAccepted() && c.nh.chunked()
	}}
	// RFC 9112 section 6.1: an HTTP/1.0 message with Transfer-Encoding MUST be
	// treated as having faulty framing; we refuse it (as malformed, if
	// its value is not a list of tokens). net/http ignores
	// Transfer-Encoding in HTTP/1.0 (transfer.go, go.dev/issue/12785).
	ruleTEInHTTP10 = nhRule{"te-in-http10", "verdict", func(c *nhCase) bool {
		major, minor := c.nh.proto()
		return c.oursRejected(errTEHTTP10, errBadTE) && c.nhAccepted() && major == 1 && minor == 0 &&
			len(c.oursFields("transfer-encoding")) > 0
	}}
	// net/http supports Transfer-Encoding only as a single field line
	// whose value is "chunked" (transfer.go: "like nginx"). We accept what
	// RFC 9112 section 6.1 defines: the list may span lines and have empty
	// elements, which recipients ignore (RFC 9110 section 5.6.1), so ", chunked"
	// is chunked. In a response, a final coding other than chunked makes
	// the body close-delimited (RFC 9112 section 6.3 item 4), and "gzip, chunked"
	// is a chunked body we return undecoded; on a response without a body
	// the codings do not matter.
	ruleTEList = nhRule{"te-list", "verdict", func(c *nhCase) bool {
		te := c.oursFields("transfer-encoding")
		plain := len(te) == 1 && equalFold(te[0].Value, "chunked")
		return c.nhRefused("too many transfer encodings", "unsupported transfer encoding") && !plain
	}}
	// net/http discards whatever follows a chunk-size's ";" unchecked, and
	// whitespace after the size (internal/chunked.go, removeChunkExtension:
	// "TODO: care about exact syntax"). We check the chunk-ext grammar of
	// RFC 9112 section 7.1.1, which has neither control bytes nor trailing
	// whitespace.
	ruleChunkExtSyntax = nhRule{"chunk-ext-syntax", "verdict", func(c *nhCase) bool {
		return c.oursRejected(errBadChunkExt) && c.nhAccepted() && c.nh.chunked()
	}}
	// RFC 9112 section 7.1.1 allows BWS before a chunk extension's ";", and RFC
	// 9110 section 5.6.3 says recipients MUST accept it. net/http reads "5 ;x" as
	// a chunk size of "5 ".
	ruleChunkExtBWS = nhRule{"chunk-ext-bws", "verdict", func(c *nhCase) bool {
		return c.nhRefused("invalid byte in chunk length") &&
			(bytes.Contains(c.data, []byte(" ;")) || bytes.Contains(c.data, []byte("\t;")))
	}}
	// chunk-size = 1*HEXDIG (RFC 9112 section 7.1): any number of digits. net/http
	// refuses more than 16, leading zeros included; we refuse a size only
	// when its value overflows.
	ruleChunkSizeDigits = nhRule{"chunk-size-digits", "verdict", func(c *nhCase) bool {
		return c.nhRefused("http chunk length too large")
	}}
	// The Trailer field announces fields that may follow a chunked body
	// (RFC 9110 section 6.6.2); we do not interpret it. net/http refuses a
	// chunked message whose Trailer names Transfer-Encoding, Trailer or
	// Content-Length (transfer.go, fixTrailer).
	ruleTrailerDeclaration = nhRule{"trailer-declares-framing-field", "verdict", func(c *nhCase) bool {
		return c.nhRefused("bad trailer key") && len(c.oursFields("trailer")) > 0
	}}
	// Our Limits (DefaultLimits here) bound the head's bytes, the fields,
	// the request-target and the body (413, 414, 431); net/http's
	// ReadRequest bounds none (its Server caps the head's bytes with
	// Server.MaxHeaderBytes, 1 MiB by default).
	ruleLimits = nhRule{"limits", "verdict", func(c *nhCase) bool {
		lim := DefaultLimits()
		switch {
		case !c.nhAccepted():
			return false
		case c.oursRejected(errHeadTooLarge, errTrailerTooBig):
			return len(c.data) > lim.MaxHeaderBytes
		case c.oursRejected(errURITooLong):
			return len(c.data) > min(lim.MaxURI, lim.MaxHeaderBytes)
		case c.oursRejected(errTooManyFields, errTooManyTrailer):
			return bytes.Count(c.data, []byte("\n")) > lim.MaxHeaders
		case c.oursRejected(errBodyTooLarge):
			return int64(len(c.nh.body)) > lim.MaxBodyBytes
		}
		return false
	}}
	// net/http bounds a trailer section by its bufio.Reader's buffer, 4096
	// bytes here (transfer.go, seeUpcomingDoubleCRLF); we bound it by
	// Limits.MaxHeaderBytes, 8 KiB by default.
	ruleTrailerBuffer = nhRule{"trailer-over-bufio", "verdict", func(c *nhCase) bool {
		return c.nhRefused("suspiciously long trailer") && len(c.data) > 4096
	}}
)

// requestRules explain disagreements on requests. (Set in init: a rule
// refers to them.)
var requestRules []nhRule

func init() { requestRules = requestRuleList() }

func requestRuleList() []nhRule {
	return []nhRule{
		// RFC 9112 section 2.2: a server SHOULD ignore at least one empty line before
		// the request-line; we skip them. net/http's ReadRequest reads an
		// empty request-line as malformed (its Server skips up to four CR or
		// LF bytes, and only after a POST). The rule holds only if net/http
		// refused the empty line, and the bytes after the empty lines give an
		// outcome the rules explain.
		{"empty-lines-before-request-line", "verdict", func(c *nhCase) bool {
			k := 0
			for bytes.HasPrefix(c.data[k:], []byte("\r\n")) {
				k += 2
			}
			if k == 0 || c.ours != nhAccept || c.nh.verdict != nhReject ||
				c.nh.err.Error() != `malformed HTTP request ""` {
				return false
			}
			again := nhRequestCase(c.data[k:])
			_, bad := again.outcome(requestRules)
			return again.ours == nhAccept && again.n == c.n-k && bad == nil
		}},
		ruleBareLF,
		ruleObsFold,
		ruleSpaceBeforeColon,
		ruleMajorVersion,
		// RFC 9112 section 3.2: a server MUST answer 400 to an HTTP/1.1 request
		// without Host, or with more than one or an invalid one. net/http's
		// ReadRequest leaves Host to its Server (nhServerRefuses).
		{"host-checked-by-server", "verdict", func(c *nhCase) bool {
			return c.oursRejected(errMissingHost, errBadHost) && c.nhAccepted() && nhServerRefuses(c.nh.req, c.nh.hosts) != ""
		}},
		// The same rule admits no exception for CONNECT (RFC 9112 section 3.2, and
		// RFC 9110 section 9.3.6 shows CONNECT with Host); net/http's Server exempts
		// CONNECT.
		{"connect-without-host", "verdict", func(c *nhCase) bool {
			return c.oursRejected(errMissingHost) && c.nhAccepted() && c.nh.req.Method == "CONNECT" &&
				len(c.nh.hosts) == 0
		}},
		// We check the request-target's bytes only (printable ASCII, RFC 3986
		// section 2) and leave its form and syntax to the handler: it does not
		// affect framing. net/http parses it as a URL (url.ParseRequestURI)
		// and refuses a target that is not origin-, absolute-, authority- or
		// asterisk-form, a bad %-escape, or a bad port.
		{"target-url-syntax", "verdict", func(c *nhCase) bool {
			var ue *url.Error
			return c.ours == nhAccept && c.nh.verdict == nhReject && errors.As(c.nh.err, &ue)
		}},
		// RFC 9112 section 3.2.3: a CONNECT request-target is authority-form,
		// uri-host ":" port, never empty. net/http parses "http://" followed
		// by the target, and an empty one parses.
		{"connect-empty-target", "verdict", func(c *nhCase) bool {
			return c.oursRejected(errBadTarget) && c.nhAccepted() && c.nh.req.Method == "CONNECT" &&
				c.nh.req.RequestURI == ""
		}},
		// Raw bytes over 0x7F are no URI characters (RFC 3986 section 2); we refuse
		// them in the request-target (package doc). net/http passes them on.
		{"target-non-ascii", "verdict", func(c *nhCase) bool {
			return c.oursRejected(errBadTarget) && c.nhAccepted() && hasNonASCII(c.nh.req.RequestURI)
		}},
		ruleContentLengthList,
		ruleLengthAndChunked,
		ruleTEInHTTP10,
		ruleTEList,
		ruleChunkExtSyntax,
		ruleChunkExtBWS,
		ruleChunkSizeDigits,
		ruleTrailerDeclaration,
		ruleLimits,
		ruleTrailerBuffer,
		// RFC 9112 section 3.2.2: for an absolute-form target the server uses the
		// target's authority, not Host. net/http puts that authority in
		// Request.Host; our Request.Host is the Host field as sent, and the
		// handler has the target.
		{"absolute-form-host", "host", func(c *nhCase) bool {
			return c.nh.req.URL.Host == c.nh.req.Host
		}},
	}
}

// responseRules explain disagreements on responses.
var responseRules = []nhRule{
	ruleBareLF,
	ruleObsFold,
	ruleSpaceBeforeColon,
	ruleMajorVersion,
	// RFC 9112 section 4: one SP between the HTTP-version and the status-code.
	// net/http skips any number of spaces there.
	{"status-line-spaces", "verdict", func(c *nhCase) bool {
		return c.oursRejected(errBadStatusLine) && c.nhAccepted() && len(c.data) > 9 && string(c.data[8:10]) == "  "
	}},
	// RFC 9110 section 15: a status code is three digits, from 100 (we accept up
	// to 999). net/http takes any three bytes strconv.Atoi reads as a
	// non-negative number: "099", "+99".
	{"status-code-range", "verdict", func(c *nhCase) bool {
		if !c.oursRejected(errBadStatusLine) || !c.nhAccepted() {
			return false
		}
		code, _, _ := strings.Cut(c.nh.resp.Status, " ")
		digits := !strings.ContainsFunc(code, func(r rune) bool { return r < '0' || r > '9' })
		return c.nh.resp.StatusCode < 100 || !digits
	}},
	// RFC 9112 section 4: reason-phrase = *( HTAB / SP / VCHAR / obs-text ).
	// net/http takes the rest of the line, control bytes and CR included.
	{"reason-phrase-chars", "verdict", func(c *nhCase) bool {
		if !c.oursRejected(errBadStatusLine, errBareCR) || !c.nhAccepted() {
			return false
		}
		_, reason, _ := strings.Cut(c.nh.resp.Status, " ")
		return !is(reason, cField)
	}},
	ruleContentLengthList,
	ruleLengthAndChunked,
	ruleTEInHTTP10,
	ruleTEList,
	ruleChunkExtSyntax,
	ruleChunkExtBWS,
	ruleChunkSizeDigits,
	ruleTrailerDeclaration,
	ruleLimits,
	ruleTrailerBuffer,
}

// explain matches each disagreement to the first rule for its aspect that
// holds. It returns the rules used and what no rule explains.
func (c *nhCase) explain(rules []nhRule) (used []string, unexplained []nhDiff) {
	for _, d := range c.diffs {
		i := slices.IndexFunc(rules, func(r nhRule) bool { return r.aspect == d.aspect && r.holds(c) })
		if i < 0 {
			unexplained = append(unexplained, d)
		} else if !slices.Contains(used, rules[i].name) {
			used = append(used, rules[i].name)
		}
	}
	slices.Sort(used)
	return used, unexplained
}

// outcome names a case's result: "agree", "undecided", or the rules that
// explain its differences joined by "+".
func (c *nhCase) outcome(rules []nhRule) (string, []nhDiff) {
	used, bad := c.explain(rules)
	switch {
	case len(bad) > 0:
		return "unexplained", bad
	case len(used) > 0:
		return strings.Join(used, "+"), nil
	case c.undecided:
		return "undecided", nil
	}
	return "agree", nil
}

func (c *nhCase) fail(t *testing.T, bad []nhDiff) {
	t.Helper()
	var b strings.Builder
	for _, d := range bad {
		fmt.Fprintf(&b, "\n  %s: %s", d.aspect, d.detail)
	}
	t.Fatalf("input %q: disagreement with net/http that no rule explains:%s", c.data, b.String())
}

func FuzzRequestAgainstNetHTTP(f *testing.F) {
	for _, tc := range validRequests {
		f.Add([]byte(tc.in))
	}
	for _, tc := range invalidRequests {
		f.Add([]byte(tc.in))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		c := nhRequestCase(data)
		if _, bad := c.outcome(requestRules); bad != nil {
			c.fail(t, bad)
		}
	})
}

// FuzzResponseAgainstNetHTTP reads responses to GET and HEAD. A 2xx to
// CONNECT, which starts a tunnel and has no body (RFC 9112 section 6.3 item 2),
// is left out: http.ReadResponse reads it like any other, as net/http's
// Transport handles CONNECT before reading a response.
func FuzzResponseAgainstNetHTTP(f *testing.F) {
	for _, tc := range validResponses {
		if tc.method == "GET" || tc.method == "HEAD" {
			f.Add([]byte(tc.in), tc.method == "HEAD")
		}
	}
	for _, tc := range invalidResponses {
		f.Add([]byte(tc.in), false)
	}
	f.Fuzz(func(t *testing.T, data []byte, head bool) {
		method := "GET"
		if head {
			method = "HEAD"
		}
		c := nhResponseCase(data, method)
		if _, bad := c.outcome(responseRules); bad != nil {
			c.fail(t, bad)
		}
	})
}

// TestAgainstNetHTTPSeeds runs the committed seed corpora, whose file
// names say the expected outcome ("bare-lf", "agree", "undecided", rules
// joined by "+"), optionally followed by "~" and a description; checks
// that every rule is demonstrated by a seed; and logs how the seeds and the
// package's request and response tables came out.
func TestAgainstNetHTTPSeeds(t *testing.T) {
	tally := map[string]int{}
	for _, fz := range []struct {
		name  string
		rules []nhRule
		run   func(args []string) *nhCase
	}{
		{"FuzzRequestAgainstNetHTTP", requestRules, func(args []string) *nhCase {
			return nhRequestCase([]byte(args[0]))
		}},
		{"FuzzResponseAgainstNetHTTP", responseRules, func(args []string) *nhCase {
			method := "GET"
			if args[1] == "true" {
				method = "HEAD"
			}
			return nhResponseCase([]byte(args[0]), method)
		}},
	} {
		seen := map[string]bool{}
		files, _ := filepath.Glob(filepath.Join("testdata", "fuzz", fz.name, "*"))
		if len(files) == 0 {
			t.Fatalf("no seeds for %s", fz.name)
		}
		for _, file := range files {
			args := readCorpusFile(t, file)
			want, _, _ := strings.Cut(filepath.Base(file), "~")
			c := fz.run(args)
			got, bad := c.outcome(fz.rules)
			if got != want {
				t.Errorf("%s: outcome %s, want %s (ours %v %v, net/http %v %v) %v", file, got, want,
					c.ours, c.err, c.nh.verdict, c.nh.err, bad)
			}
			for r := range strings.SplitSeq(got, "+") {
				seen[r] = true
			}
			tally[fz.name[4:]+" seed: "+got]++
		}
		for _, r := range fz.rules {
			if !seen[r.name] {
				t.Errorf("%s: no seed demonstrates rule %s", fz.name, r.name)
			}
		}
	}
	for _, tc := range validRequests {
		o, _ := nhRequestCase([]byte(tc.in)).outcome(requestRules)
		tally["validRequests: "+o]++
	}
	for _, tc := range invalidRequests {
		o, _ := nhRequestCase([]byte(tc.in)).outcome(requestRules)
		tally["invalidRequests: "+o]++
	}
	for _, tc := range validResponses {
		if tc.method != "GET" && tc.method != "HEAD" {
			continue // see FuzzResponseAgainstNetHTTP
		}
		o, _ := nhResponseCase([]byte(tc.in), tc.method).outcome(responseRules)
		tally["validResponses: "+o]++
	}
	for _, tc := range invalidResponses {
		o, _ := nhResponseCase([]byte(tc.in), "GET").outcome(responseRules)
		tally["invalidResponses: "+o]++
	}
	for _, k := range slices.Sorted(maps.Keys(tally)) {
		t.Logf("%4d  %s", tally[k], k)
		if strings.HasSuffix(k, ": unexplained") {
			t.Errorf("%d of the package's table inputs disagree with net/http unexplained (%s)", tally[k], k)
		}
	}
}

// readCorpusFile reads a "go test fuzz v1" file whose values are []byte,
// string or bool literals, and returns them as text.
func readCorpusFile(t *testing.T, file string) []string {
	t.Helper()
	b, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSpace(string(b)), "\n")
	if lines[0] != "go test fuzz v1" {
		t.Fatalf("%s: not a fuzz corpus file", file)
	}
	var args []string
	for _, l := range lines[1:] {
		typ, lit, ok := strings.Cut(l, "(")
		lit, ok2 := strings.CutSuffix(lit, ")")
		if !ok || !ok2 {
			t.Fatalf("%s: line %q", file, l)
		}
		switch typ {
		case "[]byte", "string":
			s, err := strconv.Unquote(lit)
			if err != nil {
				t.Fatalf("%s: %q: %v", file, l, err)
			}
			args = append(args, s)
		case "bool":
			args = append(args, lit)
		default:
			t.Fatalf("%s: unsupported type in %q", file, l)
		}
	}
	return args
}

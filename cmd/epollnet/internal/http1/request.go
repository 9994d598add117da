package http1

// Request is a parsed request. Byte slices point into the buffer given to
// Parse and stay valid until the caller consumes those bytes; a chunked Body
// points into the parser's scratch buffer and stays valid until the next
// Parse. Reuse one
// Request per connection: Headers and Trailers keep their backing arrays, so
// steady-state parsing allocates nothing.
type Request struct {
	Method     []byte // a token, case-sensitive (RFC 9110)
	Target     []byte // the request-target as sent (RFC 9112)
	ProtoMinor int    // x in HTTP/1.x; 1 and above mean HTTP/1.1 semantics
	// Headers are the header section's field lines in order, names as sent
	// (compare them case-insensitively), values without surrounding OWS.
	Headers []Header
	// Host is the Host field's value (RFC 9112); nil when absent, which
	// only HTTP/1.0 allows.
	Host []byte
	// ContentLength is the Content-Length value, 0 when absent, or -1 when
	// the body is chunked.
	ContentLength int64
	// Chunked reports a chunked body (Transfer-Encoding: chunked).
	Chunked bool
	// Close reports that the connection closes after the response:
	// "Connection: close", or HTTP/1.0 without "Connection: keep-alive"
	// (RFC 9112's persistence rules). The response should then say
	// "Connection: close".
	Close bool
	// Expect100 reports "Expect: 100-continue" (RFC 9110): the
	// client may wait for a 100 (Continue) before sending the body.
	Expect100 bool
	// Body is the whole body (nil when empty), decoded when chunked.
	Body []byte
	// Trailers are the fields of a chunked body's trailer section
	// (RFC 9112). Nothing is merged into Headers.
	Trailers []Header
}

// KeepAlive reports whether the connection stays open after the response,
// the negation of Close. An HTTP/1.0 client that asked for it expects the
// response to say "Connection: keep-alive".
func (r *Request) KeepAlive() bool { return !r.Close }

// reset clears r for a new parse, keeping the backing arrays.
func (r *Request) reset() {
	*r = Request{Headers: r.Headers[:0], Trailers: r.Trailers[:0]}
}

// RequestParser parses requests from one connection's byte stream. The zero
// value is ready to use with DefaultLimits. It is not safe for concurrent
// use: keep one per connection, on the connection's loop goroutine.
//
// After Parse reports that more data is needed, the next call must pass the
// same bytes with more appended (what epollnet's OnData does with unconsumed
// input), because decoding a chunked body resumes where it stopped. Call
// Reset before parsing unrelated bytes.
type RequestParser struct {
	// Limits bounds what is accepted; zero fields take DefaultLimits.
	Limits Limits

	chunked chunkedDecoder
}

// Reset discards the state kept between calls, and the scratch buffer if it
// has grown large.
func (p *RequestParser) Reset() { p.chunked.reset(0) }

// Parse parses one request from the start of buf into req.
//
// It returns (n, nil) with n > 0 when buf holds a whole request, head and
// body, in its first n bytes; (0, nil) when buf is a valid, within-limits
// prefix of a request and more data is needed; or (0, err) with err an
// *Error whose Status the server should answer before closing. Bytes after
// the first n, such as pipelined requests, are not looked at.
func (p *RequestParser) Parse(buf []byte, req *Request) (n int, err error) {
	lim := p.Limits.resolved()
	head, err := parseRequestHead(buf, req, &lim)
	if head == 0 || err != nil {
		return 0, err
	}
	return readBody(&p.chunked, buf, head, req.ContentLength, &req.Body, &req.Trailers, &lim)
}

// ParseHead is Parse without the body: it returns the head's length once the
// head is complete, with req's framing fields set and Body and Trailers
// empty. A server uses it while Parse needs more data, to answer
// Expect: 100-continue (RFC 9110) or refuse a body early.
func (p *RequestParser) ParseHead(buf []byte, req *Request) (n int, err error) {
	lim := p.Limits.resolved()
	return parseRequestHead(buf, req, &lim)
}

// parseRequestHead parses the request-line and header section (RFC 9112)
// within the head limit, then the fields' framing meaning.
func parseRequestHead(buf []byte, req *Request, lim *Limits) (int, error) {
	req.reset()
	win := window(buf, 0, lim.MaxHeaderBytes)
	var f fields
	i, err := parseRequestLine(win, req, lim.MaxURI)
	if err == nil {
		i, err = parseSection(win, i, &req.Headers, lim.MaxHeaders, &f)
	}
	switch {
	case err == nil:
		return i, req.frame(&f, lim)
	case err != errMore && err != errMoreTarget:
		return 0, err
	case len(buf) <= len(win):
		return 0, nil // need more data
	case err == errMoreTarget:
		return 0, errURITooLong
	}
	return 0, errHeadTooLarge
}

// frame applies the header fields' meaning for a request, by RFC 9112's
// rules: Host, message body length and persistence.
func (r *Request) frame(f *fields, lim *Limits) error {
	switch {
	case f.hosts > 1:
		return errDuplicateHost
	case f.hosts == 0 && r.ProtoMinor > 0:
		return errMissingHost
	case !validHost(f.host):
		return errBadHost
	}
	r.Host = f.host
	r.Close = f.close || r.ProtoMinor == 0 && !f.keepAlive
	r.Expect100 = f.expect100
	if f.te.present {
		return r.frameChunked(f)
	}
	if f.length > lim.MaxBodyBytes {
		return errBodyTooLarge
	}
	r.ContentLength = f.length
	return nil
}

// frameChunked checks a request's Transfer-Encoding. Only chunked, once and
// last, is accepted; everything else is refused, since a request whose
// framing we might read differently from a proxy is a smuggling vector
// (RFC 9112 requires or allows refusing each of these, and warns of
// request smuggling).
func (r *Request) frameChunked(f *fields) error {
	switch {
	case r.ProtoMinor == 0:
		return errTEHTTP10 // RFC 9112: Transfer-Encoding in HTTP/1.0 means faulty framing
	case f.hasLength:
		return errLengthAndTE // RFC 9112: a server may reject both framings together
	case f.te.other:
		return errUnsupportedTE // RFC 9112: an unknown transfer coding is a 501
	case f.te.chunked == 0:
		return errBadTE // only empty list elements
	case f.te.chunked != 1 || !f.te.chunkedLast:
		return errChunkedNotEnd // RFC 9112: chunked is applied once, and last
	}
	r.Chunked, r.ContentLength = true, -1
	return nil
}

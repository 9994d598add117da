package http1

// Response is a parsed response. Its byte slices live as long as Request's:
// until the caller consumes the bytes, or for a chunked Body, until the next
// Parse.
type Response struct {
	ProtoMinor int    // x in HTTP/1.x
	StatusCode int    // 100 to 999, the three-digit range of RFC 9110
	Reason     []byte // the reason-phrase, possibly empty; carries no meaning
	// Headers are the header section's field lines in order, as in Request.
	Headers []Header
	// ContentLength is the Content-Length value, 0 when absent, or -1 when
	// the body is chunked or delimited by the connection closing.
	ContentLength int64
	// Chunked reports a chunked body (chunked is the final coding).
	Chunked bool
	// UntilClose reports a close-delimited body (RFC 9112: a response with
	// neither Content-Length nor chunked framing ends when the server
	// closes): Parse returned only the head, and the body is every byte
	// that follows until the server closes the connection.
	UntilClose bool
	// Close reports that the connection cannot carry another request:
	// "Connection: close", HTTP/1.0 without "Connection: keep-alive"
	// (RFC 9112's persistence rules), or a close-delimited body.
	Close bool
	// Body is the whole body (nil when empty), decoded when chunked.
	Body []byte
	// Trailers are the fields of a chunked body's trailer section.
	Trailers []Header
}

// reset clears r for a new parse, keeping the backing arrays.
func (r *Response) reset() {
	*r = Response{Headers: r.Headers[:0], Trailers: r.Trailers[:0]}
}

// ResponseParser parses responses from one connection's byte stream, for a
// client or load generator. The zero value is ready to use with
// DefaultLimits. It is not safe for concurrent use, and has the same
// resume rule as RequestParser: after a need-more result, pass the same bytes
// with more appended, or call Reset.
type ResponseParser struct {
	// Limits bounds what is accepted; zero fields take DefaultLimits.
	// MaxURI is not used.
	Limits Limits

	chunked chunkedDecoder
}

// Reset discards the state kept between calls, and the scratch buffer if it
// has grown large.
func (p *ResponseParser) Reset() { p.chunked.reset(0) }

// Parse parses one response from the start of buf into resp. method is the
// method of the request it answers, which decides whether a body follows
// (RFC 9112's message body length rules): none after HEAD, nor after a 2xx
// to CONNECT (the connection then is a tunnel).
//
// The results are those of RequestParser.Parse: (n, nil) for a complete
// response in buf[:n], (0, nil) when more data is needed, (0, err) with err
// an *Error. A 1xx response is complete after its head; the final response
// follows it (after a 101 the connection no longer speaks HTTP/1.1). For a
// close-delimited body n covers the head only and resp.UntilClose is set.
func (p *ResponseParser) Parse(buf []byte, method string, resp *Response) (n int, err error) {
	lim := p.Limits.resolved()
	head, err := parseResponseHead(buf, method, resp, &lim)
	if head == 0 || err != nil {
		return 0, err
	}
	length := resp.ContentLength
	if !resp.hasBody(method) || resp.UntilClose {
		length = 0
	}
	return readBody(&p.chunked, buf, head, length, &resp.Body, &resp.Trailers, &lim)
}

// parseResponseHead parses the status-line and header section within the
// head limit, then the fields' framing meaning.
func parseResponseHead(buf []byte, method string, resp *Response, lim *Limits) (int, error) {
	resp.reset()
	win := window(buf, 0, lim.MaxHeaderBytes)
	var f fields
	i, err := parseStatusLine(win, resp)
	if err == nil {
		i, err = parseSection(win, i, &resp.Headers, lim.MaxHeaders, &f)
	}
	switch {
	case err == nil:
		return i, resp.frame(&f, method, lim)
	case err != errMore:
		return 0, err
	case len(buf) <= len(win):
		return 0, nil // need more data
	}
	return 0, errHeadTooLarge
}

// hasBody reports whether a response to method with r's status carries a
// body: RFC 9112 gives none to an answer to HEAD, to 1xx, 204 and 304, nor
// to a 2xx answer to CONNECT.
func (r *Response) hasBody(method string) bool {
	c := r.StatusCode
	switch {
	case method == "HEAD", c < 200, c == 204, c == 304:
		return false
	case method == "CONNECT" && c/100 == 2:
		return false
	}
	return true
}

// frame applies the header fields' meaning for a response: message body
// length and persistence, by RFC 9112's rules.
func (r *Response) frame(f *fields, method string, lim *Limits) error {
	r.Close = f.close || r.ProtoMinor == 0 && !f.keepAlive
	r.ContentLength = f.length
	switch {
	case !r.hasBody(method):
		return nil // Content-Length, if any, describes the absent body
	case f.te.present:
		return r.frameTE(f)
	case f.length > lim.MaxBodyBytes:
		return errBodyTooLarge
	case !f.hasLength:
		r.UntilClose, r.Close, r.ContentLength = true, true, -1 // no framing: read until close
	}
	return nil
}

// frameTE applies a response's Transfer-Encoding. Both framing headers
// together are an error (RFC 9112: such a message "ought to be handled as
// an error"); if chunked is not the final coding the body runs until the
// connection closes, as RFC 9112 prescribes for responses.
func (r *Response) frameTE(f *fields) error {
	switch {
	case r.ProtoMinor == 0:
		return errTEHTTP10 // RFC 9112: Transfer-Encoding in HTTP/1.0 means faulty framing
	case f.hasLength:
		return errLengthAndTE
	case f.te.chunked == 0 && !f.te.other:
		return errBadTE
	case f.te.chunked > 1:
		return errChunkedNotEnd
	case f.te.chunkedLast:
		r.Chunked, r.ContentLength = true, -1
	default:
		r.UntilClose, r.Close, r.ContentLength = true, true, -1
	}
	return nil
}

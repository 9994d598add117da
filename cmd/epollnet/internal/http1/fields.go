package http1

// Header is one field line (a header, RFC 9112): a name and a value with the
// surrounding optional whitespace removed. In a parsed message both are
// sub-slices of the parsed buffer.
type Header struct {
	Name, Value []byte
}

// parseFieldLine parses the field line at b[i:], as RFC 9112 defines it:
//
//	field-line = field-name ":" OWS field-value OWS CRLF
//
// At the empty line ending a section it returns a zero Header and the index
// past its CRLF. It returns errMore while the line is incomplete.
func parseFieldLine(b []byte, i int) (h Header, next int, err error) {
	if i >= len(b) {
		return h, 0, errMore
	}
	switch b[i] {
	case '\r':
		next, err = endOfLine(b, i, errBareCR)
		return h, next, err
	case '\n':
		return h, 0, errBareLF
	case ' ', '\t':
		// obs-fold (a continuation line), or whitespace between the
		// start-line and the first field: RFC 9112 lets a recipient reject
		// both, and we do.
		return h, 0, errObsFold
	}
	j := i
	for j < len(b) && charClass[b[j]]&cToken != 0 {
		j++
	}
	switch {
	case j == len(b):
		return h, 0, errMore
	case b[j] != ':' && isOWS(b[j]):
		return h, 0, errSpaceInName // RFC 9112: a server must reject it with 400
	case b[j] != ':' || j == i:
		return h, 0, errBadFieldName
	}
	k := j + 1
	for k < len(b) && charClass[b[k]]&cField != 0 {
		k++
	}
	if next, err = endOfLine(b, k, errBadFieldValue); err != nil {
		return h, 0, err
	}
	return Header{Name: b[i:j], Value: trimOWS(b[j+1 : k])}, next, nil
}

// endOfLine checks for CRLF at b[i:] and returns the index past it. A bare
// LF there is rejected (RFC 9112 allows accepting it; see the package doc),
// as is a bare CR; any other byte is invalid in the element before it,
// and other is returned.
func endOfLine(b []byte, i int, other error) (int, error) {
	switch {
	case i >= len(b):
		return 0, errMore
	case b[i] == '\n':
		return 0, errBareLF
	case b[i] != '\r':
		return 0, other
	case i+1 >= len(b):
		return 0, errMore
	case b[i+1] != '\n':
		return 0, errBareCR
	}
	return i + 2, nil
}

// parseSection parses field lines from b[i:] through the empty line ending
// the section, appending them to *hs (at most limit of them) and showing each
// to f when f is not nil. It returns the index past the empty line.
func parseSection(b []byte, i int, hs *[]Header, limit int, f *fields) (int, error) {
	for {
		h, next, err := parseFieldLine(b, i)
		if err != nil {
			return 0, err
		}
		if h.Name == nil {
			return next, nil
		}
		if len(*hs) >= limit {
			return 0, errTooManyFields
		}
		*hs = append(*hs, h)
		if f != nil {
			if err := f.inspect(h); err != nil {
				return 0, err
			}
		}
		i = next
	}
}

// fields collects what the fields with a meaning to HTTP/1.1 framing and
// persistence say, as a section is parsed.
type fields struct {
	hosts     int    // Host field lines seen
	host      []byte // the last Host value
	hasLength bool   // a Content-Length field was seen
	length    int64  // its value
	te        transferCodings
	close     bool // Connection has "close"
	keepAlive bool // Connection has "keep-alive"
	expect100 bool // Expect is "100-continue"
}

// transferCodings summarizes the Transfer-Encoding list (RFC 9112),
// which may span several field lines.
type transferCodings struct {
	present     bool // a Transfer-Encoding field was seen
	chunked     int  // how many times chunked appears
	chunkedLast bool // chunked is the final coding
	other       bool // a coding other than chunked appears
}

// inspect records h if its name is one of the fields framing depends on.
// Names are compared case-insensitively, as RFC 9110 says field names are;
// the length switch keeps the common case, an unrelated field, to one
// comparison.
func (f *fields) inspect(h Header) error {
	switch len(h.Name) {
	case 4:
		if equalFold(h.Name, "host") {
			f.hosts++
			f.host = h.Value
		}
	case 6:
		if equalFold(h.Name, "expect") && equalFold(h.Value, "100-continue") {
			f.expect100 = true // the client waits for 100 Continue before the body (RFC 9110)
		}
	case 10:
		if equalFold(h.Name, "connection") {
			f.connection(h.Value)
		}
	case 14:
		if equalFold(h.Name, "content-length") {
			return f.contentLength(h.Value)
		}
	case 17:
		if equalFold(h.Name, "transfer-encoding") {
			return f.transferEncoding(h.Value)
		}
	}
	return nil
}

// connection records the connection options of the Connection field
// (RFC 9110, RFC 9112: "close" ends persistence): a case-insensitive
// comma-separated token list.
func (f *fields) connection(v []byte) {
	for more := true; more; {
		var e []byte
		e, v, more = nextElem(v)
		switch {
		case equalFold(e, "close"):
			f.close = true
		case equalFold(e, "keep-alive"):
			f.keepAlive = true
		}
	}
}

// contentLength records a Content-Length value (RFC 9110). A list of
// identical values, on one line or several, counts as one value, as RFC
// 9110 allows; anything else that is not 1*DIGIT is invalid, and RFC 9112
// makes an invalid Content-Length an unrecoverable framing error.
func (f *fields) contentLength(v []byte) error {
	for {
		e, rest, more := nextElem(v)
		n, ok := parseDecimal(e)
		switch {
		case !ok:
			return errBadLength // includes empty elements: this is no list
		case f.hasLength && n != f.length:
			return errDiffLength
		}
		f.hasLength, f.length = true, n
		if !more {
			return nil
		}
		v = rest
	}
}

// transferEncoding adds a Transfer-Encoding line's codings to the list.
// transfer-coding = token *( OWS ";" OWS transfer-parameter ) (RFC 9112);
// only chunked is implemented, and it takes no parameters.
func (f *fields) transferEncoding(v []byte) error {
	f.te.present = true
	for more := true; more; {
		var e []byte
		e, v, more = nextElem(v)
		switch {
		case len(e) == 0:
			continue
		case equalFold(e, "chunked"):
			f.te.chunked++
			f.te.chunkedLast = true
			continue
		case !validToken(codingName(e)):
			return errBadTE
		}
		f.te.other = true
		f.te.chunkedLast = false
	}
	return nil
}

// codingName returns a transfer-coding's name, without its parameters.
func codingName(e []byte) []byte {
	for i, c := range e {
		if c == ';' {
			return trimOWS(e[:i])
		}
	}
	return e
}

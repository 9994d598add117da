package http1

const (
	// maxChunkLine bounds a chunk-size line with its extensions and CRLF.
	// RFC 9112 lets a server limit chunk extensions' length; 4 KiB is far
	// above anything real and keeps a line's rescan cheap.
	maxChunkLine = 4 << 10
	// maxChunkExcess bounds the framing overhead beyond what a chunk's
	// size earns (see chunkedDecoder.account).
	maxChunkExcess = 16 << 10
	// maxScratchKeep is the largest decoded-body buffer a parser keeps
	// between bodies, so one large body does not pin memory for the
	// connection's lifetime.
	maxScratchKeep = 64 << 10
)

// chunkedDecoder decodes a chunked body (RFC 9112) across Parse calls:
// complete chunks are decoded once, and the next call resumes after them,
// so a body arriving in many reads costs linear, not quadratic, time.
type chunkedDecoder struct {
	active bool   // a body is being decoded; the fields below describe it
	head   int    // the length of the head the body follows
	off    int    // body bytes consumed so far, always at a chunk boundary
	excess int64  // framing overhead beyond the allowance, see account
	last   bool   // the last-chunk was consumed; off is at the trailers
	data   []byte // the decoded data so far
}

// reset starts decoding a new body that follows a head of length head.
func (d *chunkedDecoder) reset(head int) {
	data := d.data[:0]
	if cap(data) > maxScratchKeep {
		data = nil
	}
	*d = chunkedDecoder{head: head, data: data}
}

// readBody completes a message whose head is buf[:head] and whose body is
// length bytes long, or chunked when length is -1. It returns the message's
// length, or (0, nil) while more data is needed.
func readBody(d *chunkedDecoder, buf []byte, head int, length int64, body *[]byte, trailers *[]Header, lim *Limits) (int, error) {
	switch {
	case length < 0:
		return d.message(buf, head, body, trailers, lim)
	case length > int64(len(buf)-head):
		return 0, nil
	case length > 0:
		end := head + int(length)
		*body = buf[head:end:end]
		return end, nil
	}
	return head, nil
}

// message decodes the chunked body after buf's head of length head. It
// returns the whole message's length once the body, trailers included, is
// complete, (0, nil) while more data is needed, or an error.
func (d *chunkedDecoder) message(buf []byte, head int, body *[]byte, trailers *[]Header, lim *Limits) (int, error) {
	if !d.active || d.head != head {
		d.reset(head)
		d.active = true
	}
	n, err := d.decode(buf[head:], trailers, lim)
	switch {
	case err == errMore:
		return 0, nil
	case err != nil:
		d.active = false
		return 0, err
	}
	d.active = false
	if len(d.data) > 0 {
		*body = d.data
	}
	return head + n, nil
}

// decode continues decoding the chunked-body b (RFC 9112) and returns
// its length when complete:
//
//	chunked-body = *chunk last-chunk trailer-section CRLF
func (d *chunkedDecoder) decode(b []byte, trailers *[]Header, lim *Limits) (int, error) {
	for !d.last {
		if err := d.chunk(b, lim); err != nil {
			return 0, err
		}
	}
	return parseTrailers(b, d.off, trailers, lim)
}

// chunk consumes the chunk or last-chunk at b[d.off:]:
//
//	chunk      = chunk-size [ chunk-ext ] CRLF chunk-data CRLF
//	last-chunk = 1*("0") [ chunk-ext ] CRLF
func (d *chunkedDecoder) chunk(b []byte, lim *Limits) error {
	size, start, err := parseChunkLine(b, d.off)
	switch {
	case err != nil:
		return err
	case size == 0:
		framing := start - d.off
		d.off, d.last = start, true
		return d.account(framing, 0)
	case size > lim.MaxBodyBytes-int64(len(d.data)):
		return errBodyTooLarge
	case size+2 > int64(len(b)-start):
		return errMore
	}
	end := start + int(size)
	if b[end] != '\r' || b[end+1] != '\n' {
		return errBadChunkEnd
	}
	if err := d.account(start-d.off, size); err != nil {
		return err
	}
	d.data = append(d.data, b[start:end]...)
	d.off = end + 2
	return nil
}

// account charges a chunk's framing bytes (counted as Go counts them: the
// size line without its CRLF, plus 2) against its allowance of 16
// bytes plus twice its size, and refuses the body once the surplus passes
// maxChunkExcess: a peer sending tiny chunks with long extensions makes us
// work for nothing. This is Go's net/http rule (after CVE-2023-39326).
func (d *chunkedDecoder) account(framing int, size int64) error {
	d.excess = max(d.excess+int64(framing)-16-2*size, 0)
	if d.excess > maxChunkExcess {
		return errChunkOverhead
	}
	return nil
}

// parseChunkLine parses the chunk-size line at b[i:], with its extensions,
// and returns the size and the index past the line's CRLF.
func parseChunkLine(b []byte, i int) (size int64, next int, err error) {
	w := window(b, i, maxChunkLine)
	size, next, err = chunkLine(w, i)
	if err == errMore && len(b) > len(w) {
		return 0, 0, errChunkLineLong
	}
	return size, next, err
}

// chunkLine is parseChunkLine within the line limit.
func chunkLine(b []byte, i int) (size int64, next int, err error) {
	j := i
	for ; j < len(b); j++ {
		v := unhex(b[j])
		if v < 0 {
			break
		}
		if size > maxInt64>>4 {
			return 0, 0, errChunkOverflow
		}
		size = size<<4 | v
	}
	switch {
	case j == len(b):
		return 0, 0, errMore
	case j == i:
		return 0, 0, errBadChunkSize // chunk-size = 1*HEXDIG
	}
	if j, err = skipChunkExt(b, j); err != nil {
		return 0, 0, err
	}
	next, err = endOfLine(b, j, errBadChunkExt)
	return size, next, err
}

// skipChunkExt skips chunk extensions at b[i:], which are not interpreted,
// and returns the index of the byte after them (grammar from RFC 9112):
//
//	chunk-ext     = *( BWS ";" BWS chunk-ext-name [ BWS "=" BWS chunk-ext-val ] )
//	chunk-ext-val = token / quoted-string
func skipChunkExt(b []byte, i int) (int, error) {
	for {
		j := skipBWS(b, i)
		switch {
		case j == len(b):
			return 0, errMore
		case b[j] != ';' && j != i:
			return 0, errBadChunkExt // BWS belongs to an extension only
		case b[j] != ';':
			return i, nil
		}
		var err error
		if i, err = skipToken(b, skipBWS(b, j+1)); err != nil {
			return 0, err
		}
		j = skipBWS(b, i)
		if j == len(b) {
			return 0, errMore
		}
		if b[j] != '=' {
			continue
		}
		j = skipBWS(b, j+1)
		if j < len(b) && b[j] == '"' {
			i, err = skipQuoted(b, j)
		} else {
			i, err = skipToken(b, j)
		}
		if err != nil {
			return 0, err
		}
	}
}

// skipBWS skips "bad" whitespace (BWS, RFC 9110: allowed but never sent) at b[i:].
func skipBWS(b []byte, i int) int {
	for i < len(b) && isOWS(b[i]) {
		i++
	}
	return i
}

// skipToken skips the token at b[i:], which must be followed by something.
func skipToken(b []byte, i int) (int, error) {
	j := i
	for j < len(b) && charClass[b[j]]&cToken != 0 {
		j++
	}
	switch {
	case j == len(b):
		return 0, errMore
	case j == i:
		return 0, errBadChunkExt
	}
	return j, nil
}

// skipQuoted skips the quoted-string at b[i:] (RFC 9110):
//
//	quoted-string = DQUOTE *( qdtext / quoted-pair ) DQUOTE
//	quoted-pair   = "\" ( HTAB / SP / VCHAR / obs-text )
func skipQuoted(b []byte, i int) (int, error) {
	for j := i + 1; j < len(b); j++ {
		switch c := b[j]; {
		case c == '"':
			return j + 1, nil
		case c == '\\':
			j++
			if j < len(b) && charClass[b[j]]&cField == 0 {
				return 0, errBadChunkExt
			}
		case charClass[c]&cQdText == 0:
			return 0, errBadChunkExt
		}
	}
	return 0, errMore
}

// parseTrailers parses the trailer section at b[i:] through the empty line
// ending the chunked body (RFC 9112), bounded like a header section,
// and returns the index past it.
func parseTrailers(b []byte, i int, trailers *[]Header, lim *Limits) (int, error) {
	w := window(b, i, lim.MaxHeaderBytes)
	n, err := parseSection(w, i, trailers, lim.MaxHeaders, nil)
	switch {
	case err == errMore && len(b) > len(w):
		return 0, errTrailerTooBig
	case err == errTooManyFields:
		return 0, errTooManyTrailer
	}
	return n, err
}

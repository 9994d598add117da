package http1

// Limits bounds what a parser accepts from a peer. A zero or negative field
// takes its value from DefaultLimits, so the zero Limits is usable.
type Limits struct {
	// MaxHeaderBytes bounds the head: start-line, field lines and the empty
	// line ending them, plus any empty lines skipped before a request-line.
	// Over it: 431 (or 414 when the excess is in the request-target). It
	// also bounds a chunked body's trailer section.
	MaxHeaderBytes int
	// MaxHeaders bounds the number of field lines in the header section,
	// and separately in a trailer section. Over it: 431.
	MaxHeaders int
	// MaxBodyBytes bounds a body's length: the Content-Length value, or the
	// decoded length of a chunked body. Over it: 413.
	MaxBodyBytes int64
	// MaxURI bounds the request-target's length. Over it: 414.
	MaxURI int
}

// DefaultLimits returns the limits a zero Limits field stands for: an 8 KiB
// head (as nginx's large_client_header_buffers and Node's llhttp), 100
// fields, a 1 MiB body and an 8 KiB request-target (RFC 9112 recommends
// supporting request-lines of at least 8000 octets).
func DefaultLimits() Limits {
	return Limits{
		MaxHeaderBytes: 8 << 10,
		MaxHeaders:     100,
		MaxBodyBytes:   1 << 20,
		MaxURI:         8 << 10,
	}
}

// resolved returns l with zero or negative fields replaced by defaults.
func (l Limits) resolved() Limits {
	d := DefaultLimits()
	if l.MaxHeaderBytes <= 0 {
		l.MaxHeaderBytes = d.MaxHeaderBytes
	}
	if l.MaxHeaders <= 0 {
		l.MaxHeaders = d.MaxHeaders
	}
	if l.MaxBodyBytes <= 0 {
		l.MaxBodyBytes = d.MaxBodyBytes
	}
	if l.MaxURI <= 0 {
		l.MaxURI = d.MaxURI
	}
	return l
}

// window returns b cut size bytes after start: the part of b a parse of a
// size-limited element starting there may look at, since further bytes can
// only make it too large.
func window(b []byte, start, size int) []byte {
	if size < len(b)-start {
		return b[:start+size]
	}
	return b
}

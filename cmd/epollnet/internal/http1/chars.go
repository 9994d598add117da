package http1

// Character classes, one bit each in charClass.
const (
	cToken  = 1 << iota // tchar, the characters of a token (RFC 9110)
	cField              // field-vchar / SP / HTAB, a field value's characters (RFC 9110)
	cTarget             // printable ASCII except SP: RFC 3986 characters
	cHost               // reg-name, IP-literal and port characters (RFC 3986, URI authority)
	cQdText             // qdtext, the characters of a quoted-string (RFC 9110)
)

// charClass maps each byte to its classes, so the hot loops cost one load
// and one AND per byte.
var charClass = func() (t [256]uint8) {
	for c := 0; c < 256; c++ {
		b := byte(c)
		alnum := 'a' <= b && b <= 'z' || 'A' <= b && b <= 'Z' || '0' <= b && b <= '9'
		vchar := 0x21 <= b && b <= 0x7e
		if alnum || indexByte("!#$%&'*+-.^_`|~", b) {
			t[c] |= cToken
		}
		if vchar || b >= 0x80 || b == ' ' || b == '\t' {
			t[c] |= cField
		}
		if vchar {
			t[c] |= cTarget
		}
		if alnum || indexByte("-._~!$&'()*+,;=:[]%", b) {
			t[c] |= cHost
		}
		if b == '\t' || b == ' ' || b == 0x21 || 0x23 <= b && b <= 0x5b || 0x5d <= b && b <= 0x7e || b >= 0x80 {
			t[c] |= cQdText
		}
	}
	return t
}()

func indexByte(s string, b byte) bool {
	for i := 0; i < len(s); i++ {
		if s[i] == b {
			return true
		}
	}
	return false
}

// is reports whether every byte of s is in class c.
func is[T string | []byte](s T, c uint8) bool {
	for i := 0; i < len(s); i++ {
		if charClass[s[i]]&c == 0 {
			return false
		}
	}
	return true
}

// validToken reports whether s is a token (RFC 9110): 1*tchar.
func validToken[T string | []byte](s T) bool { return len(s) > 0 && is(s, cToken) }

// validTarget reports whether s can be a request-target: non-empty,
// printable ASCII without SP: RFC 9112 builds the request-target from
// RFC 3986 URI characters, all of them printable ASCII.
func validTarget[T string | []byte](s T) bool { return len(s) > 0 && is(s, cTarget) }

// validHost reports whether s can be a Host field value: uri-host [ ":"
// port ] (RFC 9110), checked by character only. It may be empty.
func validHost[T string | []byte](s T) bool { return is(s, cHost) }

// ValidFieldName reports whether name is a valid field name: a token, as
// RFC 9110 requires.
func ValidFieldName(name []byte) bool { return validToken(name) }

// ValidFieldValue reports whether value is a valid field value as RFC 9110
// defines it: VCHAR, obs-text, SP and HTAB, with no whitespace at either
// end. A value that passes cannot split a message (no CR, LF or NUL).
func ValidFieldValue(value []byte) bool {
	if len(value) > 0 && (isOWS(value[0]) || isOWS(value[len(value)-1])) {
		return false
	}
	return is(value, cField)
}

// isOWS reports whether c is optional whitespace (OWS, RFC 9110): SP or HTAB.
func isOWS(c byte) bool { return c == ' ' || c == '\t' }

// trimOWS strips optional whitespace from both ends of b.
func trimOWS(b []byte) []byte {
	for len(b) > 0 && isOWS(b[0]) {
		b = b[1:]
	}
	for len(b) > 0 && isOWS(b[len(b)-1]) {
		b = b[:len(b)-1]
	}
	return b
}

// equalFold reports whether b equals the lower-case ASCII string s,
// ignoring ASCII case in b.
func equalFold(b []byte, s string) bool {
	if len(b) != len(s) {
		return false
	}
	for i := 0; i < len(b); i++ {
		c := b[i]
		if 'A' <= c && c <= 'Z' {
			c += 'a' - 'A'
		}
		if c != s[i] {
			return false
		}
	}
	return true
}

// nextElem splits the first element off a comma-separated list (RFC 9110's
// #rule), trimming OWS; more reports whether a comma followed it. Empty
// elements are returned as empty: list fields skip them, as recipients must
// accept them.
func nextElem(list []byte) (elem, rest []byte, more bool) {
	for i, c := range list {
		if c == ',' {
			return trimOWS(list[:i]), list[i+1:], true
		}
	}
	return trimOWS(list), nil, false
}

// parseDecimal parses 1*DIGIT into a non-negative int64, reporting false on
// an empty string, a non-digit or overflow.
func parseDecimal(b []byte) (int64, bool) {
	if len(b) == 0 {
		return 0, false
	}
	var n int64
	for _, c := range b {
		if c < '0' || c > '9' {
			return 0, false
		}
		d := int64(c - '0')
		if n > (maxInt64-d)/10 {
			return 0, false
		}
		n = n*10 + d
	}
	return n, true
}

const maxInt64 = 1<<63 - 1

// unhex returns the value of the hex digit c (RFC 5234 HEXDIG, either
// case), or -1.
func unhex(c byte) int64 {
	switch {
	case '0' <= c && c <= '9':
		return int64(c - '0')
	case 'a' <= c && c <= 'f':
		return int64(c - 'a' + 10)
	case 'A' <= c && c <= 'F':
		return int64(c - 'A' + 10)
	}
	return -1
}

package http1

// parseRequestLine parses the request-line (RFC 9112) into req, after
// skipping empty lines (which RFC 9112 asks servers to ignore), and returns
// the index past it:
//
//	request-line = method SP request-target SP HTTP-version CRLF
//
// Each element is rejected as soon as a byte in it is wrong, so a peer
// speaking another protocol (a TLS ClientHello, say) is refused at once.
func parseRequestLine(b []byte, req *Request, maxURI int) (int, error) {
	i, err := skipEmptyLines(b)
	if err != nil {
		return 0, err
	}
	j := i
	for j < len(b) && charClass[b[j]]&cToken != 0 {
		j++
	}
	switch {
	case j == len(b):
		return 0, errMore
	case b[j] != ' ' || j == i:
		return 0, errBadMethod // method = token (RFC 9110)
	}
	t := j + 1
	k := t
	for k < len(b) && charClass[b[k]]&cTarget != 0 {
		k++
	}
	switch {
	case k-t > maxURI:
		return 0, errURITooLong // RFC 9112: a target longer than any we parse is a 414
	case k == len(b):
		return 0, errMoreTarget
	case b[k] != ' ' || k == t:
		return 0, errBadTarget
	}
	minor, next, err := parseVersion(b, k+1)
	if err != nil {
		return 0, err
	}
	if next, err = endOfLine(b, next, errBadRequestLine); err != nil {
		return 0, err
	}
	req.Method, req.Target, req.ProtoMinor = b[i:j], b[t:k], minor
	return next, nil
}

// skipEmptyLines skips the CRLFs a server should ignore before a
// request-line (RFC 9112), such as a client's stray CRLF after a body.
func skipEmptyLines(b []byte) (int, error) {
	i := 0
	for i < len(b) && (b[i] == '\r' || b[i] == '\n') {
		next, err := endOfLine(b, i, errBareCR)
		if err != nil {
			return 0, err
		}
		i = next
	}
	return i, nil
}

// parseVersion parses an HTTP-version at b[i:] (RFC 9112):
//
//	HTTP-version = HTTP-name "/" DIGIT "." DIGIT ; HTTP-name = %s"HTTP"
//
// It returns the minor version and the index past the version. A major
// version other than 1 is a 505 (HTTP Version Not Supported, RFC 9110).
func parseVersion(b []byte, i int) (minor, next int, err error) {
	const pattern = "HTTP/0.0" // '0' stands for any DIGIT
	for k := 0; k < len(pattern); k++ {
		if i+k >= len(b) {
			return 0, 0, errMore
		}
		c, want := b[i+k], pattern[k]
		if want == '0' && (c < '0' || c > '9') || want != '0' && c != want {
			return 0, 0, errBadVersion
		}
	}
	if b[i+5] != '1' {
		return 0, 0, errVersion
	}
	return int(b[i+7] - '0'), i + len(pattern), nil
}

// parseStatusLine parses the status-line (RFC 9112) into r and returns
// the index past it:
//
//	status-line = HTTP-version SP status-code SP [ reason-phrase ] CRLF
//
// Leniently, the SP before an empty reason-phrase may be missing
// ("HTTP/1.1 200\r\n"), as many servers send it.
func parseStatusLine(b []byte, r *Response) (int, error) {
	minor, i, err := parseVersion(b, 0)
	if err != nil {
		return 0, err
	}
	code, i, err := parseStatusCode(b, i)
	if err != nil {
		return 0, err
	}
	switch {
	case i >= len(b):
		return 0, errMore
	case b[i] == ' ':
		i++
	case b[i] != '\r':
		return 0, errBadStatusLine
	}
	j := i
	for j < len(b) && charClass[b[j]]&cField != 0 {
		j++ // reason-phrase = 1*( HTAB / SP / VCHAR / obs-text )
	}
	next, err := endOfLine(b, j, errBadStatusLine)
	if err != nil {
		return 0, err
	}
	r.ProtoMinor, r.StatusCode, r.Reason = minor, code, b[i:j]
	return next, nil
}

// parseStatusCode parses SP status-code at b[i:]: three digits, 100 to 999,
// the range RFC 9110 gives status codes.
func parseStatusCode(b []byte, i int) (code, next int, err error) {
	if i >= len(b) {
		return 0, 0, errMore
	}
	if b[i] != ' ' {
		return 0, 0, errBadStatusLine
	}
	for k := i + 1; k < i+4; k++ {
		if k >= len(b) {
			return 0, 0, errMore
		}
		if b[k] < '0' || b[k] > '9' {
			return 0, 0, errBadStatusLine
		}
		code = code*10 + int(b[k]-'0')
	}
	if code < 100 {
		return 0, 0, errBadStatusLine
	}
	return code, i + 4, nil
}

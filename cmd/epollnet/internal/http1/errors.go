package http1

import "strconv"

// Error is a parse failure: the message is malformed, exceeds a Limit, or
// uses a feature this package does not implement. After an Error the
// connection's framing is lost, so the server answers Status (see
// AppendResponse) and closes the connection; a client discards the
// connection. Errors are shared values: do not modify them.
type Error struct {
	// Status is the HTTP status a server answers: 400 malformed, 413 body
	// too large, 414 URI too long, 431 header section too large, 501
	// unsupported transfer coding, 505 unsupported HTTP version. Response
	// parse errors use the same classes.
	Status int
	// Reason says what was wrong, for logs.
	Reason string
}

// Error returns "epollnet: http1: <status>: <reason>".
func (e *Error) Error() string {
	return "epollnet: http1: " + strconv.Itoa(e.Status) + ": " + e.Reason
}

func newError(status int, reason string) *Error { return &Error{status, reason} }

// Internal control-flow signals: the bytes so far are a valid prefix of a
// message; errMoreTarget also says the prefix ends inside the request-target,
// so a head that hits its size limit there is a 414, not a 431.
var (
	errMore       = newError(0, "need more data")
	errMoreTarget = newError(0, "need more data in request-target")
)

// Start-line errors: the request-line, status-line and HTTP-version of
// RFC 9112.
var (
	errBadRequestLine = newError(400, "malformed request-line")
	errBadMethod      = newError(400, "invalid method")
	errBadTarget      = newError(400, "invalid request-target")
	errBadVersion     = newError(400, "malformed HTTP version")
	errVersion        = newError(505, "unsupported HTTP major version")
	errURITooLong     = newError(414, "request-target too long")
	errBadStatusLine  = newError(400, "malformed status-line")
)

// Line and field errors: line endings and field lines (RFC 9112), field
// values (RFC 9110).
var (
	errBareLF         = newError(400, "bare LF line terminator")
	errBareCR         = newError(400, "bare CR")
	errObsFold        = newError(400, "line folding or whitespace-preceded field line")
	errSpaceInName    = newError(400, "whitespace between field name and colon")
	errBadFieldName   = newError(400, "invalid field name")
	errBadFieldValue  = newError(400, "invalid character in field value")
	errHeadTooLarge   = newError(431, "header section too large")
	errTooManyFields  = newError(431, "too many header fields")
	errTrailerTooBig  = newError(431, "trailer section too large")
	errTooManyTrailer = newError(431, "too many trailer fields")
)

// Semantic errors: Host and message body framing (RFC 9112).
var (
	errMissingHost   = newError(400, "missing Host in HTTP/1.1 request")
	errDuplicateHost = newError(400, "more than one Host field")
	errBadHost       = newError(400, "invalid Host")
	errBadLength     = newError(400, "invalid Content-Length")
	errDiffLength    = newError(400, "differing Content-Length values")
	errLengthAndTE   = newError(400, "both Content-Length and Transfer-Encoding")
	errTEHTTP10      = newError(400, "Transfer-Encoding in an HTTP/1.0 message")
	errBadTE         = newError(400, "malformed Transfer-Encoding")
	errChunkedNotEnd = newError(400, "chunked is not the final transfer coding, or is applied twice")
	errUnsupportedTE = newError(501, "unsupported transfer coding")
	errBodyTooLarge  = newError(413, "body too large")
)

// Chunked transfer coding errors (RFC 9112).
var (
	errBadChunkSize  = newError(400, "invalid chunk size")
	errChunkOverflow = newError(400, "chunk size overflows")
	errBadChunkExt   = newError(400, "invalid chunk extension")
	errChunkLineLong = newError(400, "chunk size line too long")
	errBadChunkEnd   = newError(400, "chunk data not followed by CRLF")
	errChunkOverhead = newError(400, "chunked framing overhead too large")
)

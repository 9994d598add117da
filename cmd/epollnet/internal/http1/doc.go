// Package http1 is an incremental, allocation-free HTTP/1.1 message parser
// and writer for handlers that run on an event loop: the parsers take the
// bytes a connection has buffered so far, and either report that more are
// needed without consuming anything, or return one complete message and how
// many bytes it used, or a typed *Error carrying the status to answer.
//
// The contract fits epollnet's OnData(c, in) (consumed int): a handler loops
// Parse over in, answering each complete request, and returns the total
// consumed; whatever is left is offered again with more data appended.
//
//	for {
//		n, err := p.Parse(in[done:], &req)
//		if err != nil { /* answer err.(*http1.Error).Status, close */ }
//		if n == 0 { return done } // need more data
//		/* answer req */
//		done += n
//	}
//
// # Strictness
//
// The parsers follow RFC 9112 (HTTP/1.1 message syntax) and RFC 9110 (HTTP
// semantics), and are strict wherever being lenient could let two parsers
// disagree about where a message ends (request smuggling, which RFC 9112
// warns about):
//
//   - Lines end in CRLF only. RFC 9112 lets a recipient accept a bare LF as
//     a line end; we do not, in requests, responses or chunked framing,
//     because a proxy in front of us that does not would frame the bytes
//     differently (the chunked bare-LF smuggling bugs, e.g. Go's
//     CVE-2025-22871). A bare CR is rejected (RFC 9112 allows rejecting it
//     or replacing it with SP).
//   - obs-fold (a field value continued on a line that begins with
//     whitespace), and any line beginning with whitespace after the
//     start-line, is rejected with 400, as RFC 9112 allows.
//   - Whitespace between a field name and the colon is rejected with 400,
//     as RFC 9112 requires. Field values may hold VCHAR, obs-text, SP and
//     HTAB; any other control byte (NUL, CR, LF, DEL, ...) is rejected, as
//     RFC 9110's field-value grammar has no place for it.
//   - A request with both Content-Length and Transfer-Encoding, differing
//     Content-Length values, a transfer coding other than chunked (501), or
//     chunked applied twice or not last is rejected: RFC 9112 makes each of
//     these a framing error or lets a server reject it.
//     Identical repeated Content-Length values ("5, 5") are accepted as one,
//     as RFC 9110 allows.
//   - An HTTP/1.1 request must carry exactly one valid Host, as RFC 9112
//     requires.
//   - The request-target must be printable ASCII (RFC 3986 characters); raw
//     UTF-8 in the target is rejected.
//
// Lenient points, each allowed by the RFCs: empty lines before a request-line
// are skipped (RFC 9112 asks servers to ignore at least one), HTTP/1.x with
// x > 1 is served as HTTP/1.1 (RFC 9110: a higher minor version is
// compatible), and a status-line may omit the SP before an empty reason
// phrase, as many servers do.
//
// # Limits and incremental cost
//
// Limits bounds the head, the field count and the body; exceeding one is a
// typed error (414, 431, 413) decided as soon as the offending bytes are
// seen, so a parser never waits for data beyond a limit. Chunked framing has
// fixed bounds of its own: 4 KiB per chunk-size line with its extensions,
// and Go's net/http budget for framing overhead (16 bytes per chunk plus
// twice its size, with 16 KiB of slack), which refuses extension padding but
// not small chunks.
//
// The head is re-scanned on every call, at most Limits.MaxHeaderBytes of it
// (picohttpparser without its last_len hint). A chunked body is decoded once:
// each call resumes after the chunks already decoded, so a body trickling in
// costs linear time. A body is returned whole, so the caller's buffer must
// be allowed to grow to the head plus Limits.MaxBodyBytes (and the framing,
// for chunked bodies) before the message completes.
//
// # Memory
//
// Method, Target, field names and values, Host and Content-Length bodies are
// sub-slices of the caller's buffer, valid until the caller consumes those
// bytes. Headers and Trailers reuse their backing arrays across calls, and a
// chunked body is decoded into a scratch buffer owned by the parser (dropped
// after a body over 64 KiB), so in steady state parsing allocates nothing.
package http1

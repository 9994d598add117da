// Package proxyproto parses and encodes the PROXY protocol header, versions
// 1 and 2, as specified by HAProxy's doc/proxy-protocol.txt (revision
// 2020/03/05). Comments state the rule of the specification that the code
// follows, quoting it where the wording matters.
//
// Parse is incremental and stateless: it is called with all the bytes
// received so far and reports ErrNeedMore while they are a valid prefix of
// a header, so a header split across reads works. Anything that does not
// match the specification exactly is an *Error, and the receiver must then
// abort the connection (the specification, on the version 1 line: "Any
// sequence which does not exactly match the protocol must be discarded and
// cause the receiver to abort the connection"). The result for a prefix is always ErrNeedMore or the result
// for the whole input: errors are decided left to right.
//
// Header.Append encodes a header, for tests and load generators that play
// the proxy's part.
package proxyproto

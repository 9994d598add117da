package proxyproto

import "errors"

// Error is a malformed or refused header. The connection must be aborted.
// Errors are shared values: compare them with errors.Is or ==.
type Error struct {
	// Reason says what was wrong, for logs.
	Reason string
}

// Error returns "epollnet: proxyproto: <reason>".
func (e *Error) Error() string { return "epollnet: proxyproto: " + e.Reason }

// ErrNeedMore is returned by Parse while the input is a valid but
// incomplete header: call it again when more bytes arrived.
var ErrNeedMore = errors.New("epollnet: proxyproto: need more data")

// Errors common to both versions, found while telling the version from the
// first bytes.
var (
	// ErrNotProxy: the input starts with neither "PROXY " nor the version 2
	// signature.
	ErrNotProxy = &Error{"not a PROXY protocol header"}
	// ErrVersion: a well-formed signature of a version the receiver was
	// configured not to accept.
	ErrVersion = &Error{"PROXY protocol version not accepted"}
)

// Version 1 (text line) errors.
var (
	// ErrV1TooLong: no CRLF within the first 107 bytes.
	ErrV1TooLong = &Error{"v1: no CRLF in the first 107 bytes"}
	// ErrV1CRLF: a CR or LF that is not part of the final CRLF.
	ErrV1CRLF = &Error{"v1: CR or LF outside the final CRLF"}
	// ErrV1Protocol: the protocol is not TCP4, TCP6 or UNKNOWN.
	ErrV1Protocol = &Error{"v1: protocol is not TCP4, TCP6 or UNKNOWN"}
	// ErrV1Fields: fields missing, extra, or not separated by exactly one
	// space.
	ErrV1Fields = &Error{"v1: fields not separated by exactly one space, or missing"}
	// ErrV1Address: an address that is not the canonical form of the
	// protocol's family.
	ErrV1Address = &Error{"v1: invalid address for the protocol"}
	// ErrV1Port: a port that is not a decimal in [0, 65535] without
	// leading zeroes.
	ErrV1Port = &Error{"v1: invalid port"}
)

// Version 2 (binary header) errors.
var (
	// ErrV2Version: the version nibble is not 2.
	ErrV2Version = &Error{"v2: version is not 2"}
	// ErrV2Command: the command is neither LOCAL nor PROXY.
	ErrV2Command = &Error{"v2: command is neither LOCAL nor PROXY"}
	// ErrV2Family: an unassigned address family or transport protocol.
	ErrV2Family = &Error{"v2: unassigned address family or transport protocol"}
	// ErrV2Length: a PROXY command whose length is shorter than the
	// addresses of its family.
	ErrV2Length = &Error{"v2: length shorter than the address block"}
	// ErrV2TLV: a TLV that does not fit in the header's length.
	ErrV2TLV = &Error{"v2: TLV exceeds the header"}
	// ErrV2TLVValue: a TLV with an invalid value: a CRC32C that is not 4
	// bytes or appears twice, a UNIQUE_ID over 128 bytes, a malformed SSL
	// TLV.
	ErrV2TLVValue = &Error{"v2: invalid TLV value"}
	// ErrV2Checksum: the CRC32C TLV does not match the header.
	ErrV2Checksum = &Error{"v2: CRC32C checksum mismatch"}
)

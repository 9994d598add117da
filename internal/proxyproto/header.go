package proxyproto

import (
	"encoding/binary"
	"net/netip"
)

// Versions is a set of protocol versions a receiver accepts.
type Versions uint8

// Protocol versions. The zero Versions means both.
const (
	V1   Versions = 1 << iota // the human-readable text line
	V2                        // the binary header
	Both = V1 | V2
)

// Command is a version 2 command: the low nibble of the header's 13th byte.
type Command uint8

// Commands. A version 1 header is always Proxy.
const (
	// Local: the proxy opened the connection itself (a health check); the
	// receiver keeps the real connection endpoints.
	Local Command = 0x0
	// Proxy: the connection is relayed on behalf of the client whose
	// endpoints the header carries.
	Proxy Command = 0x1
)

// Family is the address family: the high nibble of a version 2 header's
// 14th byte.
type Family uint8

// Address families.
const (
	Unspec Family = 0x0 // unknown or unsupported: use the real endpoints
	Inet   Family = 0x1 // IPv4, 4-byte addresses
	Inet6  Family = 0x2 // IPv6, 16-byte addresses
	Unix   Family = 0x3 // AF_UNIX, 108-byte paths
)

// Transport is the transport protocol: the low nibble of a version 2
// header's 14th byte.
type Transport uint8

// Transport protocols.
const (
	TransportUnspec Transport = 0x0 // unknown or unsupported
	Stream          Transport = 0x1 // SOCK_STREAM: TCP or UNIX_STREAM
	Dgram           Transport = 0x2 // SOCK_DGRAM: UDP or UNIX_DGRAM
)

// TLV types the specification registers for version 2 (PP2_TYPE_*), and
// the sub-types of the SSL TLV (PP2_SUBTYPE_SSL_*).
const (
	TypeALPN          = 0x01 // the negotiated application protocol
	TypeAuthority     = 0x02 // the host name (TLS SNI), UTF-8
	TypeCRC32C        = 0x03 // CRC32c of the whole header
	TypeNoop          = 0x04 // padding, ignored
	TypeUniqueID      = 0x05 // opaque connection ID, up to 128 bytes
	TypeSSL           = 0x20 // TLS information with sub-TLVs
	SubtypeSSLVersion = 0x21 // TLS version, US-ASCII
	SubtypeSSLCN      = 0x22 // client certificate's Common Name
	SubtypeSSLCipher  = 0x23 // cipher name
	SubtypeSSLSigAlg  = 0x24 // certificate signature algorithm
	SubtypeSSLKeyAlg  = 0x25 // certificate key algorithm
	TypeNetNS         = 0x30 // network namespace name, US-ASCII
)

// Bits of SSL.Client (PP2_CLIENT_SSL, PP2_CLIENT_CERT_CONN,
// PP2_CLIENT_CERT_SESS).
const (
	ClientSSL      = 0x01 // the client connected over SSL/TLS
	ClientCertConn = 0x02 // it presented a certificate on this connection
	ClientCertSess = 0x04 // it presented one at least once in the session
)

// MaxUniqueID is the longest UNIQUE_ID value the specification allows.
const MaxUniqueID = 128

// MaxV1 is the longest version 1 line, CRLF included: the specification's
// worst case, "PROXY UNKNOWN" followed by the longest IPv6 addresses and
// ports.
const MaxV1 = 107

// unixAddrLen is the size of one AF_UNIX address in a version 2 header.
const unixAddrLen = 108

// Header is a parsed PROXY protocol header.
type Header struct {
	// Version is 1 or 2.
	Version int
	// Command is Local or Proxy; version 1 headers are always Proxy.
	Command Command
	// Family and Transport describe the client's connection. A version 1
	// "UNKNOWN" line is Unspec with TransportUnspec.
	Family    Family
	Transport Transport
	// Source and Destination are the client's and the server's addresses
	// for Inet and Inet6 with the Proxy command; zero otherwise.
	Source, Destination netip.AddrPort
	// SourceUnix and DestinationUnix are the AF_UNIX paths for Unix with
	// the Proxy command. An abstract socket's name starts with '@'.
	SourceUnix, DestinationUnix string
	// TLVs are a version 2 header's type-length-value vectors, which follow
	// its address block, in order, including CRC32C and NOOP. Values are copies: they stay valid
	// after the input is reused.
	TLVs []TLV
}

// TLV is one type-length-value vector of a version 2 header.
type TLV struct {
	Type  byte
	Value []byte
}

// IsTCP reports whether the header carries a TCP client's endpoints
// (Source and Destination): a Proxy command for TCP over IPv4 or IPv6.
// Otherwise the receiver uses the connection's real endpoints, as the
// specification asks for a version 1 UNKNOWN line, a version 2 LOCAL command
// and a version 2 UNSPEC family or transport.
func (h *Header) IsTCP() bool {
	return h.Command == Proxy && h.Transport == Stream && (h.Family == Inet || h.Family == Inet6)
}

// Find returns the value of the first TLV of type typ.
func (h *Header) Find(typ byte) ([]byte, bool) { return find(h.TLVs, typ) }

func find(tlvs []TLV, typ byte) ([]byte, bool) {
	for _, t := range tlvs {
		if t.Type == typ {
			return t.Value, true
		}
	}
	return nil, false
}

// SSL is the value of a PP2_TYPE_SSL TLV.
type SSL struct {
	// Client is a set of ClientSSL, ClientCertConn and ClientCertSess.
	Client uint8
	// Verify is zero if the client presented a certificate and it was
	// verified successfully.
	Verify uint32
	// TLVs are the sub-TLVs: SubtypeSSLVersion, SubtypeSSLCN and so on.
	TLVs []TLV
}

// Find returns the value of the first sub-TLV of type typ.
func (s SSL) Find(typ byte) ([]byte, bool) { return find(s.TLVs, typ) }

// SSL returns the header's SSL TLV. Parse has validated it.
func (h *Header) SSL() (SSL, bool) {
	v, ok := h.Find(TypeSSL)
	if !ok {
		return SSL{}, false
	}
	s, err := parseSSL(v)
	return s, err == nil
}

// parseSSL decodes struct pp2_tlv_ssl: client (1 byte), verify (4 bytes)
// and sub-TLVs filling the rest exactly.
func parseSSL(v []byte) (SSL, error) {
	if len(v) < 5 {
		return SSL{}, ErrV2TLVValue
	}
	s := SSL{Client: v[0], Verify: binary.BigEndian.Uint32(v[1:5])}
	subs, err := parseTLVs(v[5:], nil, 0)
	if err != nil {
		return SSL{}, ErrV2TLVValue
	}
	s.TLVs = subs
	return s, nil
}

// addrLen returns the size of the address block of a family and transport
// pair (12 bytes for IPv4, 36 for IPv6, 216 for AF_UNIX: two addresses and,
// for IP, two ports), 0 for UNSPEC/UNSPEC, and -1 for the
// pairs whose layout the specification leaves open (a family without a
// transport or the reverse): their block is skipped unread.
func addrLen(f Family, t Transport) int {
	switch {
	case f == Unspec && t == TransportUnspec:
		return 0
	case f == Unspec || t == TransportUnspec:
		return -1
	case f == Inet:
		return 2*4 + 2*2
	case f == Inet6:
		return 2*16 + 2*2
	}
	return 2 * unixAddrLen
}

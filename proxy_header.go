package epollnet

import (
	"net"

	"github.com/epollnet/epollnet/internal/proxyproto"
)

// ProxyHeader is a parsed PROXY protocol header, as returned by
// Conn.ProxyHeader.
type ProxyHeader struct {
	// Version is 1 (the text line) or 2 (the binary header).
	Version int

	// Local is true for a version 2 LOCAL command: the proxy opened the
	// connection itself, typically for a health check, and the real
	// endpoints apply.
	Local bool

	// Network is the client connection's transport: "tcp4", "tcp6",
	// "udp4", "udp6", "unix" or "unixgram"; "" for a version 1 UNKNOWN, a
	// version 2 UNSPEC family or transport, and LOCAL.
	Network string

	// Source and Destination are the client's address and the address it
	// connected to: *net.TCPAddr, *net.UDPAddr or *net.UnixAddr following
	// Network, or nil when Network is "". For "tcp4" and "tcp6",
	// Conn.RemoteAddr returns Source; Conn.LocalAddr still reports the
	// real local address.
	Source, Destination net.Addr

	// Peer is the connection's real remote address: the proxy's.
	Peer net.Addr

	// TLVs are a version 2 header's type-length-value vectors, which follow
	// its address block, in order, CRC32C (already verified) and NOOP
	// included.
	TLVs []ProxyTLV
}

// ProxyTLV is a type-length-value vector of a version 2 header. Registered
// types: 0x01 ALPN, 0x02 AUTHORITY, 0x03 CRC32C, 0x04 NOOP,
// 0x05 UNIQUE_ID, 0x20 SSL, 0x30 NETNS; 0xE0-0xEF are for applications.
type ProxyTLV struct {
	Type  byte
	Value []byte
}

// ProxySSL is the content of a version 2 PP2_TYPE_SSL TLV: how
// the client reached the proxy over TLS.
type ProxySSL struct {
	// Client has bit 0x01 set if the client connected over SSL/TLS, 0x02
	// if it presented a certificate on this connection, 0x04 if it did at
	// least once in this TLS session.
	Client byte
	// Verify is 0 if the client presented a certificate and it was
	// verified successfully, non-zero otherwise.
	Verify uint32
	// Version, CommonName, Cipher, SigAlg and KeyAlg are the registered
	// sub-TLVs (0x21 to 0x25), "" when absent.
	Version, CommonName, Cipher, SigAlg, KeyAlg string
	// TLVs are all the sub-TLVs, registered or not.
	TLVs []ProxyTLV
}

// newProxyHeader converts a parsed header, copying the TLV values so that
// the caller may keep or modify them.
func newProxyHeader(h *proxyproto.Header, peer net.Addr) *ProxyHeader {
	ph := &ProxyHeader{Version: h.Version, Local: h.Command == proxyproto.Local, Peer: peer}
	if h.Command == proxyproto.Proxy {
		ph.Network, ph.Source, ph.Destination = proxyAddrs(h)
	}
	ph.TLVs = copyTLVs(h.TLVs)
	return ph
}

// proxyAddrs maps a header's family and transport to a network name and
// its addresses.
func proxyAddrs(h *proxyproto.Header) (network string, src, dst net.Addr) {
	stream := h.Transport == proxyproto.Stream
	switch {
	case h.Transport != proxyproto.Stream && h.Transport != proxyproto.Dgram:
		return "", nil, nil
	case h.Family == proxyproto.Inet || h.Family == proxyproto.Inet6:
		suffix := "4"
		if h.Family == proxyproto.Inet6 {
			suffix = "6"
		}
		if stream {
			return "tcp" + suffix, net.TCPAddrFromAddrPort(h.Source), net.TCPAddrFromAddrPort(h.Destination)
		}
		return "udp" + suffix, net.UDPAddrFromAddrPort(h.Source), net.UDPAddrFromAddrPort(h.Destination)
	case h.Family == proxyproto.Unix:
		network = "unixgram"
		if stream {
			network = "unix"
		}
		return network, &net.UnixAddr{Name: h.SourceUnix, Net: network},
			&net.UnixAddr{Name: h.DestinationUnix, Net: network}
	}
	return "", nil, nil
}

func copyTLVs(in []proxyproto.TLV) []ProxyTLV {
	if len(in) == 0 {
		return nil
	}
	n := 0
	for _, t := range in {
		n += len(t.Value)
	}
	buf := make([]byte, 0, n)
	out := make([]ProxyTLV, len(in))
	for i, t := range in {
		start := len(buf)
		buf = append(buf, t.Value...)
		out[i] = ProxyTLV{Type: t.Type, Value: buf[start:len(buf):len(buf)]}
	}
	return out
}

// TLV returns the value of the header's first TLV of type typ.
func (h *ProxyHeader) TLV(typ byte) ([]byte, bool) { return findTLV(h.TLVs, typ) }

func findTLV(tlvs []ProxyTLV, typ byte) ([]byte, bool) {
	for _, t := range tlvs {
		if t.Type == typ {
			return t.Value, true
		}
	}
	return nil, false
}

// ALPN returns the PP2_TYPE_ALPN TLV, the application protocol
// negotiated with the client, such as "h2", or "".
func (h *ProxyHeader) ALPN() string { return h.tlvString(proxyproto.TypeALPN) }

// Authority returns the PP2_TYPE_AUTHORITY TLV, the host name the
// client asked for (its TLS SNI), or "".
func (h *ProxyHeader) Authority() string { return h.tlvString(proxyproto.TypeAuthority) }

// UniqueID returns the PP2_TYPE_UNIQUE_ID TLV, the proxy's opaque
// ID of the connection (at most 128 bytes), or nil.
func (h *ProxyHeader) UniqueID() []byte {
	v, _ := h.TLV(proxyproto.TypeUniqueID)
	return v
}

// NetNS returns the PP2_TYPE_NETNS TLV, the name of the network
// namespace the proxy accepted the client in, or "".
func (h *ProxyHeader) NetNS() string { return h.tlvString(proxyproto.TypeNetNS) }

func (h *ProxyHeader) tlvString(typ byte) string {
	v, _ := h.TLV(typ)
	return string(v)
}

// SSL decodes the PP2_TYPE_SSL TLV. It reports false if the
// header has none; a malformed one was refused with the header.
func (h *ProxyHeader) SSL() (ProxySSL, bool) {
	ph := proxyproto.Header{}
	for _, t := range h.TLVs {
		if t.Type == proxyproto.TypeSSL {
			ph.TLVs = []proxyproto.TLV{{Type: t.Type, Value: t.Value}}
			break
		}
	}
	s, ok := ph.SSL()
	if !ok {
		return ProxySSL{}, false
	}
	ps := ProxySSL{Client: s.Client, Verify: s.Verify}
	for _, t := range s.TLVs {
		ps.TLVs = append(ps.TLVs, ProxyTLV{Type: t.Type, Value: t.Value})
	}
	sub := func(typ byte) string {
		v, _ := s.Find(typ)
		return string(v)
	}
	ps.Version = sub(proxyproto.SubtypeSSLVersion)
	ps.CommonName = sub(proxyproto.SubtypeSSLCN)
	ps.Cipher = sub(proxyproto.SubtypeSSLCipher)
	ps.SigAlg = sub(proxyproto.SubtypeSSLSigAlg)
	ps.KeyAlg = sub(proxyproto.SubtypeSSLKeyAlg)
	return ps, true
}

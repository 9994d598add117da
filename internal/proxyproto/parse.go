package proxyproto

import (
	"bytes"
	"encoding/binary"
	"hash/crc32"
	"net/netip"
)

// sigV1 starts a version 1 header: "PROXY" and exactly one space.
const sigV1 = "PROXY "

// sigV2 is the 12-byte signature that starts a version 2 header.
const sigV2 = "\r\n\r\n\x00\r\nQUIT\n"

// v2HeaderLen is the fixed part of a version 2 header: signature,
// version/command, family/transport and length.
const v2HeaderLen = 16

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// Parse parses the PROXY protocol header at the start of b, accepting the
// versions in v (0 means both). It returns the header and its length n, so
// that b[n:] is the first application data; ErrNeedMore if b is a valid
// prefix of a header; or an *Error. The result does not refer to b.
func Parse(b []byte, v Versions) (h *Header, n int, err error) {
	if v == 0 {
		v = Both
	}
	if len(b) == 0 {
		return nil, 0, ErrNeedMore
	}
	switch b[0] {
	case sigV1[0]:
		if err := matchSig(b, sigV1, v&V1 != 0); err != nil {
			return nil, 0, err
		}
		return parseV1(b)
	case sigV2[0]:
		if err := matchSig(b, sigV2, v&V2 != 0); err != nil {
			return nil, 0, err
		}
		return parseV2(b)
	}
	return nil, 0, ErrNotProxy
}

// matchSig checks the signature byte by byte, so that a wrong first bytes
// are refused at once rather than after a timeout.
func matchSig(b []byte, sig string, accepted bool) error {
	k := min(len(b), len(sig))
	if string(b[:k]) != sig[:k] {
		return ErrNotProxy
	}
	if k < len(sig) {
		return ErrNeedMore
	}
	if !accepted {
		return ErrVersion
	}
	return nil
}

// parseV1 finds the CRLF, then decodes the line, as the specification
// asks of version 1 receivers: "The receiver must
// wait for the CRLF sequence before starting to decode the addresses".
func parseV1(b []byte) (*Header, int, error) {
	for i := len(sigV1); i < len(b) && i < MaxV1; i++ {
		switch b[i] {
		case '\n':
			// "The receiver must not tolerate a single CR or LF character
			// to end the line when a complete CRLF sequence is expected."
			return nil, 0, ErrV1CRLF
		case '\r':
			switch {
			case i+2 > MaxV1:
				return nil, 0, ErrV1TooLong
			case i+1 == len(b):
				return nil, 0, ErrNeedMore
			case b[i+1] != '\n':
				return nil, 0, ErrV1CRLF
			}
			h, err := parseV1Line(b[len(sigV1):i])
			if err != nil {
				return nil, 0, err
			}
			return h, i + 2, nil
		}
	}
	if len(b) >= MaxV1 {
		// "If the CRLF sequence is not found in the first 107 characters,
		// the receiver should declare the line invalid."
		return nil, 0, ErrV1TooLong
	}
	return nil, 0, ErrNeedMore
}

// parseV1Line decodes what follows "PROXY " up to the CRLF.
func parseV1Line(line []byte) (*Header, error) {
	h := &Header{Version: 1, Command: Proxy}
	proto, rest, more := cutSpace(line)
	switch string(proto) {
	case "UNKNOWN":
		// "the receiver must ignore anything presented before the CRLF"
		return h, nil
	case "TCP4":
		h.Family = Inet
	case "TCP6":
		h.Family = Inet6
	default:
		return nil, ErrV1Protocol
	}
	h.Transport = Stream
	var f [4][]byte
	for i := range f {
		if !more {
			return nil, ErrV1Fields
		}
		f[i], rest, more = cutSpace(rest)
		if len(f[i]) == 0 {
			return nil, ErrV1Fields // two spaces in a row, or a trailing one
		}
	}
	if more {
		return nil, ErrV1Fields
	}
	src, ok1 := parseV1Addr(f[0], h.Family)
	dst, ok2 := parseV1Addr(f[1], h.Family)
	if !ok1 || !ok2 {
		return nil, ErrV1Address
	}
	sp, ok1 := parseV1Port(f[2])
	dp, ok2 := parseV1Port(f[3])
	if !ok1 || !ok2 {
		return nil, ErrV1Port
	}
	h.Source = netip.AddrPortFrom(src, sp)
	h.Destination = netip.AddrPortFrom(dst, dp)
	return h, nil
}

// cutSpace splits b at its first space; more reports whether there was one.
func cutSpace(b []byte) (field, rest []byte, more bool) {
	if i := bytes.IndexByte(b, ' '); i >= 0 {
		return b[:i], b[i+1:], true
	}
	return b, nil, false
}

// parseV1Addr parses an address of the line's family. IPv4 is "exactly 4
// integers in the range [0..255] inclusive written in decimal [...]
// Heading zeroes are not permitted". IPv6 is what inet_pton(3) accepts,
// without a zone, since senders (HAProxy among them) print IPv4-mapped
// addresses as "::ffff:a.b.c.d".
func parseV1Addr(b []byte, f Family) (netip.Addr, bool) {
	if f == Inet {
		return parseIPv4(b)
	}
	if len(b) > 45 { // longer than any IPv6 text form: refuse before converting
		return netip.Addr{}, false
	}
	a, err := netip.ParseAddr(string(b))
	return a, err == nil && a.Is6() && a.Zone() == ""
}

// parseIPv4 parses a dotted quad strictly, without allocating.
func parseIPv4(b []byte) (netip.Addr, bool) {
	var ip [4]byte
	for i := range ip {
		if i > 0 {
			if len(b) == 0 || b[0] != '.' {
				return netip.Addr{}, false
			}
			b = b[1:]
		}
		n, digits := 0, 0
		for digits < len(b) && digits < 4 && b[digits] >= '0' && b[digits] <= '9' {
			n = n*10 + int(b[digits]-'0')
			digits++
		}
		if digits == 0 || n > 255 || (digits > 1 && b[0] == '0') {
			return netip.Addr{}, false
		}
		ip[i], b = byte(n), b[digits:]
	}
	return netip.AddrFrom4(ip), len(b) == 0
}

// parseV1Port parses a decimal port in [0, 65535] without heading zeroes.
func parseV1Port(b []byte) (uint16, bool) {
	if len(b) == 0 || len(b) > 5 || (b[0] == '0' && len(b) > 1) {
		return 0, false
	}
	n := 0
	for _, c := range b {
		if c < '0' || c > '9' {
			return 0, false
		}
		n = n*10 + int(c-'0')
	}
	return uint16(n), n <= 65535
}

// parseV2 decodes a binary (version 2) header whose signature matched. Each
// field is checked as soon as it has arrived.
func parseV2(b []byte) (*Header, int, error) {
	if len(b) < 13 {
		return nil, 0, ErrNeedMore
	}
	// "The highest four bits contains the version. [...] the receiver must
	// only accept this value." "Receivers must drop connections presenting
	// unexpected values here" (the command).
	if b[12]>>4 != 2 {
		return nil, 0, ErrV2Version
	}
	cmd := Command(b[12] & 0xF)
	if cmd != Local && cmd != Proxy {
		return nil, 0, ErrV2Command
	}
	if len(b) < 14 {
		return nil, 0, ErrNeedMore
	}
	fam, tr := Family(b[13]>>4), Transport(b[13]&0xF)
	if fam > Unix || tr > Dgram {
		return nil, 0, ErrV2Family // "must be rejected as invalid by receivers"
	}
	if len(b) < v2HeaderLen {
		return nil, 0, ErrNeedMore
	}
	length := int(binary.BigEndian.Uint16(b[14:16]))
	alen := addrLen(fam, tr)
	if cmd == Proxy && length < alen {
		return nil, 0, ErrV2Length
	}
	total := v2HeaderLen + length
	if len(b) < total {
		return nil, 0, ErrNeedMore
	}
	h := &Header{Version: 2, Command: cmd, Family: fam, Transport: tr}
	if alen < 0 || length < alen {
		// A block of unspecified layout, or a LOCAL header without the
		// addresses: "Receivers MUST always consider this field to skip
		// the appropriate number of bytes".
		return h, total, nil
	}
	if cmd == Proxy {
		h.setAddrs(b[v2HeaderLen : v2HeaderLen+alen])
	}
	if total > v2HeaderLen+alen {
		// The values are sliced from a copy, so that they outlive b.
		tlvs := append([]byte(nil), b[v2HeaderLen+alen:total]...)
		var err error
		if h.TLVs, err = parseTLVs(tlvs, b[:total], v2HeaderLen+alen); err != nil {
			return nil, 0, err
		}
	}
	return h, total, nil
}

// setAddrs decodes the address block of a Proxy command (the
// specification's union proxy_addr): source then destination address, then
// source and
// destination port, in network byte order.
func (h *Header) setAddrs(a []byte) {
	switch h.Family {
	case Inet:
		h.Source = netip.AddrPortFrom(netip.AddrFrom4([4]byte(a[0:4])), binary.BigEndian.Uint16(a[8:10]))
		h.Destination = netip.AddrPortFrom(netip.AddrFrom4([4]byte(a[4:8])), binary.BigEndian.Uint16(a[10:12]))
	case Inet6:
		h.Source = netip.AddrPortFrom(netip.AddrFrom16([16]byte(a[0:16])), binary.BigEndian.Uint16(a[32:34]))
		h.Destination = netip.AddrPortFrom(netip.AddrFrom16([16]byte(a[16:32])), binary.BigEndian.Uint16(a[34:36]))
	case Unix:
		h.SourceUnix = unixName(a[:unixAddrLen])
		h.DestinationUnix = unixName(a[unixAddrLen:])
	}
}

// unixName turns a sun_path into a name: up to the first NUL, or, for an
// abstract socket (leading NUL), "@" and the name up to the next NUL.
func unixName(p []byte) string {
	prefix := ""
	if len(p) > 0 && p[0] == 0 {
		prefix, p = "@", p[1:]
		if bytes.IndexByte(p, 0) == 0 || len(p) == 0 {
			return "" // all zeroes: unnamed
		}
	}
	if i := bytes.IndexByte(p, 0); i >= 0 {
		p = p[:i]
	}
	return prefix + string(p)
}

// parseTLVs splits b into TLVs (the specification's struct pp2_tlv: a
// type byte, a 2-byte big-endian length, the value); the values alias b.
// With hdr, the whole header, in which b is a copy of the bytes from base
// on, the registered types are validated and a CRC32C is verified. Without
// it (SSL sub-TLVs) only the framing is.
func parseTLVs(b, hdr []byte, base int) ([]TLV, error) {
	var tlvs []TLV
	crcSeen := false
	for off := 0; off < len(b); {
		if len(b)-off < 3 {
			return nil, ErrV2TLV
		}
		typ, n := b[off], int(binary.BigEndian.Uint16(b[off+1:off+3]))
		start := off + 3
		if n > len(b)-start {
			return nil, ErrV2TLV
		}
		v := b[start : start+n : start+n]
		if hdr != nil {
			if err := checkTLV(typ, v, crcSeen); err != nil {
				return nil, err
			}
			if typ == TypeCRC32C {
				crcSeen = true
				if !checkCRC(hdr, base+start, binary.BigEndian.Uint32(v)) {
					return nil, ErrV2Checksum
				}
			}
		}
		tlvs = append(tlvs, TLV{Type: typ, Value: v})
		off = start + n
	}
	return tlvs, nil
}

// checkTLV validates the value of a registered TLV type: a CRC32C is 4
// bytes and appears once, a UNIQUE_ID has at most 128 bytes, an SSL TLV is
// a pp2_tlv_ssl whose sub-TLVs fill it.
func checkTLV(typ byte, v []byte, crcSeen bool) error {
	switch typ {
	case TypeCRC32C:
		if len(v) != 4 || crcSeen {
			return ErrV2TLVValue
		}
	case TypeUniqueID:
		if len(v) > MaxUniqueID {
			return ErrV2TLVValue
		}
	case TypeSSL:
		if _, err := parseSSL(v); err != nil {
			return err
		}
	}
	return nil
}

// checkCRC verifies a CRC32C TLV whose 4-byte value is at hdr[at:]: the
// checksum of the whole header with that field zeroed (CRC-32C, the
// Castagnoli polynomial, as SCTP uses it in RFC 4960, appendix B), computed
// without modifying hdr.
func checkCRC(hdr []byte, at int, want uint32) bool {
	var zero [4]byte
	c := crc32.Update(0, castagnoli, hdr[:at])
	c = crc32.Update(c, castagnoli, zero[:])
	c = crc32.Update(c, castagnoli, hdr[at+4:])
	return c == want
}

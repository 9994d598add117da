package proxyproto

import (
	"encoding/binary"
	"errors"
	"hash/crc32"
	"strconv"
	"strings"
)

// Append appends h's encoding to dst: the version 1 line when h.Version is
// 1, the version 2 binary header when it is 2. The value of a TypeCRC32C
// TLV is computed over the whole header; whatever it held is ignored. It
// fails for what
// the version cannot express, so that Parse accepts whatever Append
// produced, with an equal Header.
func (h *Header) Append(dst []byte) ([]byte, error) {
	switch h.Version {
	case 1:
		return h.appendV1(dst)
	case 2:
		return h.appendV2(dst)
	}
	return dst, errors.New("epollnet: proxyproto: Header.Version is neither 1 nor 2")
}

// appendV1 writes "PROXY TCP4|TCP6 src dst sport dport\r\n", or the short
// form "PROXY UNKNOWN\r\n".
func (h *Header) appendV1(dst []byte) ([]byte, error) {
	if h.Command != Proxy || len(h.TLVs) > 0 || h.SourceUnix != "" || h.DestinationUnix != "" {
		return dst, errors.New("epollnet: proxyproto: a v1 header has no LOCAL command, TLVs or Unix addresses")
	}
	var proto string
	src, dst2 := h.Source.Addr(), h.Destination.Addr()
	switch {
	case h.Family == Unspec && h.Transport == TransportUnspec && !h.Source.IsValid() && !h.Destination.IsValid():
		return append(dst, "PROXY UNKNOWN\r\n"...), nil
	case h.Transport != Stream:
	case h.Family == Inet && src.Is4() && dst2.Is4():
		proto = "TCP4"
	case h.Family == Inet6 && src.Is6() && dst2.Is6() && src.Zone() == "" && dst2.Zone() == "":
		proto = "TCP6"
	}
	if proto == "" {
		return dst, errors.New("epollnet: proxyproto: a v1 header needs TCP over IPv4 or IPv6 addresses, or UNKNOWN")
	}
	dst = append(dst, "PROXY "...)
	dst = append(dst, proto...)
	dst = append(dst, ' ')
	dst = src.AppendTo(dst)
	dst = append(dst, ' ')
	dst = dst2.AppendTo(dst)
	dst = append(dst, ' ')
	dst = strconv.AppendUint(dst, uint64(h.Source.Port()), 10)
	dst = append(dst, ' ')
	dst = strconv.AppendUint(dst, uint64(h.Destination.Port()), 10)
	return append(dst, "\r\n"...), nil
}

// appendV2 writes the 16-byte header, the address block (zeroed for a
// LOCAL command), and the TLVs.
func (h *Header) appendV2(dst []byte) ([]byte, error) {
	if h.Command > Proxy || h.Family > Unix || h.Transport > Dgram {
		return dst, errors.New("epollnet: proxyproto: invalid command, family or transport")
	}
	alen := addrLen(h.Family, h.Transport)
	if alen < 0 && len(h.TLVs) > 0 {
		return dst, errors.New("epollnet: proxyproto: TLVs need a family and transport with a defined address block")
	}
	alen = max(alen, 0)
	start := len(dst)
	dst = append(dst, sigV2...)
	dst = append(dst, 0x20|byte(h.Command), byte(h.Family)<<4|byte(h.Transport), 0, 0)
	block := len(dst)
	dst = append(dst, make([]byte, alen)...)
	if h.Command == Proxy && alen > 0 {
		if err := h.putAddrs(dst[block:]); err != nil {
			return dst[:start], err
		}
	} else if h.Source.IsValid() || h.Destination.IsValid() || h.SourceUnix != "" || h.DestinationUnix != "" {
		return dst[:start], errors.New("epollnet: proxyproto: addresses given that the header cannot carry")
	}
	crcAt := -1
	for _, t := range h.TLVs {
		if len(t.Value) > 0xFFFF {
			return dst[:start], errors.New("epollnet: proxyproto: TLV value over 65535 bytes")
		}
		if t.Type == TypeCRC32C {
			if crcAt >= 0 {
				return dst[:start], errors.New("epollnet: proxyproto: more than one CRC32C TLV")
			}
			crcAt = len(dst) + 3
			dst = append(dst, TypeCRC32C, 0, 4, 0, 0, 0, 0)
			continue
		}
		if err := checkTLV(t.Type, t.Value, false); err != nil {
			return dst[:start], err
		}
		dst = append(dst, t.Type, 0, 0)
		binary.BigEndian.PutUint16(dst[len(dst)-2:], uint16(len(t.Value)))
		dst = append(dst, t.Value...)
	}
	length := len(dst) - start - v2HeaderLen
	if length > 0xFFFF {
		return dst[:start], errors.New("epollnet: proxyproto: v2 header over 65551 bytes")
	}
	binary.BigEndian.PutUint16(dst[start+14:], uint16(length))
	if crcAt >= 0 {
		binary.BigEndian.PutUint32(dst[crcAt:], crc32.Checksum(dst[start:], castagnoli))
	}
	return dst, nil
}

// putAddrs fills the address block of a Proxy command.
func (h *Header) putAddrs(a []byte) error {
	src, dst := h.Source.Addr(), h.Destination.Addr()
	switch {
	case h.Family == Inet && src.Is4() && dst.Is4():
		s, d := src.As4(), dst.As4()
		copy(a[0:], s[:])
		copy(a[4:], d[:])
		binary.BigEndian.PutUint16(a[8:], h.Source.Port())
		binary.BigEndian.PutUint16(a[10:], h.Destination.Port())
	case h.Family == Inet6 && src.Is6() && dst.Is6() && src.Zone() == "" && dst.Zone() == "":
		s, d := src.As16(), dst.As16()
		copy(a[0:], s[:])
		copy(a[16:], d[:])
		binary.BigEndian.PutUint16(a[32:], h.Source.Port())
		binary.BigEndian.PutUint16(a[34:], h.Destination.Port())
	case h.Family == Unix && validUnix(h.SourceUnix) && validUnix(h.DestinationUnix):
		putUnix(a[:unixAddrLen], h.SourceUnix)
		putUnix(a[unixAddrLen:], h.DestinationUnix)
	default:
		return errors.New("epollnet: proxyproto: addresses do not match the family")
	}
	return nil
}

// validUnix reports whether a name survives the trip through a sun_path.
func validUnix(name string) bool {
	return len(name) <= unixAddrLen && name != "@" && strings.IndexByte(name, 0) < 0
}

// putUnix writes a name as a sun_path: "@name" is an abstract socket.
func putUnix(p []byte, name string) {
	if len(name) > 0 && name[0] == '@' {
		p[0] = 0
		copy(p[1:], name[1:])
		return
	}
	copy(p, name)
}

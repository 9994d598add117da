package proxyproto

import (
	"bytes"
	"encoding/binary"
	"errors"
	"hash/crc32"
	"net/netip"
	"reflect"
	"strings"
	"testing"
)

var (
	ip4a = netip.MustParseAddrPort("192.168.0.1:56324")
	ip4b = netip.MustParseAddrPort("192.168.0.11:443")
	ip6a = netip.MustParseAddrPort("[2001:db8::1]:1")
	ip6b = netip.MustParseAddrPort("[::1]:65535")
)

// v2 builds a version 2 header from its 13th and 14th bytes and a body,
// with the length field set to the body's length.
func v2(verCmd, famTr byte, body ...[]byte) []byte {
	b := append([]byte(sigV2), verCmd, famTr, 0, 0)
	for _, p := range body {
		b = append(b, p...)
	}
	binary.BigEndian.PutUint16(b[14:], uint16(len(b)-v2HeaderLen))
	return b
}

// tlv encodes one TLV.
func tlv(typ byte, v []byte) []byte {
	return append([]byte{typ, byte(len(v) >> 8), byte(len(v))}, v...)
}

func addr4(src, dst netip.AddrPort) []byte {
	b := make([]byte, 12)
	s, d := src.Addr().As4(), dst.Addr().As4()
	copy(b, s[:])
	copy(b[4:], d[:])
	binary.BigEndian.PutUint16(b[8:], src.Port())
	binary.BigEndian.PutUint16(b[10:], dst.Port())
	return b
}

func addr6(src, dst netip.AddrPort) []byte {
	b := make([]byte, 36)
	s, d := src.Addr().As16(), dst.Addr().As16()
	copy(b, s[:])
	copy(b[16:], d[:])
	binary.BigEndian.PutUint16(b[32:], src.Port())
	binary.BigEndian.PutUint16(b[34:], dst.Port())
	return b
}

func unixPair(src, dst string) []byte {
	b := make([]byte, 2*unixAddrLen)
	putUnix(b[:unixAddrLen], src)
	putUnix(b[unixAddrLen:], dst)
	return b
}

// withCRC appends a CRC32C TLV to a v2 header and fills it in.
func withCRC(b []byte) []byte {
	b = append(append([]byte(nil), b...), tlv(TypeCRC32C, []byte{0, 0, 0, 0})...)
	binary.BigEndian.PutUint16(b[14:], uint16(len(b)-v2HeaderLen))
	c := crcOf(b)
	binary.BigEndian.PutUint32(b[len(b)-4:], c)
	return b
}

func crcOf(b []byte) uint32 {
	z := append([]byte(nil), b...)
	copy(z[len(z)-4:], []byte{0, 0, 0, 0})
	return crc32Castagnoli(z)
}

type validCase struct {
	name string
	in   []byte
	want Header
}

var maxV1 = "PROXY UNKNOWN ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff 65535 65535\r\n"

var uniqueID = bytes.Repeat([]byte{0xAB}, MaxUniqueID)

var sslTLV = tlv(TypeSSL, append([]byte{ClientSSL | ClientCertConn, 0, 0, 0, 0},
	append(tlv(SubtypeSSLVersion, []byte("TLSv1.3")), tlv(SubtypeSSLCN, []byte("client.example"))...)...))

func validCases() []validCase {
	tcp4 := Header{Version: 1, Command: Proxy, Family: Inet, Transport: Stream, Source: ip4a, Destination: ip4b}
	tcp6 := Header{Version: 1, Command: Proxy, Family: Inet6, Transport: Stream, Source: ip6a, Destination: ip6b}
	unknown := Header{Version: 1, Command: Proxy}
	v2tcp4 := Header{Version: 2, Command: Proxy, Family: Inet, Transport: Stream, Source: ip4a, Destination: ip4b}
	v2tcp6 := Header{Version: 2, Command: Proxy, Family: Inet6, Transport: Stream, Source: ip6a, Destination: ip6b}
	withTLVs := v2tcp4
	withTLVs.TLVs = []TLV{{TypeALPN, []byte("h2")}, {TypeAuthority, []byte("example.com")},
		{TypeUniqueID, uniqueID}, {TypeNoop, []byte{}}, {TypeNetNS, []byte("blue")},
		{TypeSSL, sslTLV[3:]}, {0xE0, []byte{1, 2, 3}}}
	mapped := netip.MustParseAddrPort("[::ffff:10.0.0.1]:80")
	long6 := netip.MustParseAddrPort("[ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff]:65535")
	return []validCase{
		{"v1 TCP4", []byte("PROXY TCP4 192.168.0.1 192.168.0.11 56324 443\r\n"), tcp4},
		{"v1 TCP6", []byte("PROXY TCP6 2001:db8::1 ::1 1 65535\r\n"), tcp6},
		{"v1 TCP6 upper case", []byte("PROXY TCP6 2001:DB8:0:0:0:0:0:1 ::1 1 65535\r\n"), tcp6},
		{"v1 TCP6 longest", []byte("PROXY TCP6 ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff 65535 65535\r\n"),
			Header{Version: 1, Command: Proxy, Family: Inet6, Transport: Stream, Source: long6, Destination: long6}},
		{"v1 TCP6 IPv4-mapped", []byte("PROXY TCP6 ::ffff:10.0.0.1 ::ffff:10.0.0.1 80 80\r\n"),
			Header{Version: 1, Command: Proxy, Family: Inet6, Transport: Stream, Source: mapped, Destination: mapped}},
		{"v1 ports 0", []byte("PROXY TCP4 0.0.0.0 255.255.255.255 0 0\r\n"), Header{Version: 1, Command: Proxy,
			Family: Inet, Transport: Stream, Source: netip.MustParseAddrPort("0.0.0.0:0"),
			Destination: netip.MustParseAddrPort("255.255.255.255:0")}},
		{"v1 UNKNOWN short", []byte("PROXY UNKNOWN\r\n"), unknown},
		{"v1 UNKNOWN 107 bytes", []byte(maxV1), unknown},
		{"v1 UNKNOWN anything", []byte("PROXY UNKNOWN \x00\xff junk  \r\n"), unknown},
		{"v2 PROXY TCP4", v2(0x21, 0x11, addr4(ip4a, ip4b)), v2tcp4},
		{"v2 PROXY TCP6", v2(0x21, 0x21, addr6(ip6a, ip6b)), v2tcp6},
		{"v2 PROXY UDP4", v2(0x21, 0x12, addr4(ip4a, ip4b)), Header{Version: 2, Command: Proxy, Family: Inet,
			Transport: Dgram, Source: ip4a, Destination: ip4b}},
		{"v2 PROXY UNIX", v2(0x21, 0x31, unixPair("/run/client.sock", "@abstract")), Header{Version: 2,
			Command: Proxy, Family: Unix, Transport: Stream, SourceUnix: "/run/client.sock", DestinationUnix: "@abstract"}},
		{"v2 PROXY UNIX unnamed", v2(0x21, 0x32, unixPair("", "")), Header{Version: 2, Command: Proxy,
			Family: Unix, Transport: Dgram}},
		{"v2 LOCAL UNSPEC", v2(0x20, 0x00), Header{Version: 2, Command: Local}},
		{"v2 LOCAL with addresses", v2(0x20, 0x11, addr4(ip4a, ip4b)), Header{Version: 2, Command: Local,
			Family: Inet, Transport: Stream}},
		{"v2 LOCAL family without addresses", v2(0x20, 0x21), Header{Version: 2, Command: Local,
			Family: Inet6, Transport: Stream}},
		{"v2 LOCAL with TLV", v2(0x20, 0x00, tlv(TypeUniqueID, []byte("id"))), Header{Version: 2,
			Command: Local, TLVs: []TLV{{TypeUniqueID, []byte("id")}}}},
		{"v2 PROXY UNSPEC", v2(0x21, 0x00), Header{Version: 2, Command: Proxy}},
		{"v2 PROXY family, transport UNSPEC: skipped", v2(0x21, 0x10, []byte("opaque\x00\x01")),
			Header{Version: 2, Command: Proxy, Family: Inet}},
		{"v2 TLVs", v2(0x21, 0x11, addr4(ip4a, ip4b), tlv(TypeALPN, []byte("h2")),
			tlv(TypeAuthority, []byte("example.com")), tlv(TypeUniqueID, uniqueID), tlv(TypeNoop, nil),
			tlv(TypeNetNS, []byte("blue")), sslTLV, tlv(0xE0, []byte{1, 2, 3})), withTLVs},
	}
}

// crcCase returns a v2 header with a valid CRC32C and its Header.
func crcCase() ([]byte, Header) {
	b := withCRC(v2(0x21, 0x11, addr4(ip4a, ip4b), tlv(TypeALPN, []byte("h2"))))
	h := Header{Version: 2, Command: Proxy, Family: Inet, Transport: Stream, Source: ip4a, Destination: ip4b,
		TLVs: []TLV{{TypeALPN, []byte("h2")}, {TypeCRC32C, b[len(b)-4:]}}}
	return b, h
}

func TestParseValid(t *testing.T) {
	cases := validCases()
	b, h := crcCase()
	cases = append(cases, validCase{"v2 CRC32C", b, h})
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			in := append(append([]byte(nil), tc.in...), "GET / HTTP/1.1\r\n"...)
			got, n, err := Parse(in, Both)
			if err != nil {
				t.Fatalf("Parse: %v", err)
			}
			if n != len(tc.in) {
				t.Fatalf("n = %d, want %d", n, len(tc.in))
			}
			if !reflect.DeepEqual(*got, tc.want) {
				t.Fatalf("header\n got %+v\nwant %+v", *got, tc.want)
			}
			for i := range in {
				in[i] = 0xEE // the header must not refer to the input
			}
			if !reflect.DeepEqual(*got, tc.want) {
				t.Fatalf("header changed with its input: %+v", *got)
			}
		})
	}
}

type invalidCase struct {
	name string
	in   []byte
	v    Versions
	want error
}

func invalidCases() []invalidCase {
	good4 := addr4(ip4a, ip4b)
	crcBad, _ := crcCase()
	crcBad[len(crcBad)-1] ^= 1
	crcBody, _ := crcCase()
	crcBody[v2HeaderLen] ^= 1 // the source address, covered by the checksum
	s := func(s string) []byte { return []byte(s) }
	return []invalidCase{
		{"HTTP request", s("GET / HTTP/1.1\r\n"), Both, ErrNotProxy},
		{"TLS hello", []byte{0x16, 0x03, 0x01, 0x00}, Both, ErrNotProxy},
		{"lower case", s("proxy TCP4 1.2.3.4 5.6.7.8 1 2\r\n"), Both, ErrNotProxy},
		{"PROXY without space", s("PROXYTCP4 1.2.3.4\r\n"), Both, ErrNotProxy},
		{"v2 signature wrong", append(s("\r\n\r\n\x00\r\nQUIX\n"), 0x21, 0x11, 0, 0), Both, ErrNotProxy},
		{"v1 not accepted", s("PROXY UNKNOWN\r\n"), V2, ErrVersion},
		{"v2 not accepted", v2(0x21, 0x00), V1, ErrVersion},
		{"v1 bare LF", s("PROXY TCP4 1.2.3.4 5.6.7.8 1 2\n"), Both, ErrV1CRLF},
		{"v1 CR without LF", s("PROXY TCP4 1.2.3.4 5.6.7.8 1 2\rX"), Both, ErrV1CRLF},
		{"v1 CR inside", s("PROXY TCP4 1.2.3.4\r5.6.7.8 1 2\r\n"), Both, ErrV1CRLF},
		{"v1 LF inside UNKNOWN", s("PROXY UNKNOWN a\nb\r\n"), Both, ErrV1CRLF},
		{"v1 107 bytes without CRLF", s("PROXY UNKNOWN " + strings.Repeat("x", 93)), Both, ErrV1TooLong},
		{"v1 CRLF at 108", s("PROXY UNKNOWN " + strings.Repeat("x", 92) + "\r\n"), Both, ErrV1TooLong},
		{"v1 TCP5", s("PROXY TCP5 1.2.3.4 5.6.7.8 1 2\r\n"), Both, ErrV1Protocol},
		{"v1 tcp4", s("PROXY tcp4 1.2.3.4 5.6.7.8 1 2\r\n"), Both, ErrV1Protocol},
		{"v1 UNKNOWNX", s("PROXY UNKNOWNX\r\n"), Both, ErrV1Protocol},
		{"v1 empty protocol", s("PROXY \r\n"), Both, ErrV1Protocol},
		{"v1 UDP4", s("PROXY UDP4 1.2.3.4 5.6.7.8 1 2\r\n"), Both, ErrV1Protocol},
		{"v1 TCP4 alone", s("PROXY TCP4\r\n"), Both, ErrV1Fields},
		{"v1 double space", s("PROXY TCP4  1.2.3.4 5.6.7.8 1 2\r\n"), Both, ErrV1Fields},
		{"v1 trailing space", s("PROXY TCP4 1.2.3.4 5.6.7.8 1 2 \r\n"), Both, ErrV1Fields},
		{"v1 missing port", s("PROXY TCP4 1.2.3.4 5.6.7.8 1\r\n"), Both, ErrV1Fields},
		{"v1 extra field", s("PROXY TCP4 1.2.3.4 5.6.7.8 1 2 3\r\n"), Both, ErrV1Fields},
		{"v1 tab", s("PROXY TCP4 1.2.3.4\t5.6.7.8 1 2\r\n"), Both, ErrV1Fields},
		{"v1 leading zero in IPv4", s("PROXY TCP4 01.2.3.4 5.6.7.8 1 2\r\n"), Both, ErrV1Address},
		{"v1 IPv4 octet 256", s("PROXY TCP4 1.2.3.256 5.6.7.8 1 2\r\n"), Both, ErrV1Address},
		{"v1 IPv4 three parts", s("PROXY TCP4 1.2.3 5.6.7.8 1 2\r\n"), Both, ErrV1Address},
		{"v1 TCP4 with IPv6", s("PROXY TCP4 ::1 5.6.7.8 1 2\r\n"), Both, ErrV1Address},
		{"v1 TCP4 with IPv4-mapped", s("PROXY TCP4 ::ffff:1.2.3.4 5.6.7.8 1 2\r\n"), Both, ErrV1Address},
		{"v1 TCP6 with IPv4", s("PROXY TCP6 1.2.3.4 ::1 1 2\r\n"), Both, ErrV1Address},
		{"v1 TCP6 with zone", s("PROXY TCP6 fe80::1%eth0 ::1 1 2\r\n"), Both, ErrV1Address},
		{"v1 TCP6 two double colons", s("PROXY TCP6 1::2::3 ::1 1 2\r\n"), Both, ErrV1Address},
		{"v1 hostname", s("PROXY TCP4 localhost 5.6.7.8 1 2\r\n"), Both, ErrV1Address},
		{"v1 port 65536", s("PROXY TCP4 1.2.3.4 5.6.7.8 65536 2\r\n"), Both, ErrV1Port},
		{"v1 port leading zero", s("PROXY TCP4 1.2.3.4 5.6.7.8 1 080\r\n"), Both, ErrV1Port},
		{"v1 port sign", s("PROXY TCP4 1.2.3.4 5.6.7.8 +1 2\r\n"), Both, ErrV1Port},
		{"v1 port hex", s("PROXY TCP4 1.2.3.4 5.6.7.8 1 0x50\r\n"), Both, ErrV1Port},
		{"v1 port six digits", s("PROXY TCP4 1.2.3.4 5.6.7.8 1 000080\r\n"), Both, ErrV1Port},
		{"v2 version 1", v2(0x11, 0x11, good4), Both, ErrV2Version},
		{"v2 version 3", v2(0x31, 0x11, good4), Both, ErrV2Version},
		{"v2 command 2", v2(0x22, 0x11, good4), Both, ErrV2Command},
		{"v2 command 15", v2(0x2F, 0x11, good4), Both, ErrV2Command},
		{"v2 family 4", v2(0x21, 0x41, good4), Both, ErrV2Family},
		{"v2 transport 3", v2(0x21, 0x13, good4), Both, ErrV2Family},
		{"v2 LOCAL family 15", v2(0x20, 0xF0), Both, ErrV2Family},
		{"v2 TCP4 length 11", v2(0x21, 0x11, good4[:11]), Both, ErrV2Length},
		{"v2 TCP6 length 35", v2(0x21, 0x21, make([]byte, 35)), Both, ErrV2Length},
		{"v2 UNIX length 215", v2(0x21, 0x31, make([]byte, 215)), Both, ErrV2Length},
		{"v2 TLV header cut", v2(0x21, 0x11, good4, []byte{TypeNoop, 0}), Both, ErrV2TLV},
		{"v2 TLV value overruns", v2(0x21, 0x11, good4, []byte{TypeALPN, 0, 3, 'h', '2'}), Both, ErrV2TLV},
		{"v2 LOCAL TLV overruns", v2(0x20, 0x00, []byte{TypeALPN, 0, 9}), Both, ErrV2TLV},
		{"v2 CRC32C wrong", crcBad, Both, ErrV2Checksum},
		{"v2 CRC32C over altered header", crcBody, Both, ErrV2Checksum},
		{"v2 CRC32C 3 bytes", v2(0x21, 0x11, good4, tlv(TypeCRC32C, []byte{1, 2, 3})), Both, ErrV2TLVValue},
		{"v2 CRC32C twice", v2(0x21, 0x11, good4, tlv(TypeCRC32C, make([]byte, 4)),
			tlv(TypeCRC32C, make([]byte, 4))), Both, ErrV2Checksum},
		{"v2 UNIQUE_ID 129 bytes", v2(0x21, 0x11, good4, tlv(TypeUniqueID, make([]byte, 129))), Both, ErrV2TLVValue},
		{"v2 SSL 4 bytes", v2(0x21, 0x11, good4, tlv(TypeSSL, []byte{1, 0, 0, 0})), Both, ErrV2TLVValue},
		{"v2 SSL sub-TLV overruns", v2(0x21, 0x11, good4, tlv(TypeSSL, []byte{1, 0, 0, 0, 0, SubtypeSSLCN, 0, 5, 'x'})),
			Both, ErrV2TLVValue},
	}
}

func TestParseInvalid(t *testing.T) {
	for _, tc := range invalidCases() {
		t.Run(tc.name, func(t *testing.T) {
			h, n, err := Parse(tc.in, tc.v)
			if err != tc.want || h != nil || n != 0 {
				t.Fatalf("Parse = %v, %d, %v; want %v", h, n, err, tc.want)
			}
			var perr *Error
			if !errors.As(err, &perr) || !strings.HasPrefix(err.Error(), "epollnet: proxyproto: ") {
				t.Fatalf("error %q is not an *Error prefixed epollnet: proxyproto:", err)
			}
		})
	}
}

// TestParseDuplicateCRC pins the duplicate check: a second CRC32C TLV is
// refused even when the first one is right.
func TestParseDuplicateCRC(t *testing.T) {
	b, _ := crcCase()
	b = append(b, tlv(TypeCRC32C, make([]byte, 4))...)
	binary.BigEndian.PutUint16(b[14:], uint16(len(b)-v2HeaderLen))
	// Recompute the first CRC over the new header, the second field zeroed.
	first := len(b) - 7 - 4
	copy(b[first:first+4], []byte{0, 0, 0, 0})
	binary.BigEndian.PutUint32(b[first:], crc32Castagnoli(b))
	if _, _, err := Parse(b, Both); err != ErrV2TLVValue {
		t.Fatalf("Parse = %v, want ErrV2TLVValue", err)
	}
}

// TestParseSplitEveryOffset feeds every header in two parts, split at each
// byte offset, and as a growing buffer one byte at a time: every prefix
// needs more, and the whole gives the same header.
func TestParseSplitEveryOffset(t *testing.T) {
	cases := validCases()
	b, h := crcCase()
	cases = append(cases, validCase{"v2 CRC32C", b, h})
	for _, tc := range cases {
		for k := 0; k < len(tc.in); k++ {
			if _, n, err := Parse(tc.in[:k], Both); err != ErrNeedMore || n != 0 {
				t.Fatalf("%s: prefix %d: n %d, err %v; want ErrNeedMore", tc.name, k, n, err)
			}
			buf := append(append([]byte(nil), tc.in[:k]...), tc.in[k:]...)
			got, n, err := Parse(buf, Both)
			if err != nil || n != len(tc.in) || !reflect.DeepEqual(*got, tc.want) {
				t.Fatalf("%s: split at %d: %v %d %v", tc.name, k, got, n, err)
			}
		}
	}
}

// TestParseInvalidPrefixes checks that an invalid header's prefixes need
// more data or fail with the same error.
func TestParseInvalidPrefixes(t *testing.T) {
	for _, tc := range invalidCases() {
		for k := 0; k <= len(tc.in); k++ {
			_, _, err := Parse(tc.in[:k], tc.v)
			if err != ErrNeedMore && err != tc.want {
				t.Fatalf("%s: prefix %d: %v, want ErrNeedMore or %v", tc.name, k, err, tc.want)
			}
		}
	}
}

// TestParseEarlyRejection pins that garbage is refused on its first byte
// and a bad v2 version on the 13th, rather than after a header timeout.
func TestParseEarlyRejection(t *testing.T) {
	if _, _, err := Parse([]byte("G"), Both); err != ErrNotProxy {
		t.Fatalf("one byte of HTTP: %v", err)
	}
	if _, _, err := Parse(append([]byte(sigV2), 0x10), Both); err != ErrV2Version {
		t.Fatalf("13 bytes with version 1: %v", err)
	}
	if _, _, err := Parse([]byte(sigV2[:5]+"X"), Both); err != ErrNotProxy {
		t.Fatalf("wrong 6th signature byte: %v", err)
	}
}

func TestHeaderAccessors(t *testing.T) {
	cases := validCases()
	h, _, err := Parse(cases[len(cases)-1].in, Both)
	if err != nil {
		t.Fatal(err)
	}
	if v, ok := h.Find(TypeAuthority); !ok || string(v) != "example.com" {
		t.Fatalf("AUTHORITY %q %v", v, ok)
	}
	if _, ok := h.Find(TypeCRC32C); ok {
		t.Fatal("found a CRC32C that is not there")
	}
	ssl, ok := h.SSL()
	if !ok || ssl.Client != ClientSSL|ClientCertConn || ssl.Verify != 0 {
		t.Fatalf("SSL %+v %v", ssl, ok)
	}
	if v, _ := ssl.Find(SubtypeSSLVersion); string(v) != "TLSv1.3" {
		t.Fatalf("SSL version %q", v)
	}
	if v, _ := ssl.Find(SubtypeSSLCN); string(v) != "client.example" {
		t.Fatalf("SSL CN %q", v)
	}
	if !h.IsTCP() {
		t.Fatal("TCP4 PROXY header: IsTCP false")
	}
	for _, c := range cases {
		h, _, _ := Parse(c.in, Both)
		want := h.Command == Proxy && h.Transport == Stream && (h.Family == Inet || h.Family == Inet6)
		if h.IsTCP() != want {
			t.Fatalf("%s: IsTCP %v", c.name, h.IsTCP())
		}
	}
}

func TestAppendRoundTrip(t *testing.T) {
	cases := validCases()
	b, h := crcCase()
	cases = append(cases, validCase{"v2 CRC32C", b, h})
	for _, tc := range cases {
		enc, err := tc.want.Append(nil)
		if err != nil {
			t.Fatalf("%s: Append: %v", tc.name, err)
		}
		got, n, err := Parse(enc, Both)
		if err != nil || n != len(enc) || !reflect.DeepEqual(*got, tc.want) {
			t.Fatalf("%s: %q parsed to %+v, %d, %v", tc.name, enc, got, n, err)
		}
	}
}

func TestAppendRefusesWhatCannotBeEncoded(t *testing.T) {
	bad := []Header{
		{Version: 3},
		{Version: 1, Command: Local},
		{Version: 1, Command: Proxy, Family: Inet, Transport: Stream, Source: ip6a, Destination: ip6b},
		{Version: 1, Command: Proxy, Family: Unix, Transport: Stream},
		{Version: 1, Command: Proxy, TLVs: []TLV{{TypeNoop, nil}}},
		{Version: 2, Command: 2},
		{Version: 2, Command: Proxy, Family: Inet6, Transport: Stream, Source: ip4a, Destination: ip4b},
		{Version: 2, Command: Local, Family: Inet, Transport: Stream, Source: ip4a, Destination: ip4b},
		{Version: 2, Command: Proxy, Family: Unix, Transport: Stream, SourceUnix: strings.Repeat("x", 109)},
		{Version: 2, Command: Proxy, Family: Inet, TLVs: []TLV{{TypeNoop, nil}}},
		{Version: 2, Command: Proxy, TLVs: []TLV{{TypeCRC32C, nil}, {TypeCRC32C, nil}}},
		{Version: 2, Command: Proxy, TLVs: []TLV{{TypeNoop, make([]byte, 70000)}}},
	}
	for i, h := range bad {
		if b, err := h.Append([]byte("keep")); err == nil || string(b) != "keep" {
			t.Fatalf("case %d: Append(%+v) = %q, %v; want an error and dst unchanged", i, h, b, err)
		}
	}
}

func BenchmarkParseV1(b *testing.B) {
	in := []byte("PROXY TCP4 192.168.0.1 192.168.0.11 56324 443\r\nGET / HTTP/1.1\r\n")
	b.ReportAllocs()
	for b.Loop() {
		Parse(in, Both)
	}
}

func BenchmarkParseV2(b *testing.B) {
	in := v2(0x21, 0x11, addr4(ip4a, ip4b))
	b.ReportAllocs()
	for b.Loop() {
		Parse(in, Both)
	}
}

func crc32Castagnoli(b []byte) uint32 { return crc32.Checksum(b, castagnoli) }

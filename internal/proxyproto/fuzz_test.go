package proxyproto

import (
	"encoding/binary"
	"errors"
	"net/netip"
	"reflect"
	"testing"
)

// result is one Parse outcome in comparable form.
type result struct {
	h   *Header
	n   int
	err error
}

func (r result) same(o result) bool {
	return r.n == o.n && r.err == o.err && (r.h == nil) == (o.h == nil) &&
		(r.h == nil || reflect.DeepEqual(*r.h, *o.h))
}

// checkResult checks the invariants of a single Parse call.
func checkResult(t *testing.T, data []byte, r result) {
	var perr *Error
	switch {
	case r.n < 0 || r.n > len(data):
		t.Fatalf("Parse(%q): n %d beyond the input", data, r.n)
	case r.err == nil && (r.h == nil || r.n == 0):
		t.Fatalf("Parse(%q): success with header %v, n %d", data, r.h, r.n)
	case r.err != nil && (r.h != nil || r.n != 0):
		t.Fatalf("Parse(%q): error %v with header %v, n %d", data, r.err, r.h, r.n)
	case r.err != nil && r.err != ErrNeedMore && !errors.As(r.err, &perr):
		t.Fatalf("Parse(%q): error %v is not an *Error", data, r.err)
	case r.err == nil && r.h.Version == 1 && r.n > MaxV1:
		t.Fatalf("Parse(%q): v1 header of %d bytes", data, r.n)
	}
}

// withoutCRC returns a copy of h with CRC32C values cleared: Append
// recomputes them over its own, canonical, encoding.
func withoutCRC(h Header) Header {
	h.TLVs = append([]TLV(nil), h.TLVs...)
	for i := range h.TLVs {
		if h.TLVs[i].Type == TypeCRC32C {
			h.TLVs[i].Value = nil
		}
	}
	return h
}

func fuzzSeeds(f *testing.F) {
	for _, tc := range validCases() {
		f.Add(tc.in, uint8(Both))
		f.Add(append(tc.in, "data"...), uint8(V1))
	}
	for _, tc := range invalidCases() {
		f.Add(tc.in, uint8(tc.v))
	}
	b, _ := crcCase()
	f.Add(b, uint8(Both))
}

// FuzzParse checks that Parse never panics, reports n within the input,
// gives every prefix ErrNeedMore or the whole input's result, and that a
// header it accepts survives Append and Parse unchanged.
func FuzzParse(f *testing.F) {
	fuzzSeeds(f)
	f.Fuzz(func(t *testing.T, data []byte, v uint8) {
		vs := Versions(v) & Both
		h, n, err := Parse(data, vs)
		full := result{h, n, err}
		checkResult(t, data, full)
		for k := 0; k < len(data); k++ {
			h, n, err := Parse(data[:k], vs)
			r := result{h, n, err}
			checkResult(t, data[:k], r)
			if err == ErrNeedMore || r.same(full) {
				continue
			}
			t.Fatalf("prefix %d of %q: %v %d %v; whole input: %v %d %v", k, data, h, n, err,
				full.h, full.n, full.err)
		}
		if err != nil {
			return
		}
		enc, aerr := h.Append(nil)
		if aerr != nil {
			t.Fatalf("Append(%+v) of a parsed header: %v", *h, aerr)
		}
		h2, n2, err := Parse(append(enc, data[n:]...), vs)
		if err != nil || n2 != len(enc) {
			t.Fatalf("re-parse of %q: %d %v", enc, n2, err)
		}
		if a, b := withoutCRC(*h), withoutCRC(*h2); !reflect.DeepEqual(a, b) {
			t.Fatalf("round trip of %q via %q:\n %+v\n %+v", data, enc, a, b)
		}
	})
}

// FuzzAppend builds headers from structured input: whatever Append
// accepts, Parse must return unchanged.
func FuzzAppend(f *testing.F) {
	f.Add(uint8(2), uint8(1), uint8(0x11), []byte{10, 0, 0, 1, 10, 0, 0, 2}, uint16(1234), uint16(80), []byte{})
	f.Add(uint8(1), uint8(1), uint8(0x21), make([]byte, 32), uint16(0), uint16(65535), []byte{})
	f.Add(uint8(1), uint8(1), uint8(0x00), []byte{}, uint16(0), uint16(0), []byte{})
	f.Add(uint8(2), uint8(1), uint8(0x31), []byte("/a\x00@b"), uint16(0), uint16(0), []byte{TypeCRC32C, 4, 'x'})
	f.Add(uint8(2), uint8(0), uint8(0x00), []byte{}, uint16(0), uint16(0), []byte{TypeUniqueID, 8, 'u', TypeALPN, 2, 'h', '2'})
	f.Fuzz(func(t *testing.T, ver, cmd, famTr uint8, addrs []byte, sp, dp uint16, tlvSpec []byte) {
		h := Header{Version: int(ver), Command: Command(cmd), Family: Family(famTr >> 4),
			Transport: Transport(famTr & 0xF)}
		if h.Command == Proxy {
			setFuzzAddrs(&h, addrs, sp, dp)
		}
		h.TLVs = fuzzTLVs(tlvSpec)
		enc, err := h.Append(nil)
		if err != nil {
			return
		}
		got, n, err := Parse(enc, Both)
		if err != nil || n != len(enc) {
			t.Fatalf("Parse(Append(%+v) = %q): %d %v", h, enc, n, err)
		}
		if a, b := withoutCRC(h), withoutCRC(*got); !reflect.DeepEqual(a, b) {
			t.Fatalf("round trip via %q:\n %+v\n %+v", enc, a, b)
		}
	})
}

func setFuzzAddrs(h *Header, a []byte, sp, dp uint16) {
	switch {
	case h.Family == Inet && len(a) >= 8:
		h.Source = netip.AddrPortFrom(netip.AddrFrom4([4]byte(a[0:4])), sp)
		h.Destination = netip.AddrPortFrom(netip.AddrFrom4([4]byte(a[4:8])), dp)
	case h.Family == Inet6 && len(a) >= 32:
		h.Source = netip.AddrPortFrom(netip.AddrFrom16([16]byte(a[0:16])), sp)
		h.Destination = netip.AddrPortFrom(netip.AddrFrom16([16]byte(a[16:32])), dp)
	case h.Family == Unix:
		h.SourceUnix, h.DestinationUnix = string(a[:len(a)/2]), string(a[len(a)/2:])
	}
}

// fuzzTLVs reads (type, length, value) triples with a one-byte length,
// padding a short last value with zeroes.
func fuzzTLVs(b []byte) []TLV {
	var tlvs []TLV
	for len(b) >= 2 {
		typ, n := b[0], int(b[1])
		b = b[2:]
		v := make([]byte, n)
		b = b[copy(v, b):]
		if typ == TypeCRC32C {
			v = binary.BigEndian.AppendUint32(nil, 0)
		}
		tlvs = append(tlvs, TLV{Type: typ, Value: v})
	}
	return tlvs
}

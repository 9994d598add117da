package proxyproto

// Differential tests against github.com/pires/go-proxyproto, a parser
// nobody here wrote: the same bytes go to Parse and to pires' Read, and
// the two must agree. Both accept or both reject; when both accept, they
// agree on the bytes consumed, the version, the command, the family and
// transport, the addresses and ports (or AF_UNIX paths), and the TLVs,
// an SSL TLV's fields included (pires' tlvparse.SSL).
//
// pires reads TLVs lazily: Read keeps them raw and Header.TLVs splits
// them. Its verdict here is Read's and TLVs' together, since a receiver
// that uses the TLVs sees both.
//
// Where the two disagree by design, a named rule below says why, and holds
// only when the input shows the cause; anything no rule explains fails the
// test. The seeds in testdata/fuzz/FuzzParseAgainstPires are named after
// the outcome they demonstrate (TestAgainstPiresSeeds checks every rule
// has one).

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"maps"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"

	pires "github.com/pires/go-proxyproto"
	"github.com/pires/go-proxyproto/tlvparse"
)

// ppVerdict is a parser's verdict on a byte string.
type ppVerdict int

const (
	ppAccept ppVerdict = iota // a complete header
	ppMore                    // a valid prefix: more bytes are needed
	ppReject                  // malformed or refused
)

func (v ppVerdict) String() string { return [...]string{"accept", "need more", "reject"}[v] }

// ppCase is one input, both readings of it, and how they differ.
type ppCase struct {
	data []byte
	h    *Header
	n    int
	err  error
	ours ppVerdict

	ph     *pires.Header
	ptlvs  []pires.TLV
	pn     int // bytes pires consumed
	perr   error
	theirs ppVerdict

	// undecided: one parser needs more bytes where the other refused.
	// pires refuses a v1 line that did not arrive in one read, and takes
	// a cut-short signature for no signature; neither accepted.
	undecided bool
	diffs     []ppDiff
}

// ppDiff is one disagreement: the aspect of the header, and how.
type ppDiff struct{ aspect, detail string }

func (c *ppCase) expect(aspect string, ok bool, format string, args ...any) {
	if !ok {
		c.diffs = append(c.diffs, ppDiff{aspect, fmt.Sprintf(format, args...)})
	}
}

func ppCompare(data []byte) *ppCase {
	c := &ppCase{data: data}
	c.h, c.n, c.err = Parse(data, Both)
	switch {
	case c.err == nil:
		c.ours = ppAccept
	case c.err == ErrNeedMore:
		c.ours = ppMore
	default:
		c.ours = ppReject
	}

	src := bytes.NewReader(data)
	br := bufio.NewReader(src)
	c.ph, c.perr = pires.Read(br)
	c.pn = len(data) - src.Len() - br.Buffered()
	if c.perr == nil {
		c.ptlvs, c.perr = c.ph.TLVs()
	}
	switch {
	case c.perr == nil:
		c.theirs = ppAccept
	case errors.Is(c.perr, io.EOF), errors.Is(c.perr, io.ErrUnexpectedEOF),
		c.perr == pires.ErrNoProxyProtocol && isSignaturePrefix(data),
		c.perr == pires.ErrCantReadVersion1Header && !bytes.Contains(data, []byte("\n")) && len(data) < MaxV1:
		c.theirs = ppMore
	default:
		c.theirs = ppReject
	}

	switch {
	case c.ours == ppAccept && c.theirs == ppAccept:
		c.compareHeaders()
	case c.ours == c.theirs:
	case c.ours != ppAccept && c.theirs != ppAccept:
		c.undecided = true
	default:
		c.expect("verdict", false, "ours %v (%v), pires %v (%v)", c.ours, c.err, c.theirs, c.perr)
	}
	return c
}

// isSignaturePrefix reports a proper prefix of either signature.
func isSignaturePrefix(b []byte) bool {
	return len(b) < len("PROXY") && strings.HasPrefix("PROXY", string(b)) ||
		len(b) < len(sigV2) && strings.HasPrefix(sigV2, string(b))
}

func (c *ppCase) compareHeaders() {
	h, p := c.h, c.ph
	c.expect("consumed", c.n == c.pn, "ours %d bytes, pires %d", c.n, c.pn)
	c.expect("version", h.Version == int(p.Version), "version %d, pires %d", h.Version, p.Version)
	cmd := pires.PROXY
	if h.Command == Local {
		cmd = pires.LOCAL
	}
	c.expect("command", p.Command == cmd, "command %v, pires %#x", h.Command, byte(p.Command))
	famTr := pires.AddressFamilyAndProtocol(byte(h.Family)<<4 | byte(h.Transport))
	c.expect("family", p.TransportProtocol == famTr, "family/transport %#x, pires %#x", byte(famTr),
		byte(p.TransportProtocol))

	switch {
	case h.Family == Unix && h.Command == Proxy:
		src, ok1 := p.SourceAddr.(*net.UnixAddr)
		dst, ok2 := p.DestinationAddr.(*net.UnixAddr)
		c.expect("addresses", ok1 && ok2 && src.Name == h.SourceUnix && dst.Name == h.DestinationUnix,
			"%q %q, pires %v %v", h.SourceUnix, h.DestinationUnix, p.SourceAddr, p.DestinationAddr)
	default:
		src, dst := ppAddrPort(p.SourceAddr), ppAddrPort(p.DestinationAddr)
		c.expect("addresses", src == h.Source && dst == h.Destination,
			"%v %v, pires %v %v", h.Source, h.Destination, p.SourceAddr, p.DestinationAddr)
	}

	c.expect("tlvs", sameTLVs(h.TLVs, c.ptlvs, true), "TLVs %v, pires %v", h.TLVs, c.ptlvs)

	ours, ok := h.SSL()
	for _, t := range c.ptlvs {
		if t.Type != pires.PP2_TYPE_SSL {
			continue
		}
		theirs, err := tlvparse.SSL(t)
		if err != nil {
			c.expect("ssl", false, "SSL TLV %x: pires' tlvparse: %v", t.Value, err)
			break
		}
		c.expect("ssl", ok && sameSSL(ours, theirs, true), "SSL %+v, pires %+v", ours, theirs)
		break // Header.SSL is the first SSL TLV
	}
}

// sameTLVs compares TLVs; with noopValues false, a NOOP TLV's value is
// not compared.
func sameTLVs(ours []TLV, theirs []pires.TLV, noopValues bool) bool {
	if len(ours) != len(theirs) {
		return false
	}
	for i, t := range ours {
		p := theirs[i]
		if t.Type != byte(p.Type) || !bytes.Equal(t.Value, p.Value) && (noopValues || t.Type != TypeNoop) {
			return false
		}
	}
	return true
}

func sameSSL(ours SSL, theirs tlvparse.PP2SSL, noopValues bool) bool {
	return ours.Client == theirs.Client && ours.Verify == theirs.Verify && sameTLVs(ours.TLVs, theirs.TLV, noopValues)
}

// ppAddrPort converts pires' TCP or UDP address; anything else is the zero
// AddrPort, as ours are when there are no addresses.
func ppAddrPort(a net.Addr) netip.AddrPort {
	var ip net.IP
	var port int
	switch a := a.(type) {
	case *net.TCPAddr:
		ip, port = a.IP, a.Port
	case *net.UDPAddr:
		ip, port = a.IP, a.Port
	default:
		return netip.AddrPort{}
	}
	addr, _ := netip.AddrFromSlice(ip)
	return netip.AddrPortFrom(addr, uint16(port))
}

// ppRule is a known, justified disagreement: it explains a difference in
// aspect when holds, which checks that the input shows the cause.
type ppRule struct {
	name, aspect string
	holds        func(c *ppCase) bool
}

func (c *ppCase) pAccepted() bool { return c.theirs == ppAccept }

// pRefused reports that we accepted and pires refused with err.
func (c *ppCase) pRefused(err error) bool {
	return c.ours == ppAccept && c.theirs == ppReject && errors.Is(c.perr, err)
}

// lengthField is a v2 header's length field, or -1.
func lengthField(b []byte) int {
	if len(b) < v2HeaderLen || string(b[:len(sigV2)]) != sigV2 {
		return -1
	}
	return int(binary.BigEndian.Uint16(b[14:16]))
}

// ppTLVOffset returns where pires' TLVs start in a v2 header: after the
// address block of its family.
func (c *ppCase) ppTLVOffset() int {
	switch tp := c.ph.TransportProtocol; {
	case tp.IsIPv4():
		return v2HeaderLen + 12
	case tp.IsIPv6():
		return v2HeaderLen + 36
	case tp.IsUnix():
		return v2HeaderLen + 2*unixAddrLen
	}
	return v2HeaderLen
}

// crcMismatch reports a CRC32C TLV in the header pires read that is not 4
// bytes, appears twice, or does not match the header, by its own
// computation of CRC-32C (Castagnoli) over the header with the value zeroed.
func (c *ppCase) crcMismatch() bool {
	hdr := append([]byte(nil), c.data[:c.pn]...)
	seen := 0
	for off := c.ppTLVOffset(); off+3 <= len(hdr); {
		typ, n := hdr[off], int(binary.BigEndian.Uint16(hdr[off+1:]))
		v := off + 3
		if typ == TypeCRC32C {
			seen++
			if n != 4 || seen > 1 {
				return true
			}
			want := binary.BigEndian.Uint32(hdr[v:])
			copy(hdr[v:v+4], []byte{0, 0, 0, 0})
			if crc32.Checksum(hdr, crc32.MakeTable(crc32.Castagnoli)) != want {
				return true
			}
		}
		off = v + n
	}
	return false
}

var piresRules = []ppRule{
	// CRC32C is optional to implement; a receiver that does MUST treat a
	// mismatch as an invalid connection (the specification, 2.2.2). We
	// verify it, and refuse a CRC32C TLV that is not 4 bytes or appears
	// twice; pires does not implement it.
	{"crc32c-verified", "verdict", func(c *ppCase) bool {
		return (c.err == ErrV2Checksum || c.err == ErrV2TLVValue) && c.pAccepted() && c.crcMismatch()
	}},
	// "The value [of PP2_TYPE_UNIQUE_ID] ... can't be longer than 128
	// bytes" (2.2.5): we refuse a longer one; pires does not check.
	{"unique-id-too-long", "verdict", func(c *ppCase) bool {
		return c.err == ErrV2TLVValue && c.pAccepted() && slices.ContainsFunc(c.ptlvs, func(t pires.TLV) bool {
			return t.Type == pires.PP2_TYPE_UNIQUE_ID && len(t.Value) > MaxUniqueID
		})
	}},
	// We check an SSL TLV's framing when parsing (a pp2_tlv_ssl of at
	// least 5 bytes whose sub-TLVs fill it); pires' Read keeps it raw and
	// its tlvparse.SSL refuses the same framing only when called.
	{"ssl-tlv-framing", "verdict", func(c *ppCase) bool {
		return c.err == ErrV2TLVValue && c.pAccepted() && slices.ContainsFunc(c.ptlvs, func(t pires.TLV) bool {
			if t.Type != pires.PP2_TYPE_SSL {
				return false
			}
			_, err := tlvparse.SSL(t)
			return err == pires.ErrIncompatibleTLV || err == pires.ErrTruncatedTLV
		})
	}},
	// The specification allows a 16-bit length (65535 bytes after the
	// fixed part); pires refuses more than its MaxV2HeaderSize, 4096 by
	// default, because it allocates the length up front.
	{"v2-length-cap", "verdict", func(c *ppCase) bool {
		return c.pRefused(pires.ErrInvalidLength) && lengthField(c.data) > int(pires.MaxV2HeaderSize)
	}},
	// For UNSPEC "the receiver is free to accept the connection anyway
	// and use the real endpoint addresses or to reject it" (2.2): we
	// accept PROXY with UNSPEC and report no addresses; pires refuses.
	{"v2-proxy-unspec", "verdict", func(c *ppCase) bool {
		return c.pRefused(pires.ErrUnsupportedAddressFamilyAndProtocol) && lengthField(c.data) >= 0 &&
			c.data[12] == 0x21 && c.data[13] == 0x00
	}},
	// Only unassigned family or transport values "must be rejected as
	// invalid by receivers" (2.2); with one of the two UNSPEC, as in 0x10,
	// "the receiver should ignore address information", and we skip the
	// block. pires accepts only the seven combinations the specification
	// lists as expected in practice.
	{"v2-half-unspec", "verdict", func(c *ppCase) bool {
		if !c.pRefused(pires.ErrUnsupportedAddressFamilyAndProtocol) || lengthField(c.data) < 0 {
			return false
		}
		fam, tr := c.data[13]>>4, c.data[13]&0xF
		return (fam == 0) != (tr == 0) &&
			fam <= 3 && tr <= 2
	}},
	// "The receiver must not tolerate a single CR or LF character to end
	// the line when a complete CRLF sequence is expected", and the line
	// holds no other CR or LF (pires' own comment says so): we refuse a
	// CR inside the line. pires checks only the CR before the final LF,
	// and an UNKNOWN line's rest is ignored unread.
	{"v1-stray-cr", "verdict", func(c *ppCase) bool {
		line := c.data[:max(c.pn-2, 0)]
		return c.err == ErrV1CRLF && c.pAccepted() && bytes.Contains(line, []byte("\r"))
	}},
	// v1 has no command; pires reports UNKNOWN as LOCAL, we as PROXY with
	// the UNSPEC family. Either way the receiver uses the real endpoints.
	{"v1-unknown-is-local", "command", func(c *ppCase) bool {
		return c.h.Version == 1 && c.h.Family == Unspec && c.ph.Command == pires.LOCAL
	}},
	// For LOCAL the receiver "must use the real connection endpoints and
	// discard the protocol block including the family" (2.2): we report
	// the family byte as sent and no addresses; pires decodes the
	// addresses, and reports UNSPEC when the block is too short for them.
	{"local-discards-block", "family", func(c *ppCase) bool {
		return c.h.Command == Local && c.ph.TransportProtocol == pires.UNSPEC &&
			lengthField(c.data) < addrLen(c.h.Family, c.h.Transport)
	}},
	{"local-discards-block", "addresses", func(c *ppCase) bool {
		return c.h.Command == Local && c.h.Source == (netip.AddrPort{})
	}},
	// An abstract AF_UNIX name starts with a NUL byte; we report it as
	// "@name", pires cuts the path at its first NUL and reports "".
	{"unix-abstract-name", "addresses", func(c *ppCase) bool {
		src, ok1 := c.ph.SourceAddr.(*net.UnixAddr)
		dst, ok2 := c.ph.DestinationAddr.(*net.UnixAddr)
		same := func(ours, theirs string) bool {
			return ours == theirs || strings.HasPrefix(ours, "@") && theirs == ""
		}
		return ok1 && ok2 && same(c.h.SourceUnix, src.Name) && same(c.h.DestinationUnix, dst.Name)
	}},
	// pires' SplitTLVs drops a NOOP TLV's value (padding, to be
	// ignored), among TLVs and SSL sub-TLVs; we keep it.
	{"noop-value-dropped", "tlvs", func(c *ppCase) bool { return sameTLVs(c.h.TLVs, c.ptlvs, false) }},
	{"noop-value-dropped", "ssl", func(c *ppCase) bool {
		ours, ok := c.h.SSL()
		i := slices.IndexFunc(c.ptlvs, func(t pires.TLV) bool { return t.Type == pires.PP2_TYPE_SSL })
		if !ok || i < 0 {
			return false
		}
		theirs, err := tlvparse.SSL(c.ptlvs[i])
		return err == nil && sameSSL(ours, theirs, false)
	}},
	// pires' tlvparse.SSL also checks an SSL TLV's contents: a version
	// sub-TLV when the client used TLS, ASCII version and cipher names,
	// a UTF-8 common name. We check the framing only and hand the values
	// over as they are.
	{"ssl-contents-unchecked", "ssl", func(c *ppCase) bool {
		return slices.ContainsFunc(c.ptlvs, func(t pires.TLV) bool {
			if t.Type != pires.PP2_TYPE_SSL {
				return false
			}
			_, err := tlvparse.SSL(t)
			return err == pires.ErrMalformedTLV
		})
	}},
}

// outcome names a case's result: "agree", "undecided", or the rules that
// explain its differences joined by "+"; bad is what no rule explains.
func (c *ppCase) outcome() (name string, bad []ppDiff) {
	var used []string
	for _, d := range c.diffs {
		i := slices.IndexFunc(piresRules, func(r ppRule) bool { return r.aspect == d.aspect && r.holds(c) })
		switch {
		case i < 0:
			bad = append(bad, d)
		case !slices.Contains(used, piresRules[i].name):
			used = append(used, piresRules[i].name)
		}
	}
	slices.Sort(used)
	switch {
	case len(bad) > 0:
		return "unexplained", bad
	case len(used) > 0:
		return strings.Join(used, "+"), nil
	case c.undecided:
		return "undecided", nil
	}
	return "agree", nil
}

func FuzzParseAgainstPires(f *testing.F) {
	for _, tc := range validCases() {
		f.Add(tc.in)
	}
	for _, tc := range invalidCases() {
		f.Add(tc.in)
	}
	b, _ := crcCase()
	f.Add(b)
	f.Fuzz(func(t *testing.T, data []byte) {
		c := ppCompare(data)
		if _, bad := c.outcome(); bad != nil {
			var s strings.Builder
			for _, d := range bad {
				fmt.Fprintf(&s, "\n  %s: %s", d.aspect, d.detail)
			}
			t.Fatalf("input %q: disagreement with pires that no rule explains:%s", data, s.String())
		}
	})
}

// TestAgainstPiresSeeds runs the committed seed corpus, whose file names
// say the expected outcome ("agree", "undecided", rules joined by "+"),
// optionally followed by "~" and a description; checks that every rule is
// demonstrated by a seed; and logs how the seeds and the package's valid
// and invalid cases came out.
func TestAgainstPiresSeeds(t *testing.T) {
	tally := map[string]int{}
	seen := map[string]bool{}
	files, _ := filepath.Glob(filepath.Join("testdata", "fuzz", "FuzzParseAgainstPires", "*"))
	if len(files) == 0 {
		t.Fatal("no seeds")
	}
	for _, file := range files {
		data := readSeed(t, file)
		want, _, _ := strings.Cut(filepath.Base(file), "~")
		c := ppCompare(data)
		got, bad := c.outcome()
		if got != want {
			t.Errorf("%s: outcome %s, want %s (ours %v %v, pires %v %v) %v", file, got, want,
				c.ours, c.err, c.theirs, c.perr, bad)
		}
		for r := range strings.SplitSeq(got, "+") {
			seen[r] = true
		}
		tally["seed: "+got]++
	}
	for _, r := range piresRules {
		if !seen[r.name] {
			t.Errorf("no seed demonstrates rule %s", r.name)
		}
	}
	for _, tc := range validCases() {
		o, _ := ppCompare(tc.in).outcome()
		tally["validCases: "+o]++
	}
	for _, tc := range invalidCases() {
		o, _ := ppCompare(tc.in).outcome()
		tally["invalidCases: "+o]++
	}
	for _, k := range slices.Sorted(maps.Keys(tally)) {
		t.Logf("%4d  %s", tally[k], k)
		if strings.HasSuffix(k, ": unexplained") {
			t.Errorf("%d inputs disagree with pires unexplained (%s)", tally[k], k)
		}
	}
}

// readSeed reads a "go test fuzz v1" file holding one []byte.
func readSeed(t *testing.T, file string) []byte {
	t.Helper()
	b, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	header, lit, _ := strings.Cut(strings.TrimSpace(string(b)), "\n")
	lit, ok1 := strings.CutPrefix(lit, "[]byte(")
	lit, ok2 := strings.CutSuffix(lit, ")")
	s, err := strconv.Unquote(lit)
	if header != "go test fuzz v1" || !ok1 || !ok2 || err != nil {
		t.Fatalf("%s: not a fuzz corpus file of one []byte", file)
	}
	return []byte(s)
}

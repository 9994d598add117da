package tracefmt

import (
	"bytes"
	"encoding/xml"
	"errors"
	"flag"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

var update = flag.Bool("update", false, "rewrite testdata/*.golden from the renderers' output")

// golden compares got with testdata/name, or rewrites it with -update.
func golden(t *testing.T, name string, got []byte) {
	t.Helper()
	path := filepath.Join("testdata", name)
	if *update {
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test -update to create it)", err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("%s differs from the renderer's output; if the change is intended, run go test -update.\n"+
			"got:\n%s", path, got)
	}
}

func TestTextGolden(t *testing.T) {
	for _, tc := range []struct {
		name  string
		d     *Diagram
		color bool
	}{
		{"ok.txt.golden", okDiagram(), false},
		{"ok_color.txt.golden", okDiagram(), true},
		{"ack_dropped.txt.golden", ackDroppedDiagram(), false},
		{"tls.txt.golden", tlsDiagram(), false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var b bytes.Buffer
			if err := WriteText(&b, tc.d, TextOptions{Color: tc.color}); err != nil {
				t.Fatal(err)
			}
			golden(t, tc.name, b.Bytes())
		})
	}
}

func TestSVGGolden(t *testing.T) {
	for _, tc := range []struct {
		name string
		d    *Diagram
	}{
		{"ok.svg.golden", okDiagram()},
		{"ack_dropped.svg.golden", ackDroppedDiagram()},
		{"tls.svg.golden", tlsDiagram()},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var b bytes.Buffer
			if err := WriteSVG(&b, tc.d); err != nil {
				t.Fatal(err)
			}
			checkWellFormed(t, b.Bytes())
			golden(t, tc.name, b.Bytes())
		})
	}
}

// checkWellFormed parses the whole document: a browser shows nothing for
// an SVG with one bad escape.
func checkWellFormed(t *testing.T, doc []byte) {
	t.Helper()
	dec := xml.NewDecoder(bytes.NewReader(doc))
	for {
		_, err := dec.Token()
		if errors.Is(err, io.EOF) {
			return
		}
		if err != nil {
			t.Fatalf("SVG is not well-formed XML: %v", err)
		}
	}
}

// TestTextWriterStreamsLikeWriteText checks that the live renderer, fed
// one record at a time, prints exactly what the batch renderer prints.
func TestTextWriterStreamsLikeWriteText(t *testing.T) {
	d := ackDroppedDiagram()
	var batch, live bytes.Buffer
	if err := WriteText(&batch, d, TextOptions{}); err != nil {
		t.Fatal(err)
	}
	tw := NewTextWriter(&live, &Diagram{Title: d.Title, Subtitle: d.Subtitle, Lost: d.Lost}, TextOptions{})
	if err := tw.Header(); err != nil {
		t.Fatal(err)
	}
	for _, r := range d.Records {
		if err := tw.Record(r); err != nil {
			t.Fatal(err)
		}
	}
	if err := tw.Footer(d.Findings); err != nil {
		t.Fatal(err)
	}
	if batch.String() != live.String() {
		t.Fatalf("streamed output differs:\n%s\nbatch:\n%s", live.String(), batch.String())
	}
}

// TestTextColumnsAlign checks the layout invariant that makes the diagram
// readable: on every row the server's lifeline is in the same column,
// whatever the client's text, and colour codes do not shift it.
func TestTextColumnsAlign(t *testing.T) {
	for _, color := range []bool{false, true} {
		var b bytes.Buffer
		for _, d := range []*Diagram{okDiagram(), tlsDiagram()} {
			if err := WriteText(&b, d, TextOptions{Color: color}); err != nil {
				t.Fatal(err)
			}
		}
		for _, line := range strings.Split(b.String(), "\n") {
			plain := []rune(stripANSI(line))
			if len(plain) < timeW+2 || (plain[timeW+2] != '│' && plain[timeW+2] != '┆') {
				continue // heading, footer, note
			}
			at := timeW + 2 + zoneW
			if len(plain) <= at || (plain[at] != '│' && plain[at] != '┆') {
				t.Errorf("color=%v: server lifeline not at column %d:\n%q", color, at, string(plain))
			}
		}
	}
}

func stripANSI(s string) string {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] == 0x1b {
			for i < len(s) && s[i] != 'm' {
				i++
			}
			continue
		}
		b.WriteByte(s[i])
	}
	return b.String()
}

// TestLongClientTextIsCut checks that a client event too long for its
// column is cut with an ellipsis instead of pushing the server's lifeline.
func TestLongClientTextIsCut(t *testing.T) {
	r := Record{T: 1000, Kind: "close", Role: "dialed", Side: SideClient, FD: 3, Conn: 1,
		Err: strings.Repeat("very long reason ", 5)}
	var b bytes.Buffer
	if err := WriteText(&b, &Diagram{Records: []Record{r}}, TextOptions{}); err != nil {
		t.Fatal(err)
	}
	last := strings.TrimRight(b.String(), "\n")
	last = last[strings.LastIndex(last, "\n")+1:]
	if !strings.Contains(last, "…") || !strings.HasSuffix(last, "│") {
		t.Fatalf("long client text not cut to its column: %q", last)
	}
}

// TestEmptyInterestIsNamed: an interest set with no condition reads as
// "none", with the trigger mode after it when there is one, never as a
// bare "ET" that looks like a condition.
func TestEmptyInterestIsNamed(t *testing.T) {
	for _, tc := range []struct {
		role, op, ready, want string
	}{
		{"accepted", "mod", "ET", "epoll_ctl(MOD, fd 12, none|ET)"},
		{"accepted", "mod", "none", "epoll_ctl(MOD, fd 12, none)"},
		{"accepted", "mod", "IN|RDHUP|ET", "epoll_ctl(MOD, fd 12, IN|RDHUP|ET)"},
		{"dialed", "add", "OUT|ET", "epoll_ctl(ADD, fd 12, OUT|ET)"},
		{"listener", "mod", "none", "epoll_ctl(MOD, fd 12, none): paused"},
		{"listener", "mod", "ET", "epoll_ctl(MOD, fd 12, none|ET): paused"},
		{"listener", "mod", "IN", "epoll_ctl(MOD, fd 12, IN): re-armed"},
		{"accepted", "del", "", "epoll_ctl(DEL, fd 12)"},
	} {
		got, _ := describe(Record{Kind: "epoll_ctl", Role: tc.role, Detail: tc.op, FD: 12, Ready: tc.ready})
		if got != tc.want {
			t.Errorf("%s %s %q: %q, want %q", tc.role, tc.op, tc.ready, got, tc.want)
		}
	}
}

// TestSVGStateSeparatorSpaced: the "·" between an event and its TCP state
// has one ordinary space on each side once a renderer has applied SVG's
// whitespace rules, which strip the whitespace opening a text element or
// a tspan; and no label relies on such whitespace (the footer's indent).
func TestSVGStateSeparatorSpaced(t *testing.T) {
	var b bytes.Buffer
	if err := WriteSVG(&b, okDiagram()); err != nil {
		t.Fatal(err)
	}
	textElem := regexp.MustCompile(`<text[^>]*>(.*)</text>`)
	opening := regexp.MustCompile(`^\s|<tspan[^>]*>\s`)
	tag := regexp.MustCompile(`<[^>]*>`)
	n := 0
	for _, line := range strings.Split(b.String(), "\n") {
		m := textElem.FindStringSubmatch(line)
		if m == nil {
			continue
		}
		if opening.MatchString(m[1]) || strings.Contains(m[1], "\u00a0") {
			t.Errorf("whitespace a renderer strips or renders unlike a space: %s", line)
		}
		if !strings.Contains(m[1], "·") {
			continue
		}
		n++
		shown := tag.ReplaceAllString(m[1], "")
		if strings.Count(shown, " · ") != strings.Count(shown, "·") {
			t.Errorf("%q: want one space on each side of every \"·\"", shown)
		}
	}
	if n < 2 { // the title and at least one TCP state
		t.Fatalf("%d text elements with \"·\"; the fixture should have several", n)
	}
}

// TestTLSRowsAreNamed: a TLS handshake's records read as its start, its
// outcome with the handler's OnOpen, or its failure with the reason, in
// words rather than the engine's key=value detail.
func TestTLSRowsAreNamed(t *testing.T) {
	for _, tc := range []struct {
		detail, err, want string
		st                style
	}{
		{"start", "", "TLS handshake starts; OnOpen waits for it", styleTLS},
		{"done version=TLS1.3 alpn=- resumed=false", "", "TLS 1.3 done, no ALPN, new session → OnOpen", styleOK},
		{"done version=TLS1.2 alpn=h2 resumed=true", "", "TLS 1.2 done, ALPN h2, resumed → OnOpen", styleOK},
		{"done cipher=x", "", "TLS handshake done cipher=x → OnOpen", styleOK},
		{"failed", "epollnet: TLS handshake failed: remote error: tls: bad certificate",
			"TLS handshake failed: remote error: tls: bad certificate", styleFail},
		{"failed", "epollnet: TLS handshake timeout", "TLS handshake timeout", styleFail},
		{"failed", "ECONNRESET", "TLS handshake failed: ECONNRESET", styleFail},
	} {
		got, st := describe(Record{Kind: "tls", Role: "accepted", Detail: tc.detail, Err: tc.err})
		if got != tc.want || st != tc.st {
			t.Errorf("%q %q: %q (style %d), want %q (style %d)", tc.detail, tc.err, got, st, tc.want, tc.st)
		}
	}
}

// TestLateSendIsNoted: a send() recorded after the other side read its
// bytes says so on its arrow, and only when the trace has both sides.
func TestLateSendIsNoted(t *testing.T) {
	const late = "recorded late"
	hints := func(recs []Record) string {
		var out []string
		for _, rw := range (&Diagram{Records: recs}).rows() {
			if rw.kind == rowArrow {
				out = append(out, rw.hint)
			}
		}
		return strings.Join(out, "\n")
	}
	read := rec(10, 2, "accepted", "read", func(r *Record) { r.N = 5 })
	write := rec(12, 1, "dialed", "write", func(r *Record) { r.N = 5 })
	if h := hints([]Record{read, write}); !strings.Contains(h, late) {
		t.Errorf("client send() recorded after the server read its bytes: hints %q, want %q", h, late)
	}
	if h := hints([]Record{write, read}); strings.Contains(h, late) {
		t.Errorf("client send() recorded in time: hints %q", h)
	}
	reply := rec(14, 2, "accepted", "write", func(r *Record) { r.N = 6 })
	if h := hints([]Record{read, reply}); strings.Contains(h, late) {
		t.Errorf("server side alone (a --listen trace): hints %q", h)
	}
}

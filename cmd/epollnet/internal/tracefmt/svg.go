package tracefmt

import (
	"bytes"
	"encoding/xml"
	"fmt"
	"io"
	"strings"
	"unicode/utf8"
)

// SVG geometry, in pixels. Text is monospace, so widths are computed from
// rune counts; charW is a little wide on purpose, so labels never overlap.
const (
	svgCharW   = 7.3
	svgRowH    = 20
	svgTop     = 110 // first row's baseline
	svgTimeX   = 72  // time labels end here
	svgClientX = 460 // client lifeline
	svgServerX = 820 // server lifeline
	svgMinW    = 1180
	svgWrap    = 150 // footer line length, in characters
)

// svgCSS colours the SVG like the text renderer: readiness stands out,
// bookkeeping is quiet.
const svgCSS = `
text { font-family: ui-monospace, SFMono-Regular, Menlo, Consolas, monospace; font-size: 12px; fill: #222; }
.title { font-size: 15px; font-weight: bold; }
.sub, .time, .state, .hint { fill: #777; }
.hint { font-style: italic; }
.life { stroke: #999; stroke-width: 1.5; }
.gapline { stroke: #bbb; stroke-width: 1.5; stroke-dasharray: 3 4; }
.box { fill: #f2f2f2; stroke: #999; }
.boxlabel { font-weight: bold; text-anchor: middle; }
.ready { fill: #b45f06; font-weight: bold; }
.dot-ready { fill: #e69138; }
.ok { fill: #38761d; } .dot-ok { fill: #6aa84f; }
.expected { fill: #0b6e79; }
.fail { fill: #cc0000; font-weight: bold; } .dot-fail { fill: #cc0000; }
.close { fill: #741b47; } .timer { fill: #741b47; font-weight: bold; }
.ctl { fill: #999; }
.dot { fill: #999; }
.arrow { stroke: #3d85c6; stroke-width: 1.5; fill: none; }
.arrow-inferred { stroke: #9fc5e8; stroke-width: 1.5; stroke-dasharray: 5 3; fill: none; }
.arrow-lost { stroke: #e06666; stroke-width: 1.5; stroke-dasharray: 5 3; fill: none; }
.alabel { fill: #3d85c6; text-anchor: middle; }
.tls { fill: #674ea7; } .dot-tls { fill: #8e7cc3; }
.arrow-tls { stroke: #8e7cc3; stroke-width: 1.5; fill: none; }
.tlabel { fill: #674ea7; text-anchor: middle; }
.lost { fill: #cc0000; font-weight: bold; text-anchor: middle; }
.note { fill: #fff8dc; stroke: #d6b656; }
.notetext { fill: #5b4a00; text-anchor: middle; }
.finding { fill: #333; }
`

// svgClass maps a row style to its CSS class.
var svgClass = map[style]string{
	styleReady: "ready", styleOK: "ok", styleExpected: "expected", styleFail: "fail",
	styleClose: "close", styleTimer: "timer", styleCtl: "ctl", styleTLS: "tls",
}

// WriteSVG draws d as an SVG sequence diagram: a time axis on the left, a
// lifeline for each side, events as labelled dots, packets as arrows.
func WriteSVG(w io.Writer, d *Diagram) error {
	rows := d.rows()
	s := &svgWriter{d: d}
	width := s.width(rows)
	lines := wrapAll(d.Findings, svgWrap)
	height := svgTop + len(rows)*svgRowH + 60 + len(lines)*svgRowH
	s.printf(`<svg xmlns="http://www.w3.org/2000/svg" width="%d" height="%d" viewBox="0 0 %d %d">`+"\n",
		width, height, width, height)
	s.printf("<title>%s</title>\n<style>%s</style>\n", esc(d.Title), svgCSS)
	s.printf(`<rect width="100%%" height="100%%" fill="white"/>` + "\n")
	s.header()
	for i, r := range rows {
		s.row(r, svgTop+i*svgRowH)
	}
	s.footer(lines, svgTop+len(rows)*svgRowH+30)
	s.printf("</svg>\n")
	_, err := w.Write(s.buf.Bytes())
	return err
}

type svgWriter struct {
	d   *Diagram
	buf bytes.Buffer
}

func (s *svgWriter) printf(format string, args ...any) { fmt.Fprintf(&s.buf, format, args...) }

// width fits the longest server label and hint.
func (s *svgWriter) width(rows []row) int {
	w := svgMinW
	for _, r := range rows {
		n := utf8.RuneCountInString(r.text)
		if r.state != "" {
			n += utf8.RuneCountInString(" · " + r.state)
		}
		if r.kind == rowArrow {
			n = utf8.RuneCountInString(r.hint)
		}
		w = max(w, svgServerX+12+int(float64(n)*svgCharW)+20)
	}
	return w
}

func (s *svgWriter) header() {
	s.printf(`<text class="title" x="16" y="26">%s</text>`+"\n", esc(s.d.Title))
	s.printf(`<text class="sub" x="16" y="46">%s</text>`+"\n", esc(s.d.Subtitle))
	s.printf(`<text class="time" x="%d" y="82" text-anchor="end">ms</text>`+"\n", svgTimeX)
	for _, p := range []struct {
		x     int
		label string
	}{{svgClientX, orDefault(s.d.Client, SideClient)}, {svgServerX, orDefault(s.d.Server, SideServer)}} {
		bw := int(float64(utf8.RuneCountInString(p.label))*svgCharW) + 24
		s.printf(`<rect class="box" x="%d" y="64" width="%d" height="26" rx="4"/>`+"\n", p.x-bw/2, bw)
		s.printf(`<text class="boxlabel" x="%d" y="82">%s</text>`+"\n", p.x, esc(p.label))
	}
}

// row draws one row whose text baseline is y.
func (s *svgWriter) row(r row, y int) {
	s.lifelines(r.kind == rowGap, y)
	switch r.kind {
	case rowGap:
		s.printf(`<text class="hint" x="%d" y="%d" text-anchor="middle">%s later</text>`+"\n",
			(svgClientX+svgServerX)/2, y, esc(r.text))
	case rowNote:
		s.note(r, y)
	case rowArrow:
		s.arrow(r, y)
	default:
		s.event(r, y)
	}
}

// lifelines draws both lifelines through the row, dashed across a gap.
func (s *svgWriter) lifelines(gap bool, y int) {
	class := "life"
	if gap {
		class = "gapline"
	}
	for _, x := range []int{svgClientX, svgServerX} {
		s.printf(`<line class="%s" x1="%d" y1="%d" x2="%d" y2="%d"/>`+"\n", class, x, y-svgRowH+6, x, y+6)
	}
}

func (s *svgWriter) event(r row, y int) {
	s.printf(`<text class="time" x="%d" y="%d" text-anchor="end">%s</text>`+"\n", svgTimeX, y, fmtMS(r.t))
	x, anchor, lx := svgServerX, "start", svgServerX+12
	if r.side != SideServer {
		x, anchor, lx = svgClientX, "end", svgClientX-12
	}
	dot := map[style]string{styleReady: "dot-ready", styleOK: "dot-ok", styleFail: "dot-fail", styleTLS: "dot-tls"}[r.style]
	radius := 5
	if dot == "" {
		dot, radius = "dot", 3
	}
	s.printf(`<circle class="%s" cx="%d" cy="%d" r="%d"/>`+"\n", dot, x, y-4, radius)
	class := svgClass[r.style]
	// The dot already marks readiness; the text's "●" is for terminals.
	text := strings.TrimPrefix(r.text, "● ")
	s.printf(`<text class="%s" x="%d" y="%d" text-anchor="%s">%s`, class, lx, y, anchor, esc(text))
	if r.state != "" {
		// The space before the dot stays in the event's text: renderers
		// strip whitespace that opens a tspan (librsvg even a no-break
		// space), which glued the dot to the text. Between two characters
		// of one text element a space survives everywhere.
		s.printf(` <tspan class="state">· %s</tspan>`, esc(r.state))
	}
	s.printf("</text>\n")
}

// arrow draws a packet between the lifelines; inferred handshake packets
// are dashed, a dropped one stops halfway at a cross, TLS handshake records
// have the TLS rows' colour.
func (s *svgWriter) arrow(r row, y int) {
	from, to := svgClientX, svgServerX
	if !r.toServer {
		from, to = to, from
	}
	dir := 1
	if !r.toServer {
		dir = -1
	}
	mid := (svgClientX + svgServerX) / 2
	class, head, fill, label := "arrow", "arrow", "#3d85c6", "alabel"
	switch {
	case r.inferred:
		class = "arrow-inferred"
	case r.style == styleTLS:
		class, head, fill, label = "arrow-tls", "arrow-tls", "#8e7cc3", "tlabel"
	}
	ly := y - 2
	if r.style == styleLost {
		s.printf(`<line class="arrow-lost" x1="%d" y1="%d" x2="%d" y2="%d"/>`+"\n", from, ly, mid, ly)
		s.printf(`<text class="lost" x="%d" y="%d">✗</text>`+"\n", mid+dir*6, ly+4)
	} else {
		s.printf(`<line class="%s" x1="%d" y1="%d" x2="%d" y2="%d"/>`+"\n", class, from, ly, to-dir*2, ly)
		s.printf(`<path class="%s" d="M%d %d l%d -4 l0 8 z" style="fill:%s"/>`+"\n", head, to, ly, -dir*9, fill)
	}
	s.printf(`<text class="%s" x="%d" y="%d">%s</text>`+"\n", label, mid, ly-5, esc(r.text))
	if r.hint != "" {
		s.printf(`<text class="hint" x="%d" y="%d">%s</text>`+"\n", svgServerX+12, y, esc(r.hint))
	}
}

func (s *svgWriter) note(r row, y int) {
	s.printf(`<text class="time" x="%d" y="%d" text-anchor="end">%s</text>`+"\n", svgTimeX, y, fmtMS(r.t))
	mid := (svgClientX + svgServerX) / 2
	w := int(float64(utf8.RuneCountInString(r.text))*svgCharW) + 20
	s.printf(`<rect class="note" x="%d" y="%d" width="%d" height="%d" rx="3"/>`+"\n", mid-w/2, y-14, w, svgRowH-2)
	s.printf(`<text class="notetext" x="%d" y="%d">%s</text>`+"\n", mid, y, esc(r.text))
}

func (s *svgWriter) footer(lines []string, y int) {
	if len(lines) == 0 {
		return
	}
	s.printf(`<text class="title" x="16" y="%d">%s</text>`+"\n", y, esc(footerTitle))
	for i, l := range lines {
		// A continuation line's indent is its x: SVG strips the spaces
		// that open a text element, which would undo "  ".
		x := 24.0
		if rest, ok := strings.CutPrefix(l, "  "); ok {
			x, l = x+2*svgCharW, rest
		}
		s.printf(`<text class="finding" x="%g" y="%d">%s</text>`+"\n", x, y+(i+1)*svgRowH, esc(l))
	}
}

// wrapAll wraps each finding at width runes, bulleting its first line.
func wrapAll(findings []string, width int) []string {
	var out []string
	for _, f := range findings {
		prefix := "• "
		line := ""
		for _, word := range strings.Fields(f) {
			if line != "" && utf8.RuneCountInString(line)+1+utf8.RuneCountInString(word) > width {
				out = append(out, prefix+line)
				prefix, line = "  ", ""
			}
			if line != "" {
				line += " "
			}
			line += word
		}
		out = append(out, prefix+line)
	}
	return out
}

func esc(s string) string {
	var b strings.Builder
	xml.EscapeText(&b, []byte(s))
	return b.String()
}

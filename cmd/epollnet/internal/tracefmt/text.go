package tracefmt

import (
	"fmt"
	"io"
	"strings"
	"unicode/utf8"
)

// Text layout, in terminal columns. The client's text sits between the two
// lifelines, the server's after the second one, so the diagram reads like
// the usual handshake drawing: client on the left, server on the right,
// packets in between.
const (
	timeW   = 10 // "  1234.567"
	zoneW   = 46 // client column, from its lifeline to the server's
	textW   = 31 // event text before the TCP state
	wrapW   = 98 // footer lines
	lifeOn  = "│"
	lifeGap = "┆"
)

// TextOptions configures the text renderer.
type TextOptions struct {
	Color bool // ANSI colours; the caller decides whether the output is a terminal
}

// WriteText draws d as a text sequence diagram.
func WriteText(w io.Writer, d *Diagram, o TextOptions) error {
	tw := NewTextWriter(w, d, o)
	if err := tw.Header(); err != nil {
		return err
	}
	for _, r := range d.Records {
		if err := tw.Record(r); err != nil {
			return err
		}
	}
	return tw.Footer(d.Findings)
}

// TextWriter draws a diagram one record at a time, for live traces.
type TextWriter struct {
	w   io.Writer
	d   *Diagram
	pal palette
	lay *layout
	err error
}

// NewTextWriter returns a TextWriter for d; d.Records is not used.
func NewTextWriter(w io.Writer, d *Diagram, o TextOptions) *TextWriter {
	return &TextWriter{w: w, d: d, pal: newPalette(o.Color), lay: newLayout(d.Lost)}
}

// Header writes the title and the column headings.
func (t *TextWriter) Header() error {
	p := t.pal
	if t.d.Title != "" {
		t.printf("%s\n", p.paint(styleTitle, t.d.Title))
	}
	if t.d.Subtitle != "" {
		t.printf("%s\n", t.d.Subtitle)
	}
	client, server := orDefault(t.d.Client, SideClient), orDefault(t.d.Server, SideServer)
	t.printf("\n%*s  %s%s\n", timeW, "ms", p.paint(styleTitle, pad(client, zoneW)), p.paint(styleTitle, server))
	return t.err
}

// Record writes the rows of one record.
func (t *TextWriter) Record(r Record) error {
	for _, rw := range t.lay.add(r) {
		t.printf("%s\n", t.line(rw))
	}
	return t.err
}

// Footer writes the findings, if any.
func (t *TextWriter) Footer(findings []string) error {
	if len(findings) == 0 {
		return t.err
	}
	t.printf("\n%s\n", t.pal.paint(styleTitle, footerTitle))
	for _, l := range wrapAll(findings, wrapW-2) {
		t.printf("  %s\n", l)
	}
	return t.err
}

func (t *TextWriter) printf(format string, args ...any) {
	if t.err == nil {
		_, t.err = fmt.Fprintf(t.w, format, args...)
	}
}

// line renders one row.
func (t *TextWriter) line(r row) string {
	p := t.pal
	switch r.kind {
	case rowGap:
		mid := pad(fmt.Sprintf("   ⋮  %s", r.text), zoneW-1)
		return fmt.Sprintf("%*s  %s%s%s", timeW, "", lifeGap, p.paint(styleGap, mid), lifeGap)
	case rowNote:
		return fmt.Sprintf("%*s  %s", timeW, fmtMS(r.t), p.paint(styleNote, "┄┄ "+r.text+" ┄┄"))
	case rowArrow:
		line := p.paint(r.style, arrowText(r.text, r.toServer, r.style == styleLost, zoneW-1))
		hint := ""
		if r.hint != "" {
			hint = " " + p.paint(styleGap, r.hint)
		}
		return fmt.Sprintf("%*s  %s%s%s%s", timeW, "", lifeOn, line, lifeOn, hint)
	}
	cell := p.paint(r.style, t.cellText(r))
	if r.state != "" {
		cell += p.paint(styleGap, r.state)
	}
	if r.side == SideServer {
		return fmt.Sprintf("%*s  %s%s%s %s", timeW, fmtMS(r.t), lifeOn, strings.Repeat(" ", zoneW-1), lifeOn, cell)
	}
	trail := zoneW - 2 - utf8.RuneCountInString(t.cellText(r)) - utf8.RuneCountInString(r.state)
	return fmt.Sprintf("%*s  %s %s%s%s", timeW, fmtMS(r.t), lifeOn, cell, strings.Repeat(" ", max(trail, 0)), lifeOn)
}

// cellText is an event's text padded so its TCP state lines up; in the
// client column it is cut short rather than push the server's lifeline.
func (t *TextWriter) cellText(r row) string {
	s := r.text
	if r.state != "" {
		s = pad(s, textW) + " "
	}
	if r.side != SideServer { // keep one blank before the server's lifeline
		s = truncate(s, zoneW-3-utf8.RuneCountInString(r.state))
	}
	return s
}

// arrowText draws a horizontal arrow of width runes with label near its
// tail; a lost packet's line stops halfway at a ✗.
func arrowText(label string, toServer, lost bool, width int) string {
	body := "─ " + label + " "
	n := width - 2 - utf8.RuneCountInString(body)
	if lost {
		n /= 2
	}
	shaft := strings.Repeat("─", max(n, 1))
	switch {
	case lost && toServer:
		return pad(" "+body+shaft+"✗", width)
	case lost:
		return leftPad("✗"+shaft+reverse(body)+" ", width)
	case toServer:
		return " " + body + shaft + "▶"
	}
	return "◀" + shaft + reverse(body) + " "
}

// reverse mirrors an arrow's label part so it reads "SYN+ACK ─" on arrows
// that point left.
func reverse(body string) string {
	return " " + strings.TrimSuffix(strings.TrimPrefix(body, "─ "), " ") + " ─"
}

func pad(s string, w int) string {
	if n := utf8.RuneCountInString(s); n < w {
		return s + strings.Repeat(" ", w-n)
	}
	return s
}

func leftPad(s string, w int) string {
	if n := utf8.RuneCountInString(s); n < w {
		return strings.Repeat(" ", w-n) + s
	}
	return s
}

func truncate(s string, w int) string {
	if utf8.RuneCountInString(s) <= w {
		return s
	}
	r := []rune(s)
	return string(r[:w-1]) + "…"
}

func orDefault(s, def string) string {
	if s == "" {
		return def
	}
	return s
}

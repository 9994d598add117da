package tracefmt

// palette paints text with ANSI SGR codes, or not at all.
type palette struct{ on bool }

func newPalette(on bool) palette { return palette{on: on} }

// sgr holds each style's escape sequence. Readiness, the subject of the
// diagram, is the one bold colour; bookkeeping (epoll_ctl, inferred
// packets' hints, TCP states) is dim, so the eye follows the story.
var sgr = map[style]string{
	styleReady:    "\x1b[1;33m",
	styleOK:       "\x1b[32m",
	styleExpected: "\x1b[36m",
	styleFail:     "\x1b[1;31m",
	styleClose:    "\x1b[35m",
	styleTimer:    "\x1b[1;35m",
	styleCtl:      "\x1b[2m",
	styleNote:     "\x1b[3;34m",
	styleArrow:    "\x1b[34m",
	styleLost:     "\x1b[31m",
	styleGap:      "\x1b[2m",
	styleTitle:    "\x1b[1m",
	styleTLS:      "\x1b[96m",
}

// paint wraps s in st's colour. Callers pad before painting: escape codes
// have no width on screen but do count as runes.
func (p palette) paint(st style, s string) string {
	code, ok := sgr[st]
	if !p.on || !ok || s == "" {
		return s
	}
	return code + s + "\x1b[0m"
}

package tracefmt

import (
	"fmt"
	"strings"
)

// style says how a row is emphasised: a colour in text, a class in SVG.
type style uint8

const (
	stylePlain    style = iota
	styleReady          // epoll reported readiness: the rows the diagram is about
	styleOK             // connected, opened
	styleExpected       // EINPROGRESS, EAGAIN: results, not failures
	styleFail           // a real error
	styleClose          // close
	styleTimer          // a timer fired
	styleCtl            // epoll_ctl: bookkeeping, drawn quietly
	styleNote           // a note added by the recorder
	styleArrow          // a packet or stream event between the sides
	styleLost           // a packet that was dropped
	styleGap            // time passing, TCP states, hints
	styleTitle          // headings
	styleTLS            // a TLS handshake: its start and the records it sent
)

// describe returns the diagram text of one record and its style.
func describe(r Record) (string, style) {
	switch r.Kind {
	case "socket":
		return result("socket()", fmt.Sprintf("fd %d", r.FD), r.Err)
	case "listen":
		return fmt.Sprintf("listening on fd %d (backlog %d)", r.FD, r.N), stylePlain
	case "connect":
		return describeConnect(r)
	case "epoll_ctl":
		return describeCtl(r)
	case "ready":
		return describeReady(r), styleReady
	case "SO_ERROR":
		if r.Err == "" {
			return "SO_ERROR → 0", styleOK
		}
		return "SO_ERROR → " + r.Err, styleFail
	case "accept4":
		return describeAccept(r)
	case "read":
		return describeRead(r)
	case "write":
		return result("send()", fmt.Sprintf("%d B", r.N), r.Err)
	case "shutdown":
		return result("shutdown(SHUT_WR)", "", r.Err)
	case "close":
		return describeClose(r)
	case "timer":
		return "timer fired: " + r.Detail, styleTimer
	case "open":
		return fmt.Sprintf("open (conn %d)", r.Conn), styleOK
	case "tls":
		return describeTLS(r)
	case KindNote:
		return r.Detail, styleNote
	}
	return strings.TrimSpace(r.Kind + " " + r.Detail + " " + r.Err), stylePlain
}

// result formats "call → value" on success and "call ✗ ERRNO" on failure;
// EAGAIN and EINPROGRESS are results, not failures, so they get an arrow.
func result(call, ok, err string) (string, style) {
	switch {
	case err == "" && ok == "":
		return call, stylePlain
	case err == "":
		return call + " → " + ok, stylePlain
	case err == "EAGAIN" || err == "EINPROGRESS":
		return call + " → " + err, styleExpected
	}
	return call + " ✗ " + shortErr(err), styleFail
}

func describeConnect(r Record) (string, style) {
	switch r.Err {
	case "":
		return "connect() → 0: connected at once", styleOK
	case "EAGAIN":
		return "connect() → EAGAIN: backlog full", styleExpected
	}
	return result("connect()", "", r.Err)
}

func describeCtl(r Record) (string, style) {
	op := strings.ToUpper(r.Detail)
	s := fmt.Sprintf("epoll_ctl(%s, fd %d, %s)", op, r.FD, interestText(r.Ready))
	if r.Detail == "del" {
		s = fmt.Sprintf("epoll_ctl(DEL, fd %d)", r.FD)
	}
	if r.Err != "" {
		return s + " ✗ " + shortErr(r.Err), styleFail
	}
	if r.Role == "listener" && r.Detail == "mod" {
		if noConditions(r.Ready) {
			return s + ": paused", styleCtl
		}
		return s + ": re-armed", styleCtl
	}
	return s, styleCtl
}

// interestText spells an interest set for the diagram. An empty set is
// "none", also when it carries only the trigger mode: the engine records
// an edge-triggered registration that waits for nothing as "ET", which
// reads like a condition, so it is shown as "none|ET".
func interestText(ready string) string {
	if ready != "none" && noConditions(ready) {
		return "none|" + ready
	}
	return ready
}

// noConditions reports whether an interest set asks for no readiness
// condition at all: "none", or only the trigger mode ("ET"). epoll then
// reports only ERR and HUP, which are never masked.
func noConditions(ready string) bool {
	for _, c := range strings.Split(ready, "|") {
		if c != "none" && c != "ET" && c != "" {
			return false
		}
	}
	return true
}

// describeReady spells the first condition with epoll's prefix, as the
// man pages do ("EPOLLOUT"), and the rest without it, as the interest sets
// are shown ("EPOLLIN|OUT|ERR").
func describeReady(r Record) string {
	s := fmt.Sprintf("● EPOLL%s fd %d", r.Ready, r.FD)
	if r.Role == "listener" {
		s += " (listener)"
	}
	return s
}

func describeAccept(r Record) (string, style) {
	if r.Err == "" {
		s := fmt.Sprintf("accept4() → fd %d", r.N)
		if r.Addr != "" && r.Addr != "@" { // "@": an unnamed Unix socket
			s += " from " + r.Addr
		}
		return s, styleOK
	}
	if r.Err == "EAGAIN" {
		return "accept4() → EAGAIN: queue empty", styleExpected
	}
	return result("accept4()", "", r.Err)
}

func describeRead(r Record) (string, style) {
	switch {
	case r.Err == "" && r.N == 0:
		return "recv() → 0: EOF", styleClose
	case r.Err == "":
		return fmt.Sprintf("recv() → %d B", r.N), stylePlain
	}
	return result("recv()", "", r.Err)
}

func describeClose(r Record) (string, style) {
	s := fmt.Sprintf("close(fd %d)", r.FD)
	switch {
	case r.Role == "listener":
		return s + ": listener", styleClose
	case r.Err == "":
		return s, styleClose
	case isErrno(r.Err):
		return s + ": " + r.Err, styleFail
	}
	return s + ": " + shortErr(r.Err), styleClose
}

// describeTLS names a TLS handshake's progress. The handler's OnOpen runs
// when the handshake is done, not at the connection's open, so the rows
// say so.
func describeTLS(r Record) (string, style) {
	switch {
	case r.Detail == "start":
		return "TLS handshake starts; OnOpen waits for it", styleTLS
	case strings.HasPrefix(r.Detail, "done"):
		return tlsDone(r.Detail) + " → OnOpen", styleOK
	case r.Detail == "failed":
		msg := shortErr(r.Err)
		if strings.HasPrefix(msg, "TLS handshake ") { // the engine's own: "TLS handshake timeout"
			return msg, styleFail
		}
		return "TLS handshake failed: " + msg, styleFail
	}
	return strings.TrimSpace("TLS " + r.Detail + " " + r.Err), styleTLS
}

// tlsDone spells a completed handshake's detail, "done version=TLS1.3
// alpn=h2 resumed=false", as "TLS 1.3 done, ALPN h2, new session".
func tlsDone(detail string) string {
	version, alpn, resumed := "", "", ""
	for _, f := range strings.Fields(detail)[1:] {
		k, v, _ := strings.Cut(f, "=")
		switch k {
		case "version":
			version = v
		case "alpn":
			alpn = v
		case "resumed":
			resumed = v
		}
	}
	if version == "" || alpn == "" || resumed == "" {
		return "TLS handshake " + detail // a detail this renderer does not know
	}
	if rest, ok := strings.CutPrefix(version, "TLS"); ok && rest != "" && rest[0] != ' ' {
		version = "TLS " + rest // crypto/tls's "TLS 1.3", which the engine writes without the space
	}
	s := version + " done, "
	if alpn == "-" {
		s += "no ALPN, "
	} else {
		s += "ALPN " + alpn + ", "
	}
	if resumed == "true" {
		return s + "resumed"
	}
	return s + "new session"
}

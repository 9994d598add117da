package tracefmt

import (
	"fmt"
	"strings"
	"time"
)

// Findings compares the recorded events with the design note's diagram and
// returns one line for each place where they show it wrong or incomplete.
// Each check speaks only when the events show its case, so a trace gets the
// lines that concern it and nothing else. The references point to KERNEL.md.
func Findings(recs []Record) []string {
	var out []string
	for _, check := range []func([]Record) string{
		findHandshakeInsideConnect,
		findUnixConnectZero,
		findListenerAfterClient,
		findFailedConnectWritable,
		findSilentUntilDeadline,
		findRetransmittedSYN,
		findDataBeforeAccept,
		findAcceptExhausted,
		findWriteAfterEOF,
		findDataBeforeReset,
	} {
		if s := check(recs); s != "" {
			out = append(out, s)
		}
	}
	return out
}

// first returns the first record matching pred, and whether there is one.
func first(recs []Record, pred func(Record) bool) (Record, bool) {
	for _, r := range recs {
		if pred(r) {
			return r, true
		}
	}
	return Record{}, false
}

func has(ready, cond string) bool {
	for _, c := range strings.Split(ready, "|") {
		if c == cond {
			return true
		}
	}
	return false
}

func dur(d time.Duration) string {
	if d >= time.Second {
		return fmt.Sprintf("%.2f s", d.Seconds())
	}
	return fmt.Sprintf("%.1f ms", float64(d.Microseconds())/1000)
}

// C1: the note's "while the handshake is in progress" window, on loopback.
func findHandshakeInsideConnect(recs []Record) string {
	r, ok := first(recs, func(r Record) bool {
		return r.Kind == "connect" && r.Err == "EINPROGRESS" && r.TCPState != "" && r.TCPState != "SYN_SENT"
	})
	switch {
	case !ok:
		return ""
	case r.TCPState == "CLOSE":
		return "connect() returned EINPROGRESS although the RST had already closed the socket (state CLOSE): " +
			"the refusal is reported by the next epoll_wait, never by connect() itself (C1, §2.1)."
	}
	return fmt.Sprintf("connect() returned EINPROGRESS although the socket was already %s: on loopback the "+
		"handshake is over before connect() returns, so the note's \"not yet writable\" window never shows (C1).", r.TCPState)
}

// §2.7: Unix sockets have no handshake at all.
func findUnixConnectZero(recs []Record) string {
	if _, ok := first(recs, func(r Record) bool {
		return r.Kind == "connect" && r.Err == "" && r.TCPState == ""
	}); !ok {
		return ""
	}
	return "AF_UNIX connect() returned 0 at once: no EINPROGRESS and no EPOLLOUT to wait for; " +
		"the note's client side holds for TCP only (§2.7)."
}

// C4: the diagram fires the listener's EPOLLIN at SYN+ACK, before the
// client's EPOLLOUT.
func findListenerAfterClient(recs []Record) string {
	out, ok1 := first(recs, func(r Record) bool {
		return r.Kind == "ready" && r.Role == "dialed" && has(r.Ready, "OUT") && !has(r.Ready, "ERR")
	})
	in, ok2 := first(recs, func(r Record) bool {
		return r.Kind == "ready" && r.Role == "listener" && has(r.Ready, "IN")
	})
	// A listener registered after the client connected (a slow server)
	// says nothing about when the kernel made it readable.
	watched, ok3 := first(recs, func(r Record) bool {
		return r.Kind == "epoll_ctl" && r.Role == "listener" && r.Detail == "add" && r.FD == in.FD
	})
	if !ok1 || !ok2 || !ok3 || in.T < out.T || watched.T > out.T {
		return ""
	}
	gap := in.T - out.T
	data, sent := first(recs, func(r Record) bool {
		return r.Kind == "write" && r.Role == "dialed" && r.N > 0 && r.T >= out.T && r.T <= in.T
	})
	if sent && gap >= time.Millisecond && in.T-data.T < gap/2 {
		return fmt.Sprintf("The listener's EPOLLIN came %s after the client's EPOLLOUT, only once the client's "+
			"data arrived: a connected client does not mean the server has seen the connection; the note's "+
			"diagram fires the listener at SYN+ACK, before the client (C4, §2.4).", dur(gap))
	}
	if gap >= time.Millisecond {
		return fmt.Sprintf("The listener's EPOLLIN came %s after the client's EPOLLOUT: it fires when the "+
			"final ACK arrives, not at SYN+ACK as the note's diagram draws it (C4).", dur(gap))
	}
	return "The client's EPOLLOUT was reported before the listener's EPOLLIN; the note's diagram has the " +
		"listener fire first, at SYN+ACK. It fires on the final ACK: --scenario ack-dropped pulls the two apart (C4)."
}

// C3: EPOLLOUT on a connect that failed.
func findFailedConnectWritable(recs []Record) string {
	for i, r := range recs {
		if r.Kind != "ready" || r.Role != "dialed" || !has(r.Ready, "OUT") || !has(r.Ready, "ERR") {
			continue
		}
		so, ok := first(recs[i:], func(s Record) bool { return s.Kind == "SO_ERROR" && s.Conn == r.Conn })
		if ok && so.Err != "" {
			return fmt.Sprintf("EPOLLOUT was reported for a connect that failed (EPOLL%s, SO_ERROR %s): "+
				"EPOLLOUT alone does not mean \"connected, you can now send()\" as the note says; "+
				"only SO_ERROR tells (C3).", r.Ready, so.Err)
		}
	}
	return ""
}

// §2.3: a blackholed connect reports nothing; only a deadline ends it.
func findSilentUntilDeadline(recs []Record) string {
	for i, t := range recs {
		if t.Kind != "timer" || t.Detail != "dial-timeout" {
			continue
		}
		if _, ready := first(recs[:i], func(r Record) bool { return r.Kind == "ready" && r.Conn == t.Conn }); ready {
			continue
		}
		c, ok := first(recs[:i], func(r Record) bool { return r.Kind == "connect" && r.Conn == t.Conn })
		if !ok {
			continue
		}
		return fmt.Sprintf("%s passed without any epoll event for the connecting socket (%s): only the dial "+
			"deadline ended it. The note's client waits for EPOLLOUT; with kernel defaults that wait lasts "+
			"about 134 s (§2.3).", dur(t.T-c.T), orDefault(c.TCPState, "no TCP state"))
	}
	return ""
}

// §2.5: a dropped SYN is a silent delay of whole seconds.
func findRetransmittedSYN(recs []Record) string {
	for i, c := range recs {
		if c.Kind != "connect" || c.TCPState != "SYN_SENT" {
			continue
		}
		r, ok := first(recs[i:], func(r Record) bool {
			return r.Kind == "ready" && r.Conn == c.Conn && r.TCPState == "ESTABLISHED"
		})
		if ok && r.T-c.T >= retransmitMin {
			return fmt.Sprintf("conn %d stayed in SYN_SENT for %s with no event and no error, then connected "+
				"when its SYN was retransmitted: a dropped SYN costs whole seconds, silently (§2.5).", c.Conn, dur(r.T-c.T))
		}
	}
	return ""
}

// C5: the accepted socket is readable at once when data came first.
func findDataBeforeAccept(recs []Record) string {
	for i, a := range recs {
		if a.Kind != "accept4" || a.Err != "" {
			continue
		}
		if _, sent := first(recs[:i], func(r Record) bool { return r.Kind == "write" && r.Role == "dialed" && r.N > 0 }); !sent {
			continue
		}
		r, ok := first(recs[i:], func(r Record) bool { return r.Kind == "ready" && r.Role == "accepted" && r.FD == a.N })
		if ok && has(r.Ready, "IN") {
			return fmt.Sprintf("The request was already queued when accept4() returned, so the accepted socket "+
				"was readable at once (EPOLL%s): EPOLLIN on it does not wait for data sent \"later\" (C5).", r.Ready)
		}
	}
	return ""
}

// §2.8: the server side fails too, and must not spin.
func findAcceptExhausted(recs []Record) string {
	n, errno := 0, ""
	for _, r := range recs {
		if r.Kind == "accept4" && (r.Err == "EMFILE" || r.Err == "ENFILE" || r.Err == "ENOBUFS" || r.Err == "ENOMEM") {
			n, errno = n+1, r.Err
		}
	}
	if n == 0 {
		return ""
	}
	rearmed := ""
	if _, ok := first(recs, func(r Record) bool {
		return r.Kind == "epoll_ctl" && r.Role == "listener" && r.Detail == "mod" && r.Ready != "none"
	}); ok {
		rearmed = " and re-armed it on a timer"
	}
	return fmt.Sprintf("accept4() failed with %s %s while the connection waited in the kernel's queue; "+
		"the engine paused the listener (epoll_ctl MOD, no events)%s instead of spinning on a listener that "+
		"stays readable. The note's server never fails (§2.8).", errno, times(n), rearmed)
}

// §3.14: a FIN closes one direction only.
func findWriteAfterEOF(recs []Record) string {
	for i, r := range recs {
		if r.Kind != "read" || r.N != 0 || r.Err != "" {
			continue
		}
		if w, ok := first(recs[i:], func(w Record) bool { return w.Kind == "write" && w.Conn == r.Conn && w.N > 0 }); ok {
			return fmt.Sprintf("The %s side still wrote %d B after reading EOF: the peer's FIN closed one "+
				"direction only (EPOLLRDHUP), which the note never mentions (§3.14).", r.Side, w.N)
		}
	}
	return ""
}

// §2.9: data sent before an RST is still delivered, then the error.
func findDataBeforeReset(recs []Record) string {
	for i, r := range recs {
		if r.Kind != "read" || r.Err != "ECONNRESET" {
			continue
		}
		if _, ok := first(recs[:i], func(d Record) bool { return d.Kind == "read" && d.Conn == r.Conn && d.N > 0 }); ok {
			return "Data sent before the RST was still read, and only then did recv() fail with ECONNRESET: " +
				"EPOLLIN means \"read will not block\" (data, EOF or error), not \"data arrived\" (C5, §2.9)."
		}
		return "recv() failed with ECONNRESET: EPOLLIN also reports a reset, not only data (C5, §2.9)."
	}
	return ""
}

// times spells a count of occurrences.
func times(n int) string {
	switch n {
	case 1:
		return "once"
	case 2:
		return "twice"
	}
	return fmt.Sprintf("%d times", n)
}

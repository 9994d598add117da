package tracefmt

import (
	"fmt"
	"strings"
	"time"
)

// Findings compares the recorded events with the common picture of
// non-blocking connect() and accept() under epoll (the one drawn in most
// tutorials: EINPROGRESS, then EPOLLOUT means connected; the listener fires
// at SYN+ACK; the accepted socket is readable only when data comes later)
// and returns one line for each place where the events show that picture
// wrong or incomplete. Each line states the belief, then what the kernel did
// here. Each check speaks only when the events show its case, so a trace
// gets the lines that concern it and nothing else. docs/kernel.md describes
// each behaviour.
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
		findTLSOpenAfterHandshake,
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

// belief formats a finding: the common picture, then what the events show.
func belief(common, here string) string { return "Common picture: " + common + ". Here: " + here }

// findHandshakeInsideConnect: on loopback the handshake (or the refusal)
// is over before connect() returns, and connect() still says EINPROGRESS.
func findHandshakeInsideConnect(recs []Record) string {
	r, ok := first(recs, func(r Record) bool {
		return r.Kind == "connect" && r.Err == "EINPROGRESS" && r.TCPState != "" && r.TCPState != "SYN_SENT"
	})
	switch {
	case !ok:
		return ""
	case r.TCPState == "CLOSE":
		return belief("connect() to a port nobody listens on fails at once with ECONNREFUSED",
			"connect() returned EINPROGRESS although the RST had already closed the socket (state CLOSE); "+
				"the refusal is reported by the next epoll_wait, never by connect() itself.")
	}
	return belief("connect() returns EINPROGRESS and the socket is not writable until the handshake is over",
		fmt.Sprintf("connect() returned EINPROGRESS although the socket was already %s; on loopback the "+
			"handshake is over before connect() returns, so the \"not yet writable\" window never shows.", r.TCPState))
}

// findUnixConnectZero: Unix sockets have no handshake at all.
func findUnixConnectZero(recs []Record) string {
	if _, ok := first(recs, func(r Record) bool {
		return r.Kind == "connect" && r.Err == "" && r.TCPState == ""
	}); !ok {
		return ""
	}
	return belief("a non-blocking connect() returns EINPROGRESS, then EPOLLOUT says it is done",
		"the AF_UNIX connect() returned 0 at once, with no EINPROGRESS and no EPOLLOUT to wait for; "+
			"that sequence holds for TCP only.")
}

// findListenerAfterClient: the listener becomes readable on the client's
// final ACK, not at SYN+ACK, so the client's EPOLLOUT comes first.
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
	const common = "the listener becomes readable at SYN+ACK, before the client's EPOLLOUT"
	if sent && gap >= time.Millisecond && in.T-data.T < gap/2 {
		return belief(common, fmt.Sprintf("the listener's EPOLLIN came %s after the client's EPOLLOUT, only once "+
			"the client's data arrived; a connected client does not mean the server has seen the connection.", dur(gap)))
	}
	if gap >= time.Millisecond {
		return belief(common, fmt.Sprintf("the listener's EPOLLIN came %s after the client's EPOLLOUT; the "+
			"listener becomes readable when the client's final ACK arrives, not at SYN+ACK.", dur(gap)))
	}
	return belief(common, "the client's EPOLLOUT was reported before the listener's EPOLLIN; the listener "+
		"becomes readable on the client's final ACK, not at SYN+ACK (--scenario ack-dropped pulls the two apart).")
}

// findFailedConnectWritable: EPOLLOUT on a connect that failed.
func findFailedConnectWritable(recs []Record) string {
	for i, r := range recs {
		if r.Kind != "ready" || r.Role != "dialed" || !has(r.Ready, "OUT") || !has(r.Ready, "ERR") {
			continue
		}
		so, ok := first(recs[i:], func(s Record) bool { return s.Kind == "SO_ERROR" && s.Conn == r.Conn })
		if ok && so.Err != "" {
			return belief("EPOLLOUT on a connecting socket means \"connected, you can now send()\"",
				fmt.Sprintf("EPOLLOUT was reported for a connect that failed (EPOLL%s, SO_ERROR %s); "+
					"only SO_ERROR tells success from failure.", r.Ready, so.Err))
		}
	}
	return ""
}

// findSilentUntilDeadline: a blackholed connect reports nothing; only a
// deadline ends it.
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
		return belief("a connecting client just waits for EPOLLOUT, or for an error",
			fmt.Sprintf("%s passed without any epoll event for the connecting socket (%s): only the dial "+
				"deadline ended it. With the kernel's default SYN retries, a connect to a destination that drops "+
				"SYNs reports nothing for about 134 s.", dur(t.T-c.T), orDefault(c.TCPState, "no TCP state")))
	}
	return ""
}

// findRetransmittedSYN: a SYN dropped (by a full accept queue, say) is a
// silent delay of whole seconds.
func findRetransmittedSYN(recs []Record) string {
	for i, c := range recs {
		if c.Kind != "connect" || c.TCPState != "SYN_SENT" {
			continue
		}
		r, ok := first(recs[i:], func(r Record) bool {
			return r.Kind == "ready" && r.Conn == c.Conn && r.TCPState == "ESTABLISHED"
		})
		if ok && r.T-c.T >= retransmitMin {
			return belief("a connect to a busy server completes quickly or fails with an error",
				fmt.Sprintf("conn %d stayed in SYN_SENT for %s with no event and no error, then connected when "+
					"its SYN was retransmitted; a dropped SYN (a full accept queue drops them silently) costs "+
					"whole seconds.", c.Conn, dur(r.T-c.T)))
		}
	}
	return ""
}

// findDataBeforeAccept: the accepted socket is readable at once when data
// came before accept4().
func findDataBeforeAccept(recs []Record) string {
	for i, a := range recs {
		if a.Kind != "accept4" || a.Err != "" {
			continue
		}
		w, sent := first(recs[:i], func(r Record) bool { return r.Kind == "write" && r.Role == "dialed" && r.N > 0 })
		if !sent {
			continue
		}
		r, ok := first(recs[i:], func(r Record) bool { return r.Kind == "ready" && r.Role == "accepted" && r.FD == a.N })
		if ok && has(r.Ready, "IN") {
			what := "the request"
			if _, tls := first(recs[:i], func(r Record) bool { return r.Kind == "tls" && r.Conn == w.Conn }); tls {
				what = "the client's TLS ClientHello"
			}
			return belief("an accepted socket reports EPOLLIN later, when the client sends data",
				fmt.Sprintf("%s was already queued when accept4() returned, so the accepted socket "+
					"was readable at once (EPOLL%s).", what, r.Ready))
		}
	}
	return ""
}

// findAcceptExhausted: the server side fails too (EMFILE and friends), and
// must not spin on a listener that stays readable.
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
		return r.Kind == "epoll_ctl" && r.Role == "listener" && r.Detail == "mod" && !noConditions(r.Ready)
	}); ok {
		rearmed = " and re-armed it on a timer"
	}
	return belief("the server side cannot fail: accept() returns a connection or EAGAIN",
		fmt.Sprintf("accept4() failed with %s %s while the connection waited in the kernel's queue; "+
			"the engine paused the listener (epoll_ctl MOD, no events)%s instead of spinning on a listener that "+
			"stays readable.", errno, times(n), rearmed))
}

// findWriteAfterEOF: a FIN closes one direction only.
func findWriteAfterEOF(recs []Record) string {
	for i, r := range recs {
		if r.Kind != "read" || r.N != 0 || r.Err != "" {
			continue
		}
		if w, ok := first(recs[i:], func(w Record) bool { return w.Kind == "write" && w.Conn == r.Conn && w.N > 0 }); ok {
			return belief("EOF from recv() means the connection is over",
				fmt.Sprintf("the %s side still wrote %d B after reading EOF; the peer's FIN closed one "+
					"direction only (epoll reports it as EPOLLRDHUP).", r.Side, w.N))
		}
	}
	return ""
}

// findDataBeforeReset: data sent before an RST is still delivered, then
// the error.
func findDataBeforeReset(recs []Record) string {
	for i, r := range recs {
		if r.Kind != "read" || r.Err != "ECONNRESET" {
			continue
		}
		if _, ok := first(recs[:i], func(d Record) bool { return d.Kind == "read" && d.Conn == r.Conn && d.N > 0 }); ok {
			return belief("EPOLLIN means data arrived",
				"data sent before the RST was still read, and only then did recv() fail with ECONNRESET; "+
					"EPOLLIN means \"read will not block\" (data, EOF or an error).")
		}
		return belief("EPOLLIN means data arrived", "recv() failed with ECONNRESET; EPOLLIN also reports a reset.")
	}
	return ""
}

// findTLSOpenAfterHandshake: over TLS, a connection reaches the handler
// only once its handshake is done, some time and round trips after
// accept4() returned it (and after the client's connect completed).
func findTLSOpenAfterHandshake(recs []Record) string {
	for i, a := range recs {
		if a.Kind != "accept4" || a.Err != "" {
			continue
		}
		open, ok := first(recs[i:], func(r Record) bool { return r.Kind == "open" && r.Role == "accepted" && r.FD == a.N })
		if !ok {
			continue
		}
		done, ok := first(recs[i:], func(r Record) bool { return r.Kind == "tls" && r.Conn == open.Conn && isTLSDone(r) })
		if !ok {
			continue
		}
		here := fmt.Sprintf("accept4() returned fd %d, but the handler's OnOpen for it came only when the "+
			"server's TLS handshake was done, %s later", a.N, dur(done.T-a.T))
		client, ok := tlsClient(recs)
		if ok {
			if n := roundTrips(recs, a.T, done.T, open.Conn, client); n > 0 {
				here += ", after " + roundTripsText(n)
			}
			copen, ok1 := first(recs, func(r Record) bool { return r.Kind == "open" && r.Conn == client })
			cdone, ok2 := first(recs, func(r Record) bool { return r.Kind == "tls" && r.Conn == client && isTLSDone(r) })
			if ok1 && ok2 {
				here += fmt.Sprintf("; the client's OnOpen came %s after its connect completed", dur(cdone.T-copen.T))
			}
		}
		return belief("a TLS server has the connection once accept() returns it, and a client once connect() completes",
			here+".")
	}
	return ""
}

func isTLSDone(r Record) bool { return strings.HasPrefix(r.Detail, "done") }

// tlsClient returns the connection ID of the one dialed connection with a
// TLS handshake, if there is exactly one: the server's peer, when the
// trace has both sides.
func tlsClient(recs []Record) (uint64, bool) {
	var id uint64
	for _, r := range recs {
		if r.Kind == "tls" && r.Role == "dialed" && r.Detail == "start" {
			if id != 0 && id != r.Conn {
				return 0, false
			}
			id = r.Conn
		}
	}
	return id, id != 0
}

// roundTrips counts the times, in (from, to], that the server read bytes
// after the client had read some: each is one trip to the client and back.
// Only reads count: the loop records them as they happen, while a
// handshake's writes come from a goroutine of its own and may be recorded
// late.
func roundTrips(recs []Record, from, to time.Duration, server, client uint64) int {
	n, clientRead := 0, false
	for _, r := range recs {
		if r.T <= from || r.T > to || r.Kind != "read" || r.N == 0 {
			continue
		}
		switch r.Conn {
		case client:
			clientRead = true
		case server:
			if clientRead {
				n++
			}
			clientRead = false
		}
	}
	return n
}

func roundTripsText(n int) string {
	if n == 1 {
		return "one round trip to the client and back"
	}
	return fmt.Sprintf("%d round trips to the client and back", n)
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

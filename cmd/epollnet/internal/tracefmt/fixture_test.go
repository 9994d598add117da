package tracefmt

import (
	"net"
	"syscall"
	"time"

	"github.com/epollnet/epollnet"
)

// The fixtures are hand-built traces with fixed times, shaped like what the
// engine records for the CLI's ok and ack-dropped scenarios, so the golden
// files change only when a renderer does.

var (
	lnAddr   = &net.TCPAddr{IP: net.IPv4(127, 0, 0, 1), Port: 40000}
	peerAddr = &net.TCPAddr{IP: net.IPv4(127, 0, 0, 1), Port: 51000}
)

// ev builds one event at t microseconds.
func ev(us int, fd int, conn uint64, role epollnet.Role, kind epollnet.TraceKind) epollnet.TraceEvent {
	return epollnet.TraceEvent{Time: time.Duration(us) * time.Microsecond, FD: fd, Conn: conn, Role: role, Kind: kind}
}

func with(e epollnet.TraceEvent, f func(*epollnet.TraceEvent)) epollnet.TraceEvent {
	f(&e)
	return e
}

const (
	listener = epollnet.RoleListener
	accepted = epollnet.RoleAccepted
	dialed   = epollnet.RoleDialed
	est      = epollnet.TCPState(1)
	closeWt  = epollnet.TCPState(8)
)

func ready(us, fd int, conn uint64, role epollnet.Role, r epollnet.Readiness, st epollnet.TCPState) epollnet.TraceEvent {
	return with(ev(us, fd, conn, role, epollnet.TraceReady), func(e *epollnet.TraceEvent) { e.Ready, e.TCPState = r, st })
}

func ctl(us, fd int, conn uint64, role epollnet.Role, op string, r epollnet.Readiness) epollnet.TraceEvent {
	return with(ev(us, fd, conn, role, epollnet.TraceInterest), func(e *epollnet.TraceEvent) { e.Detail, e.Ready = op, r })
}

func n(e epollnet.TraceEvent, n int, err error) epollnet.TraceEvent {
	e.N, e.Err = n, err
	return e
}

// okEvents is the ok scenario: handshake inside connect, request, reply,
// close from the client, EOF and close on the server.
func okEvents() []epollnet.TraceEvent {
	in, out, rdhup := epollnet.ReadyIn, epollnet.ReadyOut, epollnet.ReadyRdHup
	return []epollnet.TraceEvent{
		ctl(120, 7, 0, listener, "add", in),
		n(ev(131, 7, 0, listener, epollnet.TraceListen), 4096, nil),
		ev(150, 9, 1, dialed, epollnet.TraceSocket),
		ctl(156, 9, 1, dialed, "add", out),
		with(ev(201, 9, 1, dialed, epollnet.TraceConnect), func(e *epollnet.TraceEvent) {
			e.Err, e.Addr, e.TCPState = syscall.EINPROGRESS, lnAddr, est
		}),
		ready(214, 9, 1, dialed, out, est),
		with(ev(216, 9, 1, dialed, epollnet.TraceSOError), func(e *epollnet.TraceEvent) { e.TCPState = est }),
		ctl(219, 9, 1, dialed, "mod", in|rdhup),
		ev(220, 9, 1, dialed, epollnet.TraceOpen),
		n(ev(233, 9, 1, dialed, epollnet.TraceWrite), 11, nil),
		ready(235, 7, 0, listener, in, 0),
		with(ev(240, 7, 0, listener, epollnet.TraceAccept), func(e *epollnet.TraceEvent) { e.N, e.Addr = 10, peerAddr }),
		ctl(244, 10, 2, accepted, "add", in|rdhup),
		ev(245, 10, 2, accepted, epollnet.TraceOpen),
		n(ev(251, 7, 0, listener, epollnet.TraceAccept), -1, syscall.EAGAIN),
		ready(254, 10, 2, accepted, in, est),
		n(ev(260, 10, 2, accepted, epollnet.TraceRead), 11, nil),
		n(ev(268, 10, 2, accepted, epollnet.TraceWrite), 6, nil),
		ready(272, 9, 1, dialed, in, est),
		n(ev(275, 9, 1, dialed, epollnet.TraceRead), 6, nil),
		ctl(279, 9, 1, dialed, "del", 0),
		ev(285, 9, 1, dialed, epollnet.TraceClose),
		ready(301, 10, 2, accepted, in|rdhup, closeWt),
		ev(305, 10, 2, accepted, epollnet.TraceRead),
		ctl(307, 10, 2, accepted, "mod", epollnet.ReadyEdge), // EOF read, nothing to wait for
		ctl(309, 10, 2, accepted, "del", 0),
		n(ev(318, 10, 2, accepted, epollnet.TraceClose), 0, epollnet.ErrPeerClosed),
		ctl(402, 7, 0, listener, "del", 0),
		ev(409, 7, 0, listener, epollnet.TraceClose),
	}
}

// tlsEvents is the tls scenario: the ok exchange over TLS 1.3. The
// client's ClientHello is recorded after the server read it, as the
// handshake goroutine's writes often are.
func tlsEvents() []epollnet.TraceEvent {
	in, out, pri, rdhup, hup, et := epollnet.ReadyIn, epollnet.ReadyOut, epollnet.ReadyPri,
		epollnet.ReadyRdHup, epollnet.ReadyHup, epollnet.ReadyEdge
	tlsEv := func(us, fd int, conn uint64, role epollnet.Role, detail string) epollnet.TraceEvent {
		return with(ev(us, fd, conn, role, epollnet.TraceTLS), func(e *epollnet.TraceEvent) { e.Detail = detail })
	}
	const done = "done version=TLS1.3 alpn=- resumed=false"
	closed := epollnet.TCPState(7)
	return []epollnet.TraceEvent{
		ctl(120, 7, 0, listener, "add", in),
		n(ev(131, 7, 0, listener, epollnet.TraceListen), 4096, nil),
		ev(150, 9, 1, dialed, epollnet.TraceSocket),
		ctl(156, 9, 1, dialed, "add", out|et),
		with(ev(201, 9, 1, dialed, epollnet.TraceConnect), func(e *epollnet.TraceEvent) {
			e.Err, e.Addr, e.TCPState = syscall.EINPROGRESS, lnAddr, est
		}),
		ready(214, 9, 1, dialed, out, est),
		with(ev(216, 9, 1, dialed, epollnet.TraceSOError), func(e *epollnet.TraceEvent) { e.TCPState = est }),
		ctl(219, 9, 1, dialed, "mod", in|pri|rdhup|et),
		ev(220, 9, 1, dialed, epollnet.TraceOpen),
		tlsEv(221, 9, 1, dialed, "start"),
		ready(226, 7, 0, listener, in, 0),
		with(ev(231, 7, 0, listener, epollnet.TraceAccept), func(e *epollnet.TraceEvent) { e.N, e.Addr = 10, peerAddr }),
		ctl(235, 10, 2, accepted, "add", in|pri|rdhup|et),
		ev(236, 10, 2, accepted, epollnet.TraceOpen),
		tlsEv(236, 10, 2, accepted, "start"),
		n(ev(244, 7, 0, listener, epollnet.TraceAccept), -1, syscall.EAGAIN),
		ready(262, 10, 2, accepted, in, est),
		n(ev(266, 10, 2, accepted, epollnet.TraceRead), 1473, nil),
		n(ev(270, 9, 1, dialed, epollnet.TraceWrite), 1473, nil), // recorded after the server read it
		n(ev(631, 10, 2, accepted, epollnet.TraceWrite), 1806, nil),
		ready(634, 9, 1, dialed, in, est),
		n(ev(636, 9, 1, dialed, epollnet.TraceRead), 1806, nil),
		n(ev(905, 9, 1, dialed, epollnet.TraceWrite), 64, nil),
		ready(912, 10, 2, accepted, in, est),
		n(ev(914, 10, 2, accepted, epollnet.TraceRead), 64, nil),
		tlsEv(919, 9, 1, dialed, done),
		n(ev(924, 9, 1, dialed, epollnet.TraceWrite), 33, nil),
		ready(928, 10, 2, accepted, in, est),
		n(ev(931, 10, 2, accepted, epollnet.TraceRead), 33, nil),
		tlsEv(943, 10, 2, accepted, done),
		n(ev(950, 10, 2, accepted, epollnet.TraceWrite), 28, nil),
		ready(964, 9, 1, dialed, in, est),
		n(ev(966, 9, 1, dialed, epollnet.TraceRead), 28, nil),
		n(ev(970, 9, 1, dialed, epollnet.TraceWrite), 24, nil),
		ev(976, 9, 1, dialed, epollnet.TraceShutdown),
		ready(977, 10, 2, accepted, in|rdhup, closeWt),
		n(ev(978, 10, 2, accepted, epollnet.TraceRead), 24, nil),
		n(ev(986, 10, 2, accepted, epollnet.TraceWrite), 24, nil),
		ev(992, 10, 2, accepted, epollnet.TraceShutdown),
		ready(993, 9, 1, dialed, in|hup|rdhup, closed),
		n(ev(994, 9, 1, dialed, epollnet.TraceRead), 24, nil),
		ev(995, 9, 1, dialed, epollnet.TraceRead),
		ctl(996, 9, 1, dialed, "del", 0),
		ev(1003, 9, 1, dialed, epollnet.TraceClose),
		ready(1005, 10, 2, accepted, in|hup|rdhup, closed),
		ev(1006, 10, 2, accepted, epollnet.TraceRead),
		ctl(1006, 10, 2, accepted, "del", 0),
		ev(1007, 10, 2, accepted, epollnet.TraceClose),
		ctl(1056, 7, 0, listener, "del", 0),
		ev(1061, 7, 0, listener, epollnet.TraceClose),
	}
}

// ackDroppedRecords is the ack-dropped scenario, trimmed after accept: a
// note, a dropped ACK, a second of silence, and data that completes the
// handshake.
func ackDroppedRecords() []Record {
	in, out, rdhup := epollnet.ReadyIn, epollnet.ReadyOut, epollnet.ReadyRdHup
	events := []epollnet.TraceEvent{
		ctl(1100, 13, 0, listener, "add", in),
		n(ev(1110, 13, 0, listener, epollnet.TraceListen), 4096, nil),
		ev(1300, 14, 1, dialed, epollnet.TraceSocket),
		ctl(1306, 14, 1, dialed, "add", out),
		with(ev(1390, 14, 1, dialed, epollnet.TraceConnect), func(e *epollnet.TraceEvent) {
			e.Err, e.Addr, e.TCPState = syscall.EINPROGRESS, lnAddr, est
		}),
		ready(1402, 14, 1, dialed, out, est),
		with(ev(1404, 14, 1, dialed, epollnet.TraceSOError), func(e *epollnet.TraceEvent) { e.TCPState = est }),
		ctl(1407, 14, 1, dialed, "mod", in|rdhup),
		ev(1409, 14, 1, dialed, epollnet.TraceOpen),
		n(ev(1001633, 14, 1, dialed, epollnet.TraceWrite), 11, nil),
		ready(1001637, 13, 0, listener, in, 0),
		with(ev(1001660, 13, 0, listener, epollnet.TraceAccept), func(e *epollnet.TraceEvent) { e.N, e.Addr = 9, peerAddr }),
		ctl(1001670, 9, 2, accepted, "add", in|rdhup),
		ev(1001671, 9, 2, accepted, epollnet.TraceOpen),
		ready(1001690, 9, 2, accepted, in, est),
	}
	var recs []Record
	for i := range events {
		recs = append(recs, FromTraceEvent(&events[i]))
		if i == 1 {
			recs = append(recs, Note(1200*time.Microsecond, SideNet, "nft: drop the client's pure ACKs to port 40000"))
		}
	}
	return recs
}

func records(events []epollnet.TraceEvent) []Record {
	out := make([]Record, len(events))
	for i := range events {
		out[i] = FromTraceEvent(&events[i])
	}
	return out
}

func okDiagram() *Diagram {
	recs := records(okEvents())
	return &Diagram{Title: "epollnet trace · scenario ok", Subtitle: "A fixed trace for the golden files.",
		Records: recs, Findings: Findings(recs)}
}

func tlsDiagram() *Diagram {
	recs := records(tlsEvents())
	return &Diagram{Title: "epollnet trace · scenario tls", Subtitle: "A fixed trace for the golden files.",
		Records: recs, Findings: Findings(recs)}
}

func ackDroppedDiagram() *Diagram {
	recs := ackDroppedRecords()
	return &Diagram{Title: "epollnet trace · scenario ack-dropped", Subtitle: "A fixed trace for the golden files.",
		Records: recs, Lost: []string{"ACK"}, Findings: Findings(recs)}
}

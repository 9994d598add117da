package tracefmt

import (
	"fmt"
	"strings"
	"time"
)

// Diagram is what the text and SVG renderers draw.
type Diagram struct {
	Title    string   // first line, e.g. "epollnet trace · scenario ok"
	Subtitle string   // what happened, in one line
	Client   string   // client column heading; "" means "client"
	Server   string   // server column heading; "" means "server"
	Records  []Record // in time order
	// Lost names inferred handshake packets that a rule dropped ("SYN",
	// "ACK"): they are drawn ending in ✗ instead of reaching the other side.
	Lost     []string
	Findings []string // footer lines, usually from Findings(Records)
}

// footerTitle introduces the findings: each states a common belief about
// non-blocking sockets and epoll, then what the kernel did in this trace.
// docs/kernel.md describes each behaviour.
const footerTitle = "Where the common picture is wrong or incomplete, from these events (see docs/kernel.md):"

// rowKind is what one line of the diagram shows.
type rowKind uint8

const (
	rowEvent rowKind = iota // one record, in its side's column
	rowArrow                // a packet or stream event between the lifelines
	rowGap                  // a stretch of time with nothing recorded
	rowNote                 // a note across both columns
)

// row is one line of the diagram, shared by the text and SVG renderers.
type row struct {
	kind     rowKind
	t        time.Duration
	side     string
	text     string
	state    string // TCP state, shown only when it changed
	style    style
	toServer bool   // arrows: direction
	hint     string // arrows: why it is drawn ("inferred: inside connect()")
	inferred bool   // arrows: a packet no event recorded, deduced from TCP states
}

// gapMin is the pause between two records that earns a gap row: long
// enough to be a timeout, a retransmission or a deliberate wait, never the
// microseconds between two syscalls.
const gapMin = 50 * time.Millisecond

// retransmitMin is the shortest wait after which a connect that was in
// SYN_SENT can only have completed through a retransmitted SYN: Linux's
// initial RTO is 1 s, jittered by timer granularity.
const retransmitMin = 900 * time.Millisecond

// connInfo is what the layout remembers about one connection to infer the
// packets between the recorded events.
type connInfo struct {
	network   string // "tcp", "unix" or "" while unknown
	opened    bool
	finSent   bool
	pending   bool // connect left it in SYN_SENT: the handshake is still to come
	connectAt time.Duration
	tls       tlsPhase
	tlsWrites int // writes during the TLS handshake so far
}

// tlsPhase is where a connection's TLS handshake is, from its "tls" records.
type tlsPhase uint8

const (
	tlsNone      tlsPhase = iota // no TLS, or not yet known
	tlsHandshake                 // started: what it reads and writes are handshake records
	tlsOpen                      // done: what it writes are records of the handler's data
	tlsFailed                    // failed: the connection closes
)

// layout turns records into rows one at a time, so that a live trace can be
// printed as it happens.
type layout struct {
	lost   map[string]bool
	last   time.Duration
	any    bool
	conns  map[uint64]*connInfo
	states map[[2]uint64]string // (conn, fd) -> last TCP state shown
	// Bytes each side has sent and read, to notice a send() recorded after
	// the other side read its bytes (see dataArrow).
	sent, read map[string]int
}

func newLayout(lost []string) *layout {
	l := &layout{lost: map[string]bool{}, conns: map[uint64]*connInfo{},
		states: map[[2]uint64]string{}, sent: map[string]int{}, read: map[string]int{}}
	for _, p := range lost {
		l.lost[p] = true
	}
	return l
}

// rows lays out a whole diagram.
func (d *Diagram) rows() []row {
	l := newLayout(d.Lost)
	var out []row
	for _, r := range d.Records {
		out = append(out, l.add(r)...)
	}
	return out
}

// add returns the rows for r: perhaps a gap, the inferred packets that must
// have crossed before r, r itself, and those r sent.
func (l *layout) add(r Record) []row {
	var out []row
	if l.any && r.T-l.last >= gapMin {
		out = append(out, row{kind: rowGap, t: r.T, text: fmtGap(r.T - l.last), style: styleGap})
	}
	l.any, l.last = true, r.T
	if r.Kind == KindNote && r.Side == SideNet {
		return append(out, row{kind: rowNote, t: r.T, side: SideNet, text: r.Detail, style: styleNote})
	}
	c := l.conn(r)
	out = append(out, l.before(r, c)...)
	text, st := describe(r)
	if (r.Kind == "read" || r.Kind == "write") && st == stylePlain && c.tls == tlsHandshake {
		st = styleTLS // ciphertext the handshake exchanged
	}
	if r.Kind == "read" && r.Err == "" {
		l.read[r.Side] += r.N
	}
	out = append(out, row{kind: rowEvent, t: r.T, side: r.Side, text: text, style: st, state: l.state(r)})
	return append(out, l.after(r, c)...)
}

// conn returns the remembered state of r's connection, learning its network
// from whether the kernel reports a TCP state for it.
func (l *layout) conn(r Record) *connInfo {
	if r.Conn == 0 {
		return &connInfo{}
	}
	c := l.conns[r.Conn]
	if c == nil {
		c = &connInfo{}
		l.conns[r.Conn] = c
	}
	switch {
	case r.TCPState != "":
		c.network = "tcp"
	case c.network == "" && (r.Kind == "connect" || r.Kind == "ready"):
		c.network = "unix"
	}
	switch {
	case r.Kind == "open":
		c.opened = true
	case r.Kind == "tls" && r.Detail == "start":
		c.tls = tlsHandshake
	case r.Kind == "tls" && strings.HasPrefix(r.Detail, "done"):
		c.tls = tlsOpen
	case r.Kind == "tls" && r.Detail == "failed":
		c.tls = tlsFailed
	}
	return c
}

// state returns r's TCP state if it differs from the last one shown for
// the same socket, so a diagram names each transition once.
func (l *layout) state(r Record) string {
	if r.TCPState == "" {
		return ""
	}
	k := [2]uint64{r.Conn, uint64(r.FD)}
	if l.states[k] == r.TCPState {
		return ""
	}
	l.states[k] = r.TCPState
	return r.TCPState
}

// before infers the handshake's end for a connect that returned in
// SYN_SENT, drawn just before the event that reveals it.
func (l *layout) before(r Record, c *connInfo) []row {
	if r.Kind != "ready" || !c.pending {
		return nil
	}
	c.pending = false
	switch r.TCPState {
	case "ESTABLISHED":
		var out []row
		if r.T-c.connectAt >= retransmitMin {
			out = append(out, l.packet("SYN (retransmitted)", true, "inferred: the first SYN got no answer"))
		}
		return append(out, l.packet("SYN+ACK", false, ""), l.packet("ACK", true, ""))
	case "CLOSE":
		return []row{l.packet("RST", false, "inferred: the connection was refused")}
	}
	return nil
}

// after infers what r put on the wire.
func (l *layout) after(r Record, c *connInfo) []row {
	toServer := r.Side == SideClient
	switch {
	case r.Kind == "connect" && r.Role == "dialed":
		return l.connectPackets(r, c)
	case r.Kind == "write" && r.N > 0:
		return []row{l.dataArrow(r, c, toServer)}
	case r.Kind == "shutdown" && r.Err == "":
		c.finSent = true
		return []row{arrow(c.finName(), toServer, styleArrow, "")}
	case r.Kind == "close" && c.opened && !c.finSent:
		c.finSent = true
		switch r.Err {
		case "", "epollnet: connection closed by peer", "epollnet: engine shut down":
			return []row{arrow(c.finName(), toServer, styleArrow, "")}
		case "epollnet: connection aborted locally", "epollnet: linger timeout":
			if c.network != "unix" {
				return []row{arrow("RST", toServer, styleArrow, "")}
			}
		}
	}
	return nil
}

// dataArrow draws the bytes a send() wrote. Over TLS its hint says whether
// they were handshake records (the client's first is its ClientHello) or
// records of the handler's data. It also notes a send() recorded after the
// other side had already read its bytes: the engine stamps a write once
// the call has returned, and a TLS handshake writes from a goroutine of
// its own, which may run again only after the other side's loop has read
// them. Only a trace with both sides can show that: with one side alone,
// the other reads nothing.
func (l *layout) dataArrow(r Record, c *connInfo, toServer bool) row {
	peer := SideClient
	if toServer {
		peer = SideServer
	}
	late := l.read[peer] > l.sent[r.Side]
	l.sent[r.Side] += r.N
	st, hint := styleArrow, ""
	switch c.tls {
	case tlsHandshake:
		st, hint = styleTLS, "TLS handshake"
		if c.tlsWrites == 0 && r.Role == "dialed" {
			hint += ": ClientHello"
		}
		c.tlsWrites++
	case tlsOpen:
		hint = "TLS records"
	}
	if late {
		hint = strings.TrimPrefix(hint+"; recorded late: the "+peer+" had read it already", "; ")
	}
	return arrow(fmt.Sprintf("%d B", r.N), toServer, st, hint)
}

// finName is what a graceful close sends: a FIN on TCP, an end of stream
// on a Unix socket, which has no packets.
func (c *connInfo) finName() string {
	if c.network == "unix" {
		return "EOF"
	}
	return "FIN"
}

// connectPackets draws the SYN a TCP connect sent and, when the kernel
// already reported the outcome, the rest of the handshake: on loopback it
// completes (or is refused) inside connect() itself, which still returns
// EINPROGRESS.
func (l *layout) connectPackets(r Record, c *connInfo) []row {
	if r.TCPState == "" || (r.Err != "" && r.Err != "EINPROGRESS") {
		return nil
	}
	c.connectAt = r.T
	out := []row{l.packet("SYN", true, "")}
	switch r.TCPState {
	case "ESTABLISHED":
		out[0].hint = "inferred: handshake done inside connect()"
		out = append(out, l.packet("SYN+ACK", false, ""), l.packet("ACK", true, ""))
	case "CLOSE":
		out[0].hint = "inferred: refused inside connect()"
		out = append(out, l.packet("RST", false, ""))
	default:
		c.pending = true
	}
	return out
}

// packet is an inferred handshake packet, drawn as lost if a rule drops it.
func (l *layout) packet(name string, toServer bool, hint string) row {
	if l.lost[name] {
		return arrow(name, toServer, styleLost, "dropped")
	}
	a := arrow(name, toServer, styleArrow, hint)
	a.inferred = true
	return a
}

func arrow(label string, toServer bool, st style, hint string) row {
	return row{kind: rowArrow, text: label, toServer: toServer, style: st, hint: hint}
}

// fmtMS formats a time as milliseconds with microsecond precision.
func fmtMS(t time.Duration) string {
	return fmt.Sprintf("%.3f", float64(t.Microseconds())/1000)
}

// fmtGap formats a pause for a gap row: "998.4 ms", "1.50 s".
func fmtGap(d time.Duration) string {
	if d >= time.Second {
		return fmt.Sprintf("%.2f s", d.Seconds())
	}
	return fmt.Sprintf("%.1f ms", float64(d.Microseconds())/1000)
}

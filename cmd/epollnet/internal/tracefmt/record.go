// Package tracefmt turns the engine's trace (epollnet.TraceEvent) into
// things people read: a two-column client/server sequence diagram as text or
// SVG, one JSON object per event, and a short list of findings where the
// recorded events contradict or complete the common picture of non-blocking
// connect() and accept() under epoll (see Findings).
//
// Renderers work on Records, a flat, string-typed copy of a TraceEvent plus
// the diagram column it belongs to. Records are also the JSON schema (see
// docs/trace.md), so a trace written with WriteJSON can be read back with
// ReadJSON and drawn again.
package tracefmt

import (
	"errors"
	"net"
	"strings"
	"syscall"
	"time"

	"github.com/epollnet/epollnet"
)

// Sides of the diagram: the column a record is drawn in.
const (
	SideClient = "client" // sockets this process dialed
	SideServer = "server" // listeners and the connections they accepted
	SideNet    = "net"    // the wire between them: notes about rules and packets
)

// KindNote is the Kind of records that are not engine events but remarks
// added by whoever recorded the trace ("nft drops SYNs to port 8080").
const KindNote = "note"

// Record is one trace event, flattened for rendering and JSON. Empty
// strings and zero numbers mean "not applicable".
type Record struct {
	T        time.Duration // since the engine started
	Loop     int           // event loop index, -1 outside any loop
	FD       int           // the socket the event is about, -1 if none
	Conn     uint64        // connection ID, 0 for listeners
	Role     string        // "listener", "accepted", "dialed" or ""
	Kind     string        // "socket", "connect", "ready", ... or KindNote
	Ready    string        // readiness ("IN|OUT") for ready, interest for epoll_ctl
	N        int           // bytes, the fd accept4 returned, or the backlog
	Err      string        // errno name ("EINPROGRESS") or error text
	Addr     string        // peer address for connect and accept4
	TCPState string        // kernel TCP state ("ESTABLISHED"), TCP only
	Detail   string        // epoll_ctl op, timer name, or a KindNote's text
	Side     string        // SideClient, SideServer or SideNet
}

// FromTraceEvent copies ev into a Record. Errors become errno names when
// they wrap a syscall.Errno (ECONNREFUSED, not "connection refused"), so
// they read as in the kernel documentation and compare as strings.
func FromTraceEvent(ev *epollnet.TraceEvent) Record {
	r := Record{
		T: ev.Time, Loop: ev.Loop, FD: ev.FD, Conn: ev.Conn,
		Role: roleName(ev.Role), Kind: ev.Kind.String(), N: ev.N,
		Err: ErrString(ev.Err), Detail: ev.Detail, Side: SideOf(ev.Role),
		TCPState: ev.TCPState.String(),
	}
	if ev.Addr != nil {
		r.Addr = ev.Addr.String()
	}
	switch ev.Kind {
	case epollnet.TraceReady:
		r.Ready = ev.Ready.String()
	case epollnet.TraceInterest:
		if ev.Detail != "del" {
			r.Ready = ev.Ready.String()
		}
	}
	return r
}

// Note returns a note record for side at time t.
func Note(t time.Duration, side, text string) Record {
	return Record{T: t, Loop: -1, FD: -1, Kind: KindNote, Detail: text, Side: side}
}

// SideOf maps a socket's role to its diagram column.
func SideOf(r epollnet.Role) string {
	switch r {
	case epollnet.RoleDialed:
		return SideClient
	case epollnet.RoleListener, epollnet.RoleAccepted:
		return SideServer
	}
	return SideNet
}

func roleName(r epollnet.Role) string {
	if r == 0 {
		return ""
	}
	return r.String()
}

// ErrString names err: the errno's symbol if it wraps one ("ECONNRESET"),
// otherwise its message without the *net.OpError wrapping ("epollnet: dial
// timeout", not "dial tcp 127.0.0.1:80: epollnet: dial timeout"), since
// the record says which socket it is about; "" for nil.
func ErrString(err error) string {
	if err == nil {
		return ""
	}
	var errno syscall.Errno
	if errors.As(err, &errno) {
		if name := errnoName(errno); name != "" {
			return name
		}
	}
	var op *net.OpError
	if errors.As(err, &op) && op.Err != nil {
		return op.Err.Error()
	}
	return err.Error()
}

// shortErr shortens an error for the diagram: the engine's sentinel
// messages lose their package prefix.
func shortErr(s string) string {
	return strings.TrimPrefix(s, "epollnet: ")
}

// isErrno reports whether s looks like an errno symbol rather than a message.
func isErrno(s string) bool {
	if len(s) < 2 || s[0] != 'E' {
		return false
	}
	for _, ch := range s {
		if (ch < 'A' || ch > 'Z') && (ch < '0' || ch > '9') {
			return false
		}
	}
	return true
}

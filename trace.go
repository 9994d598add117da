package epollnet

import (
	"fmt"
	"net"
	"syscall"
	"time"

	"github.com/epollnet/epollnet/internal/poller"
	"github.com/epollnet/epollnet/internal/sys"
)

// TraceKind names what a TraceEvent records.
type TraceKind uint8

// Trace kinds, one per system call result or readiness transition.
const (
	TraceSocket   TraceKind = iota + 1 // socket() created FD (Err on failure)
	TraceListen                        // listen() on FD; N is the backlog
	TraceConnect                       // connect() returned: Err nil (0), EINPROGRESS, EAGAIN or an errno
	TraceInterest                      // epoll_ctl: Detail "add", "mod" or "del", Ready the interest set
	TraceReady                         // epoll_wait reported Ready for FD
	TraceSOError                       // SO_ERROR read on a connecting socket: Err nil or the errno
	TraceAccept                        // accept4() on listener FD: N the new fd, or Err (EAGAIN, EMFILE...)
	TraceRead                          // read(): N bytes, or N 0 and Err nil at EOF, or Err
	TraceWrite                         // send()/sendmsg(): N bytes written, or Err (EAGAIN, EPIPE...)
	TraceShutdown                      // shutdown(SHUT_WR)
	TraceClose                         // close(); Err is the close reason given to OnClose
	TraceTimer                         // a timer fired; Detail says which
	TraceOpen                          // the connection opened: OnOpen follows, or with TLS or a PROXY header, the layer that waits for them
	// TraceTLS is a TLS handshake's progress: Detail "start"; "done" with
	// the version, the ALPN protocol and whether the session was resumed,
	// as in "done version=TLS1.3 alpn=h2 resumed=false"; or "failed" with
	// Err the reason.
	TraceTLS
)

var traceKindNames = [...]string{"?", "socket", "listen", "connect", "epoll_ctl", "ready",
	"SO_ERROR", "accept4", "read", "write", "shutdown", "close", "timer", "open", "tls"}

// String returns the system call or transition name, e.g. "accept4".
func (k TraceKind) String() string {
	if int(k) < len(traceKindNames) {
		return traceKindNames[k]
	}
	return fmt.Sprintf("TraceKind(%d)", int(k))
}

// Readiness is a set of readiness conditions as epoll reports them.
type Readiness uint32

// Readiness conditions, named after epoll's EPOLLIN, EPOLLPRI, EPOLLOUT,
// EPOLLERR, EPOLLHUP, EPOLLRDHUP and EPOLLET. In a TraceInterest
// event the set is the interest registered, where ReadyEdge marks an
// edge-triggered registration (EPOLLET).
const (
	ReadyIn    = Readiness(poller.Readable)
	ReadyPri   = Readiness(poller.Priority) // urgent (TCP) or out-of-band data
	ReadyOut   = Readiness(poller.Writable)
	ReadyErr   = Readiness(poller.Error)
	ReadyHup   = Readiness(poller.Hangup)
	ReadyRdHup = Readiness(poller.ReadHangup)
	ReadyEdge  = Readiness(poller.Edge)
)

// String renders the set as "IN|OUT|RDHUP" (with "ET" for ReadyEdge), or "none".
func (r Readiness) String() string { return poller.Events(r).String() }

// TCPState is the kernel's TCP state from TCP_INFO.
type TCPState uint8

var tcpStateNames = [...]string{"", "ESTABLISHED", "SYN_SENT", "SYN_RECV", "FIN_WAIT1",
	"FIN_WAIT2", "TIME_WAIT", "CLOSE", "CLOSE_WAIT", "LAST_ACK", "LISTEN", "CLOSING"}

// String returns the state's name as in include/net/tcp_states.h, or "" if
// unknown (as for Unix sockets).
func (s TCPState) String() string {
	if int(s) < len(tcpStateNames) {
		return tcpStateNames[s]
	}
	return fmt.Sprintf("TCPState(%d)", int(s))
}

// TraceEvent is one record of the engine's trace. The pointer passed to
// Options.Tracer is reused: copy what you keep.
type TraceEvent struct {
	Time     time.Duration // monotonic, since the engine started
	Loop     int           // the index of the loop that owns the descriptor
	FD       int
	Conn     uint64 // connection ID, 0 for listeners
	Role     Role
	Kind     TraceKind
	Ready    Readiness // for TraceReady and TraceInterest
	N        int       // bytes, the new fd of accept4, or the backlog
	Err      error     // the errno, or the close reason
	Addr     net.Addr  // peer address, for TraceConnect and TraceAccept
	TCPState TCPState  // for TCP sockets on TraceReady, TraceConnect, TraceSOError
	Detail   string
}

// trace emits an event when Options.Tracer is set. The nil check is the
// whole cost when tracing is off; the benchmarks show it.
func (l *loop) trace(k TraceKind, fd int, c *Conn, role Role, ready poller.Events, n int, err error) {
	if l.opts.Tracer == nil {
		return
	}
	l.emit(k, fd, c, role, ready, n, err, "")
}

func (l *loop) traceDetail(k TraceKind, fd int, c *Conn, role Role, detail string, err error) {
	if l.opts.Tracer == nil {
		return
	}
	l.emit(k, fd, c, role, 0, 0, err, detail)
}

func (l *loop) emit(k TraceKind, fd int, c *Conn, role Role, ready poller.Events, n int, err error, detail string) {
	ev := TraceEvent{Time: time.Duration(l.eng.clock()), Loop: l.id, FD: fd, Role: role,
		Kind: k, Ready: Readiness(ready), N: n, Err: err, Detail: detail}
	if c != nil {
		ev.Conn = c.id
		ev.Role = c.role
		if k == TraceConnect { // on the loop: dial state is loop-owned
			if d := c.dialing(); d != nil {
				ev.Addr = d.addr
			}
		}
	}
	if c != nil && c.net != netUnix && fd >= 0 &&
		(k == TraceReady || k == TraceConnect || k == TraceSOError) {
		if st, err := sys.TCPState(fd); err == nil {
			ev.TCPState = TCPState(st)
		}
	}
	l.opts.Tracer(&ev)
}

func (l *loop) traceCtl(op string, fd int, c *Conn, role Role, interest poller.Events, err error) {
	if l.opts.Tracer == nil {
		return
	}
	l.emit(TraceInterest, fd, c, role, interest, 0, err, op)
}

func (l *loop) traceAccept(lfd, nfd int, err error) {
	if l.opts.Tracer == nil {
		return
	}
	var addr net.Addr
	if ap, ok := l.sa.AddrPort(); ok && err == nil {
		addr = net.TCPAddrFromAddrPort(ap)
	}
	l.opts.Tracer(&TraceEvent{Time: time.Duration(l.eng.clock()), Loop: l.id, FD: lfd,
		Role: RoleListener, Kind: TraceAccept, N: nfd, Err: err, Addr: addr})
}

// errnoOrNil turns a zero errno into a nil error without allocating.
func errnoOrNil(e syscall.Errno) error {
	if e == 0 {
		return nil
	}
	return e
}

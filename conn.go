package epollnet

import (
	"net"
	"net/netip"
	"sync"
	"sync/atomic"
	"time"

	"github.com/epollnet/epollnet/internal/poller"
	"github.com/epollnet/epollnet/internal/sys"
)

type connState uint8

const (
	stateNew connState = iota
	stateConnecting
	stateOpen
	stateClosed
)

// Role says what a socket is to the engine.
type Role uint8

// Roles of sockets in traces and on connections.
const (
	RoleListener Role = iota + 1 // a listening socket
	RoleAccepted                 // a connection accepted from a listener
	RoleDialed                   // a connection this process dialed
)

// String returns "listener", "accepted" or "dialed".
func (r Role) String() string {
	switch r {
	case RoleListener:
		return "listener"
	case RoleAccepted:
		return "accepted"
	case RoleDialed:
		return "dialed"
	}
	return "unknown"
}

// Role reports whether the connection was accepted or dialed.
func (c *Conn) Role() Role { return c.role }

// Conn is a non-blocking connection owned by one event loop. Write, Writev,
// Close, CloseWrite, Abort, PauseRead, ResumeRead, the timeout setters and
// the accessors are safe to call from any goroutine; every call made after
// the connection closed returns an error wrapping ErrClosed (or, for
// accessors, the last known value) and never panics.
type Conn struct {
	// Immutable after creation. (Fields are ordered to avoid padding: a
	// server may hold a million of these.)
	id      uint64
	fd      int
	loop    *loop
	h       Handler
	network string
	raddr   netip.AddrPort // accepted TCP peer: kept compact, no allocation
	remote  net.Addr       // dialed or named Unix peer; *proxyState with ProxyProtocol (proxy.go)

	ctx atomic.Value

	// Owned by the loop goroutine.
	gen         uint32
	interest    poller.Events
	in          *[]byte // bytes the handler left unconsumed (pooled), or nil
	closeWhy    error
	idleNs      int64
	readNs      int64
	lingerAt    int64
	lingerCheck int64 // next SIOCOUTQ check while lingering
	lingerEvery int64
	lastRead    int64
	lastActive  int64
	timer       timerEntry
	dial        *dialState // set while a dial is in progress, nil once open

	// Shared with writers on any goroutine; mu also guarantees that fd is
	// open while held and !wclosed: the loop sets wclosed under mu before it
	// closes the descriptor, so a Write can never reach a reused fd.
	mu  sync.Mutex
	out *outQueue // nil while nothing is pending

	// Small fields last, packed together. reqs carries Close/Abort and
	// PauseRead requests to the loop at once, so that a handler calling them
	// from OnData gets no further OnData (their tasks follow later):
	reqs atomic.Uint32
	// Immutable:
	role Role
	// Owned by the loop goroutine:
	state connState
	lf    loopFlags
	// Guarded by mu:
	mf muFlags
}

// loopFlags are the connection's booleans owned by the loop goroutine.
type loopFlags uint16

const (
	lReadEOF   loopFlags = 1 << iota // read returned 0: the peer's FIN
	lPeerFirst                       // the peer's FIN came before any local close
	lPaused                          // PauseRead took effect
	lParked                          // deregistered while paused with ERR/HUP pending
	lWantOut                         // EPOLLOUT wanted: output pending
	lClosing                         // graceful close in progress: flush, FIN, linger
	lLingering                       // FIN sent, waiting for the peer's (finishGraceful)
	lShutWr                          // shutdown(SHUT_WR) pending or done
	lShutDone                        // shutdown(SHUT_WR) done
	lProxyWait                       // awaiting a PROXY header: reads go to the parser, no OnOpen yet (proxy.go)
)

func (f loopFlags) has(b loopFlags) bool { return f&b != 0 }
func (f *loopFlags) set(b loopFlags)     { *f |= b }
func (f *loopFlags) clr(b loopFlags)     { *f &^= b }

// muFlags are the connection's booleans guarded by Conn.mu: writers on any
// goroutine read and set them.
type muFlags uint8

const (
	mWclosed   muFlags = 1 << iota // no more writes: Close, CloseWrite, Abort or closed
	mCloseReq                      // Close or Abort requested
	mAbortReq                      // Abort requested (or a write failed)
	mFdClosed                      // the descriptor is closed: fd must not be used
	mArmQueued                     // a taskArmOut is queued
	mAboveHigh                     // pending output passed WriteHighWater
	mWrote                         // a direct write happened since the last deadline check
	mReady                         // connected: writes may go to the socket directly
)

func (f muFlags) has(b muFlags) bool { return f&b != 0 }
func (f *muFlags) set(b muFlags)     { *f |= b }
func (f *muFlags) clr(b muFlags)     { *f &^= b }

// dialState is what a connection needs only while dialing; accepted
// connections never carry it, and a dial drops it once open.
type dialState struct {
	cfg       DialConfig
	addr      net.Addr
	at        int64 // the dial deadline, on the loop clock
	retryAt   int64 // next AF_UNIX connect retry after EAGAIN, or 0
	unixRetry int64 // current retry backoff
	done      chan error
}

var connIDs atomic.Uint64

func newConn(l *loop, fd int, network string, h Handler, role Role) *Conn {
	c := &Conn{id: connIDs.Add(1), fd: fd, loop: l, h: h, network: network, role: role}
	c.timer.index = -1
	c.timer.c = c
	c.idleNs = durNanos(l.opts.IdleTimeout)
	c.readNs = durNanos(l.opts.ReadTimeout)
	return c
}

// ID returns a number unique among the process's connections.
func (c *Conn) ID() uint64 { return c.id }

// LoopIndex returns the index of the event loop that owns the connection.
func (c *Conn) LoopIndex() int { return c.loop.id }

// RemoteAddr returns the peer's address (for accepted Unix sockets, usually
// an unnamed *net.UnixAddr), or nil for a dial that has not connected yet.
// Behind a proxy (ListenConfig.ProxyProtocol) it is the client's address
// from the PROXY header; Conn.ProxyHeader has the proxy's.
func (c *Conn) RemoteAddr() net.Addr {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.remoteLocked()
}

func (c *Conn) remoteLocked() net.Addr {
	switch {
	case c.remote != nil:
		if ps, ok := c.remote.(*proxyState); ok {
			return ps.remoteAddr(c)
		}
		return c.remote
	case c.raddr.IsValid():
		return net.TCPAddrFromAddrPort(c.raddr)
	case c.network == "unix" && c.role == RoleAccepted:
		return &net.UnixAddr{Net: "unix"} // unnamed peer, as usual
	}
	return nil
}

// LocalAddr returns the connection's local address (getsockname), or nil
// once it is closed or before a dial created its socket.
func (c *Conn) LocalAddr() net.Addr {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.mf.has(mFdClosed) || c.fd < 0 {
		return nil
	}
	a, _ := sys.LocalAddr(c.fd)
	return a
}

// SetContext attaches a value to the connection, for the handler's state.
func (c *Conn) SetContext(v any) { c.ctx.Store(ctxBox{v}) }

// Context returns the value given to SetContext, or nil.
func (c *Conn) Context() any {
	if b, ok := c.ctx.Load().(ctxBox); ok {
		return b.v
	}
	return nil
}

type ctxBox struct{ v any }

// Buffered returns how many bytes of output are waiting for the socket to
// become writable.
func (c *Conn) Buffered() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.pending()
}

const (
	reqClose uint32 = 1 << iota // Close or Abort was called: deliver nothing more
	reqPause                    // PauseRead was called and not yet resumed
)

// Close closes the connection gracefully: output already passed to Write is
// flushed, a FIN is sent, and the descriptor is closed when the peer has
// finished too or Options.LingerTimeout passed. OnClose follows on the loop.
// Writes after Close fail with ErrClosed.
func (c *Conn) Close() error {
	if !c.request(true) {
		return c.opError("close", ErrClosed)
	}
	c.reqs.Or(reqClose)
	c.loop.enqueue(task{kind: taskClose, c: c})
	return nil
}

// Abort closes the connection at once with an RST (SO_LINGER 0), discarding
// pending output. OnClose follows with ErrAborted.
func (c *Conn) Abort() error {
	c.mu.Lock()
	done := c.mf.has(mFdClosed) || c.mf.has(mAbortReq)
	c.mf.set(mCloseReq | mWclosed | mAbortReq)
	c.mu.Unlock()
	if done {
		return c.opError("abort", ErrClosed)
	}
	c.reqs.Or(reqClose)
	c.loop.enqueue(task{kind: taskAbort, c: c})
	return nil
}

// CloseWrite flushes pending output and then shuts down the write half
// (shutdown SHUT_WR): the peer reads EOF while this side can still read.
func (c *Conn) CloseWrite() error {
	if !c.request(false) {
		return c.opError("close-write", ErrClosed)
	}
	c.loop.enqueue(task{kind: taskCloseWrite, c: c})
	return nil
}

// request marks the write side closed, and the connection closing if full.
// It reports false if the write side was already closed.
func (c *Conn) request(full bool) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.mf.has(mCloseReq) || (c.mf.has(mWclosed) && !full) {
		return false
	}
	c.mf.set(mWclosed)
	if full {
		c.mf.set(mCloseReq)
	}
	return true
}

// PauseRead stops reading from the socket until ResumeRead: the kernel's
// receive buffer fills and TCP flow control slows the peer down.
func (c *Conn) PauseRead() error {
	c.reqs.Or(reqPause) // before the task, so OnData stops at once
	if err := c.loopRequest("pause-read", taskPauseRead); err != nil {
		c.reqs.And(^reqPause)
		return err
	}
	return nil
}

// ResumeRead resumes reading after PauseRead. Unconsumed bytes kept from
// before are offered to OnData again first.
func (c *Conn) ResumeRead() error {
	c.reqs.And(^reqPause)
	return c.loopRequest("resume-read", taskResumeRead)
}

// SetIdleTimeout replaces Options.IdleTimeout for this connection; 0
// disables it. It is applied on the loop shortly after the call.
func (c *Conn) SetIdleTimeout(d time.Duration) error {
	return c.setTimeouts(func() { c.idleNs = durNanos(d) })
}

// SetReadTimeout replaces Options.ReadTimeout for this connection; 0
// disables it. The clock starts from the last data received.
func (c *Conn) SetReadTimeout(d time.Duration) error {
	return c.setTimeouts(func() { c.readNs = durNanos(d) })
}

func (c *Conn) setTimeouts(set func()) error {
	if c.isClosed() {
		return c.opError("set-timeout", ErrClosed)
	}
	c.loop.enqueue(task{kind: taskTimeouts, c: c, fn: set})
	return nil
}

// AfterFunc runs f on the connection's loop after d, even if the connection
// has closed by then. Stop the returned Timer to cancel it.
func (c *Conn) AfterFunc(d time.Duration, f func()) *Timer {
	return c.loop.afterFunc(d, f)
}

func (c *Conn) loopRequest(op string, k taskKind) error {
	if c.isClosed() {
		return c.opError(op, ErrClosed)
	}
	c.loop.enqueue(task{kind: k, c: c})
	return nil
}

func (c *Conn) isClosed() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.mf.has(mCloseReq)
}

// opError shapes an error the way Go's net package does, so callers can use
// errors.Is, errors.As(*net.OpError) and net.Error alike.
func (c *Conn) opError(op string, err error) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	return &net.OpError{Op: op, Net: c.network, Addr: c.remoteLocked(), Err: err}
}

func (c *Conn) markWriteClosed() {
	c.mu.Lock()
	c.mf.set(mWclosed | mCloseReq)
	c.mu.Unlock()
}

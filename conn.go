package epollnet

import (
	"net"
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
	// A server may hold a million of these, so Conn keeps only what every
	// idle connection needs, in 112 bytes (an allocation size class;
	// TestConnSize holds it there), and points to the rest (conn_state.go).
	// Fields are ordered to avoid padding.
	id   uint64      // immutable
	loop *loop       // immutable
	src  *connSource // loop-owned; the handler, and the listener for an accepted connection (see proxyLayer)
	x    *connExt    // what only some connections need; see connExt
	ctx  atomic.Pointer[ctxBox]
	in   *[]byte   // loop-owned; bytes the handler left unconsumed (pooled), or nil
	out  *outQueue // guarded by mu; nil while nothing is pending
	fd   int       // written under mu (a dial creates it on the loop)

	// Owned by the loop goroutine. lastRead and lastActive (the last read
	// or flush; direct writes count at the next check, mWrote) are kept for
	// every connection: the idle and read timeouts need nothing else
	// (timeout_sweep.go), and a timeout set later still counts from them.
	lastRead   int64
	lastActive int64
	gen        uint32
	interest   poller.Events // as registered, trigger mode aside; unwatched while parked

	// reqs carries Close/Abort and PauseRead requests to the loop at once,
	// so that a handler calling them from OnData gets no further OnData
	// (their tasks follow later). Its reqTLS bit, set before publication,
	// marks a connection with a TLS layer: Write, Close and CloseWrite test
	// it, without the lock, to take the layer's path (tls_conn.go).
	reqs atomic.Uint32

	// Shared with writers on any goroutine; mu also guarantees that fd is
	// open while held and !mWclosed: the loop sets mWclosed under mu before
	// it closes the descriptor, so a Write can never reach a reused fd.
	mu sync.Mutex

	port4 uint16  // immutable; the peer's port for an accepted TCP/IPv4 connection, else 0
	ip4   [4]byte // immutable; its address (other peers are in x)
	lf    loopFlags
	mf    muFlags // guarded by mu
	state connState
	role  Role    // immutable
	net   netKind // immutable
}

var connIDs atomic.Uint64

func newConn(l *loop, fd int, network string, src *connSource, role Role) *Conn {
	return &Conn{id: connIDs.Add(1), fd: fd, loop: l, src: src, net: netKindOf(network), role: role}
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
	case c.x != nil && c.x.remote != nil:
		if ps, ok := c.x.remote.(*proxyState); ok {
			return ps.remoteAddr(c)
		}
		return c.x.remote
	case c.peer().IsValid():
		return net.TCPAddrFromAddrPort(c.peer())
	case c.net == netUnix && c.role == RoleAccepted:
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

// LoopTime returns the wall-clock time at which the connection's loop
// began its current round of events (its last one, when called off the
// loop): one clock reading per round, shared by every callback of the
// round, like libuv's uv_now and nginx's cached time. An HTTP server
// stamping a Date header on each response can use it instead of time.Now,
// which costs a clock call per response. The loop reads the monotonic
// clock each round and the wall clock at most a second apart, so LoopTime
// follows a step of the system clock (or a suspend) within a second. It
// carries no monotonic reading: to measure durations, use time.Now.
func (c *Conn) LoopTime() time.Time {
	l := c.loop
	return time.Unix(0, l.nowA.Load()+l.wallOff.Load())
}

// SetContext attaches a value to the connection, for the handler's state.
func (c *Conn) SetContext(v any) { c.ctx.Store(&ctxBox{v}) }

// Context returns the value given to SetContext, or nil.
func (c *Conn) Context() any {
	if b := c.ctx.Load(); b != nil {
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
	reqTLS                      // not a request: the connection has a TLS layer, for good
)

// Close closes the connection gracefully: output already passed to Write is
// flushed (with TLS, followed by close_notify), a FIN is sent, and the
// descriptor is closed when the peer has acknowledged everything or sent
// its FIN. A peer that stops reading is
// reset after Options.SendTimeout (while output waits in the engine) or
// Options.LingerTimeout (after the FIN) without progress; a slow one gets
// every byte. OnClose follows on the loop. Writes after Close fail with
// ErrClosed.
func (c *Conn) Close() error {
	if c.reqs.Load()&reqTLS != 0 {
		return c.closeTLS()
	}
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
// With TLS, close_notify precedes the FIN.
func (c *Conn) CloseWrite() error {
	if c.reqs.Load()&reqTLS != 0 {
		return c.closeWriteTLS()
	}
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
// before are offered to OnData again first (with TLS, followed by the
// plaintext of records already received).
func (c *Conn) ResumeRead() error {
	c.reqs.And(^reqPause)
	return c.loopRequest("resume-read", taskResumeRead)
}

// SetIdleTimeout replaces Options.IdleTimeout for this connection; 0
// disables it. It is applied on the loop shortly after the call. The clock
// runs from the last read or write. Unlike the engine's, the connection's
// timeouts have a timer entry of their own (48 bytes, allocated by the
// first setter call) and are not rounded to the loop's sweep.
func (c *Conn) SetIdleTimeout(d time.Duration) error {
	return c.setTimeouts(durNanos(d), -1)
}

// SetReadTimeout replaces Options.ReadTimeout for this connection; 0
// disables it. The clock runs from the last data received.
func (c *Conn) SetReadTimeout(d time.Duration) error {
	return c.setTimeouts(-1, durNanos(d))
}

// setTimeouts sets the idle and read timeouts, in nanoseconds, on the
// loop; -1 keeps one.
func (c *Conn) setTimeouts(idle, read int64) error {
	if c.isClosed() {
		return c.opError("set-timeout", ErrClosed)
	}
	l := c.loop
	l.post(func() {
		if c.state == stateClosed {
			return
		}
		t := c.ownTimeouts()
		if idle >= 0 {
			t.idleNs = idle
		}
		if read >= 0 {
			t.readNs = read
		}
		l.armDeadline(c)
	})
	return nil
}

// AfterFunc runs f on the connection's loop after d, even if the connection
// has closed by then. Stop the returned Timer to cancel it.
func (c *Conn) AfterFunc(d time.Duration, f func()) *Timer {
	return c.loop.afterFunc(d, c, f)
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
	return &net.OpError{Op: op, Net: c.net.String(), Addr: c.remoteLocked(), Err: err}
}

func (c *Conn) markWriteClosed() {
	c.mu.Lock()
	c.mf.set(mWclosed | mCloseReq)
	c.mu.Unlock()
}

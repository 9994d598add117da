package epollnet

import (
	"context"
	"fmt"
	"log/slog"
	"net"
	"os"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/epollnet/epollnet/internal/poller"
	"github.com/epollnet/epollnet/internal/sys"
)

// Listener is a listening socket (or, with ReusePort, one per loop) whose
// connections are served by the engine's loops. Its methods are safe from
// any goroutine.
type Listener struct {
	eng     *Engine
	src     connSource   // shared by its connections
	proxy   *proxyLayer  // with ListenConfig.ProxyProtocol, else nil
	tls     *tlsSettings // with ListenConfig.TLSConfig, else nil
	network string
	addr    net.Addr
	cfg     ListenConfig
	handles []*lnHandle
	unlink  string // Unix socket path this listener created
	// foreign: the socket came from outside (ListenFD, ListenFrom), with
	// options the engine did not choose.
	foreign bool

	mu     sync.Mutex
	closed bool
	done   chan struct{}
	left   int // handles not yet closed by their loops

	// With cfg.MaxConns: open counts the connections accepted and not yet
	// closed, those in transit to their loop included; capped counts the
	// handles stopped at the cap (listener_maxconns.go).
	open   atomic.Int64
	capped atomic.Int32
}

// lnHandle is one listening descriptor registered in one loop.
type lnHandle struct {
	ln   *Listener
	fd   int
	loop *loop
	gen  uint32
	// interest is Readable, or 0 while paused or full (updateListener).
	interest poller.Events
	paused   bool // after EMFILE and friends, until a retry
	full     bool // at ListenConfig.MaxConns, until a connection closes
	timer    timerEntry
}

// Addr returns the listener's address, with the port the kernel chose when
// it was asked for port 0.
func (ln *Listener) Addr() net.Addr { return ln.addr }

// Close stops accepting: each loop deregisters and closes its listening
// descriptor. Connections already accepted are not affected. Close waits
// for the loops unless it is called on a loop goroutine (from a handler),
// where waiting would deadlock; Done tells when closing completed.
func (ln *Listener) Close() error {
	ln.mu.Lock()
	if ln.closed {
		ln.mu.Unlock()
		return &net.OpError{Op: "close", Net: ln.network, Addr: ln.addr, Err: ErrClosed}
	}
	ln.closed = true
	ln.mu.Unlock()
	for _, lh := range ln.handles {
		lh.loop.post(func() { lh.loop.removeListener(lh) })
	}
	ln.eng.forget(ln)
	if !ln.eng.onLoopGoroutine() {
		<-ln.done
	}
	return nil
}

// Done returns a channel closed once every listening descriptor is closed.
func (ln *Listener) Done() <-chan struct{} { return ln.done }

func (ln *Listener) handleClosed() {
	ln.mu.Lock()
	ln.left--
	last := ln.left == 0
	ln.mu.Unlock()
	if last {
		if ln.unlink != "" {
			os.Remove(ln.unlink)
		}
		close(ln.done)
	}
}

// resolveListen turns network and address into a socket address.
func resolveListen(network, address string) (net.Addr, error) {
	switch network {
	case "tcp", "tcp4", "tcp6":
		a, err := net.ResolveTCPAddr(network, address)
		if err != nil {
			return nil, err
		}
		if network == "tcp4" && a.IP == nil {
			a.IP = net.IPv4zero
		}
		return a, nil
	case "unix":
		if address == "" {
			return nil, fmt.Errorf("epollnet: empty Unix socket path")
		}
		return &net.UnixAddr{Name: address, Net: "unix"}, nil
	}
	return nil, net.UnknownNetworkError(network)
}

// listenSocket creates, binds and listens one socket. listen() never blocks
// and never reports EINPROGRESS: it only sets the socket's state, nothing
// goes on the wire (see docs/kernel.md, "listen never blocks").
func listenSocket(network string, addr net.Addr, cfg *ListenConfig) (int, error) {
	fd, err := sys.Socket(sys.Family(addr), sys.SOCK_STREAM, 0)
	if err != nil {
		return -1, sys.Wrap("socket", err)
	}
	if err := configureListener(fd, network, addr, cfg); err != nil {
		sys.Close(fd)
		return -1, err
	}
	return fd, nil
}

func configureListener(fd int, network string, addr net.Addr, cfg *ListenConfig) error {
	if network != "unix" {
		if err := sys.SetReuseAddr(fd); err != nil {
			return sys.Wrap("setsockopt", err)
		}
		if network == "tcp6" {
			if err := sys.SetV6Only(fd, true); err != nil {
				return sys.Wrap("setsockopt", err)
			}
		}
		if cfg.ReusePort {
			if err := sys.SetReusePort(fd); err != nil {
				return sys.Wrap("setsockopt", err)
			}
		}
	}
	if err := sys.Bind(fd, addr); err != nil {
		return sys.Wrap("bind", err)
	}
	if err := sys.Listen(fd, cfg.Backlog); err != nil {
		return sys.Wrap("listen", err)
	}
	if cfg.DeferAccept > 0 && network != "unix" {
		if err := sys.SetDeferAccept(fd, deferSeconds(cfg.DeferAccept)); err != nil {
			return sys.Wrap("setsockopt", err)
		}
	}
	return nil
}

// deferSeconds rounds a TCP_DEFER_ACCEPT period up to whole seconds.
func deferSeconds(d time.Duration) int { return int((d + time.Second - 1) / time.Second) }

// addListener registers a listening descriptor on this loop. The listener
// is level-triggered: a batch that stops before EAGAIN, or an EMFILE, leaves
// it readable and nothing is stranded, where an edge-triggered listener
// would report no new event until the next client arrived (see
// docs/kernel.md, "Edge- versus level-triggered listener").
func (l *loop) addListener(lh *lnHandle) {
	if l.stop {
		l.closeListenerFD(lh)
		return
	}
	// listen() ran in Engine.Listen; the record is emitted here, on the loop
	// that serves the socket, just before it is registered.
	l.trace(TraceListen, lh.fd, nil, RoleListener, 0, lh.ln.cfg.Backlog, nil)
	gen, err := l.register(lh.fd, nil, poller.Readable)
	if err != nil {
		l.reportAcceptError(err)
		sys.Close(lh.fd)
		lh.ln.handleClosed()
		return
	}
	lh.gen, lh.interest = gen, poller.Readable
	l.lhs = append(l.lhs, lh)
}

func (l *loop) removeListener(lh *lnHandle) {
	for i, h := range l.lhs {
		if h == lh {
			l.lhs = append(l.lhs[:i], l.lhs[i+1:]...)
			l.closeListenerFD(lh)
			return
		}
	}
}

// fire runs when a paused listener's retry delay has passed (timerOwner).
func (lh *lnHandle) fire(l *loop) {
	l.traceDetail(TraceTimer, lh.fd, nil, RoleListener, "accept-retry", nil)
	l.resumeListener(lh)
}

func (l *loop) closeListenerFD(lh *lnHandle) {
	l.timers.remove(&lh.timer)
	if lh.full {
		lh.full = false
		lh.ln.capped.Add(-1)
	}
	if lh.gen != 0 {
		l.unregister(lh.fd, nil, lh.interest)
	}
	sys.Close(lh.fd)
	l.trace(TraceClose, lh.fd, nil, RoleListener, 0, 0, nil)
	lh.ln.handleClosed()
}

// acceptEvent accepts up to AcceptBatch connections with accept4 until
// EAGAIN. Errors that concern only the connection being accepted are
// skipped; resource exhaustion pauses the listener (see docs/kernel.md,
// "accept errors that concern one connection" and "EMFILE on accept and the
// wake-up storm").
func (l *loop) acceptEvent(lh *lnHandle) {
	for i := 0; i < l.opts.AcceptBatch; i++ {
		if lh.ln.atCap() {
			l.capListener(lh)
			return
		}
		fd, err := sys.Accept(lh.fd, &l.sa)
		l.traceAccept(lh.fd, fd, err)
		switch {
		case err == nil:
			l.stats.accepted.Add(1)
			lh.ln.took()
			l.dispatchAccepted(lh, fd)
		case err == syscall.EAGAIN:
			return // normal, also right after a wake-up on a shared listener
		case sys.IsTemporaryAccept(err):
			l.stats.acceptErrors.Add(1)
			l.reportAcceptError(sys.Wrap("accept4", err))
		case sys.IsResourceExhaustion(err):
			l.stats.acceptErrors.Add(1)
			l.pauseListener(lh)
			l.reportAcceptError(sys.Wrap("accept4", err))
			return
		default:
			// EBADF, EINVAL, ENOTSOCK: the descriptor itself is broken.
			// Pause rather than spin; the retry shows whether it recovered.
			l.stats.acceptErrors.Add(1)
			l.pauseListener(lh)
			l.reportAcceptError(sys.Wrap("accept4", err))
			return
		}
	}
}

// dispatchAccepted makes a new descriptor a connection of the loop that
// will serve it, with the peer's address (sys unmaps IPv4 clients of a
// dual-stack listener) or, for Unix sockets, its name, and hands it over.
// The Conn is not published until that loop adopts it.
func (l *loop) dispatchAccepted(lh *lnHandle, fd int) {
	ln := lh.ln
	target := l
	if !ln.cfg.ReusePort {
		target = l.eng.pickLoop()
	}
	c := newConn(target, fd, ln.network, &ln.src, RoleAccepted)
	if ln.foreign {
		c.lf.set(lForeign) // accepted sockets inherit the listener's SO_LINGER
	}
	ap, _ := l.sa.AddrPort()
	c.setPeer(ap)
	if ln.network == "unix" {
		if name := l.sa.UnixName(); name != "" {
			c.ext().remote = &net.UnixAddr{Name: name, Net: "unix"}
		}
	}
	if ln.tls != nil {
		// The layer serves the connection from the start, or once its
		// PROXY header is in (proxyLayer.admit and open).
		c.src = &newTLSConn(c, ln.src.h, ln.tls, ln).src
	}
	if target == l {
		l.adopt(c)
		return
	}
	if !target.enqueue(task{kind: taskAdopt, c: c}) {
		sys.Close(fd) // that loop has stopped: the engine is shutting down
		l.releaseSlot(ln)
	}
}

// servingSource returns the source that serves c once any PROXY header is
// in: its TLS layer's, or the listener's own.
func (ln *Listener) servingSource(c *Conn) *connSource {
	if t := c.tlsLayer(); t != nil {
		return &t.src
	}
	return &ln.src
}

// pauseListener silences a listener whose accept hit EMFILE and friends.
// The connection stays in the kernel's queue, so level-triggered epoll
// would report the listener on every wait, accept4 would fail again, and
// the loop would spin (see docs/kernel.md, "EMFILE on accept and the
// wake-up storm"). It is re-armed after AcceptRetryDelay, or sooner when a
// connection of this loop closes.
func (l *loop) pauseListener(lh *lnHandle) {
	if lh.paused {
		return
	}
	lh.paused = true
	l.updateListener(lh)
	l.stats.acceptPauses.Add(1)
	l.logRare("epollnet: listener paused: accept4 is out of resources; the connection stays queued",
		slog.Int("loop", l.id), slog.String("addr", lh.ln.addr.String()),
		slog.Duration("retry", l.opts.AcceptRetryDelay))
	lh.timer.owner = lh
	l.timers.schedule(&lh.timer, l.now+durNanos(l.opts.AcceptRetryDelay))
}

func (l *loop) resumeListener(lh *lnHandle) {
	if !lh.paused {
		return
	}
	lh.paused = false
	l.timers.remove(&lh.timer)
	l.updateListener(lh) // still silent at MaxConns: uncap re-arms it
}

// rearmPausedListeners resumes paused listeners when a descriptor was freed.
func (l *loop) rearmPausedListeners() {
	for _, lh := range l.lhs {
		if lh.paused {
			l.resumeListener(lh)
		}
	}
}

// logRare logs to Options.Logger at most once a second per loop, so an
// EMFILE storm cannot flood the log.
func (l *loop) logRare(msg string, attrs ...slog.Attr) {
	if l.opts.Logger == nil || l.now < l.nextLog {
		return
	}
	l.nextLog = l.now + int64(time.Second)
	l.opts.Logger.LogAttrs(context.Background(), slog.LevelWarn, msg, attrs...)
}

func (l *loop) reportAcceptError(err error) {
	if f := l.opts.OnAcceptError; f != nil {
		f(err)
	}
}

package epollnet

import (
	"context"
	"errors"
	"fmt"
	"net"
	"runtime"
	"strconv"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/epollnet/epollnet/internal/sys"
)

// Engine runs a set of event loops. Create one with New, add listeners and
// connections, and end it with Shutdown or Close. Its methods are safe from
// any goroutine.
type Engine struct {
	opts  Options
	loops []*loop
	epoch time.Time
	rr    atomic.Uint64

	closing  atomic.Bool
	ctx      context.Context // canceled by Shutdown: ends name lookups of DialAsync
	cancel   context.CancelFunc
	mu       sync.Mutex
	lns      map[*Listener]struct{}
	drained  chan struct{}
	drainOne sync.Once
	loopErr  error
	loopGIDs map[uint64]bool
}

// New starts an engine with its event loops running.
func New(opts Options) (*Engine, error) {
	o, err := opts.withDefaults()
	if err != nil {
		return nil, err
	}
	e := &Engine{opts: o, epoch: time.Now(), lns: map[*Listener]struct{}{},
		drained: make(chan struct{}), loopGIDs: map[uint64]bool{}}
	e.ctx, e.cancel = context.WithCancel(context.Background())
	for i := 0; i < o.Loops; i++ {
		l, err := newLoop(e, i)
		if err != nil {
			e.cancel()
			for _, l := range e.loops {
				l.p.Close()
			}
			return nil, err
		}
		e.loops = append(e.loops, l)
	}
	started := make(chan uint64)
	for _, l := range e.loops {
		go func(l *loop) {
			started <- goroutineID()
			l.run()
		}(l)
	}
	for range e.loops {
		e.loopGIDs[<-started] = true
	}
	return e, nil
}

// clock is the engine's monotonic time in nanoseconds.
func (e *Engine) clock() int64 { return int64(time.Since(e.epoch)) }

// Loops returns the number of event loops.
func (e *Engine) Loops() int { return len(e.loops) }

// Listen starts accepting connections on network ("tcp", "tcp4", "tcp6" or
// "unix") and address, served by h. cfg may be nil.
func (e *Engine) Listen(network, address string, h Handler, cfg *ListenConfig) (*Listener, error) {
	c, err := e.listenPrologue(network, h, cfg)
	if err != nil {
		return nil, err
	}
	addr, err := resolveListen(network, address)
	if err != nil {
		return nil, &net.OpError{Op: "listen", Net: network, Err: err}
	}
	if network == "unix" && c.ReusePort {
		return nil, &net.OpError{Op: "listen", Net: network, Addr: addr,
			Err: errors.New("epollnet: ReusePort does not apply to Unix sockets")}
	}
	n := 1
	if c.ReusePort {
		n = len(e.loops)
	}
	var fds []int
	for i := 0; i < n; i++ {
		fd, err := listenSocket(network, addr, &c)
		if err != nil {
			for _, fd := range fds {
				sys.Close(fd)
			}
			return nil, &net.OpError{Op: "listen", Net: network, Addr: addr, Err: err}
		}
		if i == 0 && network != "unix" {
			// Port 0: every SO_REUSEPORT sibling binds the port chosen here.
			if a, err := sys.LocalAddr(fd); err == nil {
				addr = a
			}
		}
		fds = append(fds, fd)
	}
	unlink := ""
	if network == "unix" {
		unlink = address // the listener created the file: it removes it
	}
	return e.newListener(network, addr, h, c, fds, true, unlink)
}

// ListenFD serves connections from an already listening socket, such as one
// inherited through socket activation. On success the engine owns fd and has
// set it non-blocking; on error the caller still owns it. ReusePort in cfg
// is ignored: fd is served by one loop.
func (e *Engine) ListenFD(fd int, h Handler, cfg *ListenConfig) (*Listener, error) {
	c, err := e.listenPrologue("fd", h, cfg)
	if err != nil {
		return nil, err
	}
	c.ReusePort = false
	network, addr, err := inspectListener(fd)
	if err != nil {
		return nil, &net.OpError{Op: "listen", Net: "fd" + strconv.Itoa(fd), Err: err}
	}
	if c.ProxyProtocol != nil {
		if err := c.ProxyProtocol.checkTrusted(network); err != nil {
			return nil, &net.OpError{Op: "listen", Net: network, Addr: addr, Err: err}
		}
	}
	if err := sys.SetNonblock(fd); err != nil {
		return nil, &net.OpError{Op: "listen", Net: network, Addr: addr, Err: err}
	}
	if c.DeferAccept > 0 && network != "unix" {
		if err := sys.SetDeferAccept(fd, deferSeconds(c.DeferAccept)); err != nil {
			return nil, &net.OpError{Op: "listen", Net: network, Addr: addr, Err: sys.Wrap("setsockopt", err)}
		}
	}
	return e.newListener(network, addr, h, c, []int{fd}, false, "")
}

// ListenFrom serves connections from a net.Listener's socket (a
// *net.TCPListener or *net.UnixListener). The engine works on a duplicate of
// the descriptor; the caller still owns ln and should close it.
func (e *Engine) ListenFrom(ln net.Listener, h Handler, cfg *ListenConfig) (*Listener, error) {
	sc, ok := ln.(syscall.Conn)
	if !ok {
		return nil, fmt.Errorf("epollnet: ListenFrom: %T has no SyscallConn method", ln)
	}
	raw, err := sc.SyscallConn()
	if err != nil {
		return nil, fmt.Errorf("epollnet: ListenFrom: %w", err)
	}
	// Duplicate through Control rather than File: (*os.File).Fd would put
	// the shared open file description, and so ln itself, in blocking mode.
	fd, derr := -1, error(nil)
	if err := raw.Control(func(s uintptr) { fd, derr = sys.Dup(int(s)) }); err != nil {
		return nil, fmt.Errorf("epollnet: ListenFrom: %w", err)
	}
	if derr != nil {
		return nil, sys.Wrap("fcntl", derr)
	}
	l, err := e.ListenFD(fd, h, cfg)
	if err != nil {
		sys.Close(fd)
	}
	return l, err
}

func inspectListener(fd int) (string, net.Addr, error) {
	if typ, err := sys.SocketType(fd); err != nil {
		return "", nil, sys.Wrap("getsockopt", err)
	} else if typ != sys.SOCK_STREAM {
		return "", nil, errors.New("epollnet: descriptor is not a stream socket")
	}
	if ok, err := sys.IsListening(fd); err != nil || !ok {
		return "", nil, errors.New("epollnet: descriptor is not a listening socket")
	}
	addr, err := sys.LocalAddr(fd)
	if err != nil {
		return "", nil, sys.Wrap("getsockname", err)
	}
	if _, ok := addr.(*net.UnixAddr); ok {
		return "unix", addr, nil
	}
	return "tcp", addr, nil
}

func (e *Engine) listenPrologue(network string, h Handler, cfg *ListenConfig) (ListenConfig, error) {
	var c ListenConfig
	if cfg != nil {
		c = *cfg
	}
	if h == nil {
		return c, &net.OpError{Op: "listen", Net: network, Err: errNilHandler}
	}
	if e.closing.Load() {
		return c, &net.OpError{Op: "listen", Net: network, Err: ErrEngineClosed}
	}
	if c.Backlog < 0 || c.DeferAccept < 0 || c.MaxConns < 0 {
		return c, &net.OpError{Op: "listen", Net: network, Err: errors.New("epollnet: negative Backlog, DeferAccept or MaxConns")}
	}
	if c.Backlog == 0 {
		c.Backlog = 4096
	}
	if c.ProxyProtocol != nil {
		pc, err := c.ProxyProtocol.normalized(network)
		if err != nil {
			return c, &net.OpError{Op: "listen", Net: network, Err: err}
		}
		c.ProxyProtocol = pc
	}
	if c.TLSHandshakeTimeout < 0 {
		return c, &net.OpError{Op: "listen", Net: network, Err: errors.New("epollnet: negative TLSHandshakeTimeout")}
	}
	if c.TLSConfig != nil {
		if err := checkServerConfig(c.TLSConfig); err != nil {
			return c, &net.OpError{Op: "listen", Net: network, Err: err}
		}
	}
	return c, nil
}

// newListener hands the listening descriptors to their loops. If the engine
// stopped meanwhile (a Shutdown racing this Listen), it fails with
// ErrEngineClosed; the descriptors are closed when closeFDs is set (they
// are the engine's own) and left to the caller otherwise. unlink names a
// Unix socket file to remove when the listener closes.
func (e *Engine) newListener(network string, addr net.Addr, h Handler, cfg ListenConfig, fds []int, closeFDs bool, unlink string) (*Listener, error) {
	ln := &Listener{eng: e, network: network, addr: addr, cfg: cfg,
		done: make(chan struct{}), left: len(fds), unlink: unlink, foreign: !closeFDs}
	ln.src = connSource{h: h, ln: ln}
	if cfg.ProxyProtocol != nil {
		ln.proxy = newProxyLayer(ln)
	}
	if cfg.TLSConfig != nil {
		ln.tls, _ = newTLSSettings(cfg.TLSConfig, cfg.TLSHandshakeTimeout, cfg.OnTLSError) // checked in listenPrologue
	}
	for i, fd := range fds {
		var l *loop
		if cfg.ReusePort {
			l = e.loops[i]
		} else {
			l = e.loops[int(e.rr.Add(1))%len(e.loops)]
		}
		ln.handles = append(ln.handles, &lnHandle{ln: ln, fd: fd, loop: l})
	}
	e.mu.Lock()
	e.lns[ln] = struct{}{}
	e.mu.Unlock()
	for _, lh := range ln.handles {
		lh.timer.index = -1
	}
	for i, lh := range ln.handles {
		if lh.loop.post(func() { lh.loop.addListener(lh) }) {
			continue
		}
		// The loops are stopping; those that took their handle close it in
		// teardown. Release the rest here.
		for _, rest := range ln.handles[i:] {
			if closeFDs {
				sys.Close(rest.fd)
			}
			ln.handleClosed()
		}
		ln.mu.Lock()
		ln.closed = true
		ln.mu.Unlock()
		e.forget(ln)
		return nil, &net.OpError{Op: "listen", Net: network, Addr: addr, Err: ErrEngineClosed}
	}
	return ln, nil
}

func (e *Engine) forget(ln *Listener) {
	e.mu.Lock()
	delete(e.lns, ln)
	e.mu.Unlock()
}

// pickLoop chooses the loop for a new connection by Options.LoadBalance.
func (e *Engine) pickLoop() *loop {
	if len(e.loops) == 1 {
		return e.loops[0]
	}
	if e.opts.LoadBalance == LeastConnections {
		best := e.loops[0]
		for _, l := range e.loops[1:] {
			if l.nconns.Load() < best.nconns.Load() {
				best = l
			}
		}
		return best
	}
	return e.loops[int(e.rr.Add(1)%uint64(len(e.loops)))]
}

// AfterFunc runs f on an event loop after d, without a goroutine or
// time.Timer of its own. f runs on the loop goroutine and must not block.
func (e *Engine) AfterFunc(d time.Duration, f func()) *Timer {
	return e.pickLoop().afterFunc(d, nil, f)
}

// afterFunc schedules f on l; c, if set, is the connection it belongs to.
func (l *loop) afterFunc(d time.Duration, c *Conn, f func()) *Timer {
	t := newTimer(l, c, f)
	l.enqueue(task{kind: taskTimer, t: t, when: l.eng.clock() + durNanos(d)})
	return t
}

// Shutdown shuts the engine down gracefully. It stops every listener, then
// closes every connection gracefully (output already written is flushed, a
// FIN sent, OnClose called with ErrEngineShutdown) and waits until all are
// closed or ctx is done; what remains then is aborted. Finally the loops stop
// and every descriptor and goroutine of the engine is gone. It returns
// ctx.Err() if connections had to be aborted. It must not be called from a
// handler: it would wait for its own loop.
func (e *Engine) Shutdown(ctx context.Context) error {
	if e.onLoopGoroutine() {
		return errors.New("epollnet: Shutdown called on an event loop goroutine")
	}
	if !e.closing.CompareAndSwap(false, true) {
		return ErrEngineClosed
	}
	e.cancel()
	e.mu.Lock()
	lns := make([]*Listener, 0, len(e.lns))
	for ln := range e.lns {
		lns = append(lns, ln)
	}
	e.mu.Unlock()
	for _, ln := range lns {
		ln.Close()
	}
	for _, l := range e.loops {
		l.post(l.shutdownConns)
	}
	var err error
	select {
	case <-e.drained:
	case <-ctx.Done():
		err = ctx.Err()
		for _, l := range e.loops {
			l.post(func() { l.abortAll(ErrEngineShutdown) })
		}
	}
	e.stopLoops()
	return err
}

// Abort stops the engine at once: listeners close, and every connection is
// reset (as Conn.Abort does) without flushing its output, its OnClose
// reporting ErrEngineShutdown. Shutdown is the graceful way.
func (e *Engine) Abort() error {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	return e.Shutdown(ctx)
}

// Close is Abort.
//
// Deprecated: the name suggests the graceful close that Conn.Close makes,
// but it aborts every connection. Use Abort, or Shutdown to let
// connections finish.
func (e *Engine) Close() error { return e.Abort() }

func (e *Engine) stopLoops() {
	for _, l := range e.loops {
		l.post(func() { l.stop = true })
	}
	for _, l := range e.loops {
		<-l.done
	}
}

// checkDrained signals Shutdown once no connection is open on any loop.
func (e *Engine) checkDrained() {
	if !e.closing.Load() {
		return
	}
	for _, l := range e.loops {
		if l.nconns.Load() != 0 {
			return
		}
	}
	e.drainOne.Do(func() { close(e.drained) })
}

// Err reports why a loop stopped on its own, or nil. epoll_wait fails only
// with EBADF, EFAULT or EINVAL, so a non-nil Err means a broken invariant;
// that loop's connections were aborted with the error.
func (e *Engine) Err() error {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.loopErr
}

func (e *Engine) loopFailed(l *loop, err error) {
	e.mu.Lock()
	e.loopErr = fmt.Errorf("epollnet: loop %d: %w", l.id, err)
	e.mu.Unlock()
	if e.opts.Logger != nil {
		e.opts.Logger.Error("epollnet: event loop failed; its connections were aborted", "loop", l.id, "err", err)
	}
}

// onLoopGoroutine reports whether the caller runs on one of the loops, where
// blocking on the engine would deadlock. Only rare calls ask.
func (e *Engine) onLoopGoroutine() bool { return e.loopGIDs[goroutineID()] }

// goroutineID parses the current goroutine's number from its stack header
// ("goroutine 42 [running]:"). It is slow and used only off the hot path.
func goroutineID() uint64 {
	var buf [64]byte
	b := buf[:runtime.Stack(buf[:], false)]
	b = b[len("goroutine "):]
	var id uint64
	for _, ch := range b {
		if ch < '0' || ch > '9' {
			break
		}
		id = id*10 + uint64(ch-'0')
	}
	return id
}

package epollnet

// The loop side of dialing: socket, connect, the first event, and the
// outcome. Everything here runs on the connection's loop goroutine.

import (
	"errors"
	"net"
	"os"
	"syscall"
	"time"

	"github.com/epollnet/epollnet/internal/poller"
	"github.com/epollnet/epollnet/internal/sys"
)

// startDial runs on the loop: socket, options, bind, registration, connect.
// Every outcome, even an error connect() returned at once, is delivered
// from here, a loop turn after the caller's call (libuv's delayed_error).
func (l *loop) startDial(c *Conn) {
	if c.state != stateConnecting {
		return // canceled or timed out before its turn
	}
	if l.stop || l.eng.closing.Load() {
		l.dialFailed(c, ErrEngineShutdown)
		return
	}
	fd, err := l.dialSocket(c)
	if err != nil {
		l.dialFailed(c, err)
		return
	}
	c.mu.Lock()
	c.fd = fd
	c.mu.Unlock()
	if err := l.configureDial(c); err != nil {
		l.dialFailed(c, err)
		return
	}
	// Registering before connect is safe: epoll_wait re-polls a socket
	// before reporting it, so the readiness of the fresh socket (HUP|OUT)
	// is never reported once connect changed its state.
	want := c.dialInterest()
	gen, err := l.register(fd, c, want)
	if err != nil {
		l.dialFailed(c, err)
		return
	}
	c.gen = gen
	c.interest = want
	l.armDial(c)
	l.connect(c)
}

// dialSocket creates the socket, by DialConfig.Socket if set. SOCK_NONBLOCK
// and SOCK_CLOEXEC are set atomically by default, so an exec in another
// thread cannot leak it to a child between two system calls, and
// enforced on a socket the caller made.
func (l *loop) dialSocket(c *Conn) (int, error) {
	family := sys.Family(c.x.dial.addr)
	mk := c.x.dial.cfg.Socket
	if mk == nil {
		fd, err := sys.Socket(family, sys.SOCK_STREAM, 0)
		l.trace(TraceSocket, fd, c, 0, 0, 0, err)
		return fd, sys.Wrap("socket", err)
	}
	fd, err := mk(family, sys.SOCK_STREAM, 0)
	l.trace(TraceSocket, fd, c, 0, 0, 0, err)
	if err != nil {
		var errno syscall.Errno
		if errors.As(err, &errno) && !errors.As(err, new(*os.SyscallError)) {
			err = sys.Wrap("socket", errno)
		}
		return -1, err
	}
	if err := sys.SetNonblock(fd); err != nil { // already wrapped as "fcntl"
		sys.Close(fd)
		return -1, err
	}
	return fd, nil
}

// configureDial sets the socket options and binds LocalAddr. TCP_NODELAY
// is on unless Options.TCPNagle, as in Go's net package.
func (l *loop) configureDial(c *Conn) error {
	cfg := &c.x.dial.cfg
	if c.net != netUnix {
		if !l.opts.TCPNagle {
			sys.SetNoDelay(c.fd, true)
		}
		if cfg.KeepAlive > 0 {
			secs := int((cfg.KeepAlive + time.Second - 1) / time.Second)
			if err := sys.SetKeepAlive(c.fd, secs, secs); err != nil {
				return sys.Wrap("setsockopt", err)
			}
		}
		if cfg.FastOpen {
			if err := sys.SetFastOpenConnect(c.fd); err != nil {
				return sys.Wrap("setsockopt", err)
			}
		}
		if a, ok := cfg.LocalAddr.(*net.TCPAddr); ok && a.Port == 0 {
			// Best effort: without it bind reserves a port for every
			// destination, and the range runs out 64k times sooner.
			sys.SetBindAddressNoPort(c.fd)
		}
	}
	if cfg.LocalAddr != nil {
		if err := sys.Bind(c.fd, cfg.LocalAddr); err != nil {
			return sys.Wrap("bind", err)
		}
	}
	return nil
}

// connect calls connect(2) and acts on each of its results (see
// docs/kernel.md, "connect returns EINPROGRESS, even on loopback"):
// 0 is connected (AF_UNIX, or TCP Fast Open with a cookie); EINPROGRESS
// waits for any event; EAGAIN on AF_UNIX is a full backlog with no event to
// come; anything else fails the dial.
func (l *loop) connect(c *Conn) {
	err := sys.Connect(c.fd, c.x.dial.addr)
	l.trace(TraceConnect, c.fd, c, 0, 0, 0, err)
	switch {
	case err == nil:
		l.connected(c, 0)
	case err == syscall.EINPROGRESS || err == syscall.EALREADY:
	case err == syscall.EAGAIN && c.net == netUnix:
		l.unixBacklogFull(c)
	default:
		l.dialFailed(c, sys.Wrap("connect", err))
	}
}

// unixBacklogFull handles EAGAIN from an AF_UNIX connect: the listener's
// backlog is full. It is not "in progress": no completion event ever
// comes, and the still unconnected socket reports OUT|HUP, which epoll
// repeats on every wait for a level-triggered registration and never again
// for an edge-triggered one (see docs/kernel.md, "AF_UNIX connect returns 0
// or EAGAIN"). So the descriptor leaves epoll (parked, still in the loop's
// table, so shutdown finds it) and connect is retried on the loop's timer,
// backing off from 1 ms to 100 ms, until it returns 0 or the dial deadline
// passes.
func (l *loop) unixBacklogFull(c *Conn) {
	if !c.lf.has(lParked) {
		l.park(c)
	}
	c.x.dial.unixRetry = min(max(2*c.x.dial.unixRetry, int64(time.Millisecond)), int64(100*time.Millisecond))
	c.x.dial.retryAt = l.now + c.x.dial.unixRetry
	l.armDial(c)
}

// connectEvent handles any event on a connecting socket: EPOLLOUT,
// EPOLLERR or EPOLLHUP. EPOLLOUT is not success (a refused connect reports
// IN|OUT|ERR|HUP too) and an ICMP reject reports EPOLLERR alone, so every
// event reads SO_ERROR, once, because reading clears it (see
// docs/kernel.md, "EPOLLOUT is not success: read SO_ERROR once").
// A zero SO_ERROR is confirmed with getpeername, unless the event is a TCP
// socket's EPOLLOUT without HUP: tcp_poll reports no EPOLLOUT in SYN_SENT,
// so the socket is past it, and with no error it is connected.
func (l *loop) connectEvent(c *Conn, ev poller.Events) {
	soerr, err := sys.SocketError(c.fd)
	l.trace(TraceSOError, c.fd, c, 0, 0, 0, errnoOrNil(soerr))
	if err != nil {
		l.dialFailed(c, sys.Wrap("getsockopt", err))
		return
	}
	if soerr != 0 {
		l.dialFailed(c, sys.Wrap("connect", soerr))
		return
	}
	// Only the kernel's tcp_poll is known to behave so; the portable
	// backend's readiness is asked of Go's net, so it confirms.
	if sys.Backend != "epoll" || c.net != netTCP || ev&(poller.Writable|hangup) != poller.Writable {
		if _, err := sys.PeerAddr(c.fd); err != nil {
			if err == syscall.ENOTCONN && ev&poller.Hangup == 0 {
				return // spurious: still in SYN_SENT
			}
			l.dialFailed(c, sys.Wrap("getpeername", err))
			return
		}
	}
	l.connected(c, ev)
}

// connected turns a connecting socket into an open connection. The
// registration changes first, so that a failure there is still a dial
// failure and OnOpen is never followed by a bogus close. ev is the event
// that reported the connect's end (0 when connect returned 0).
func (l *loop) connected(c *Conn, ev poller.Events) {
	c.mu.Lock()
	pending := c.pending() > 0
	c.mu.Unlock()
	if pending {
		c.lf.set(lWantOut)
	}
	same, err := l.openInterest(c)
	if err != nil {
		l.dialFailed(c, err)
		return
	}
	c.x.dial.retryAt = 0
	c.state = stateOpen
	c.mu.Lock()
	c.mf.set(mReady) // writes may go to the socket directly from now on
	c.x.remote = c.x.dial.addr
	c.mu.Unlock()
	c.touchRead(l.now)
	l.conns++
	l.nconns.Add(1)
	l.stats.opened.Add(1)
	if c.reqs.Load()&reqTLS == 0 {
		l.stats.dialed.Add(1) // with TLS, once the handshake completed
	}
	l.armDeadline(c)         // the dial deadline gives way to idle and read timeouts
	if !c.lf.has(lClosing) { // Close came before the open: flush, but do not open
		l.trace(TraceOpen, c.fd, c, 0, 0, 0, nil)
		c.src.h.OnOpen(c) // a TLS layer's takes over done: the dial ends with its handshake
	}
	if c.x.dial.done != nil {
		c.x.dial.done <- nil
	}
	c.x.dial = nil // only needed while connecting
	if same && c.state == stateOpen {
		// No MOD reported the state afresh (openInterest): input that
		// came with the connect's event is read next round, and output
		// written before the open goes now.
		switch {
		case ev&(poller.Priority|poller.ReadHangup|hangup) != 0:
			l.readAgainDrain(c) // a FIN that came with the connect is not reported again
		case ev&poller.Readable != 0:
			l.readAgain(c)
		}
		if c.lf.has(lWantOut) {
			l.flush(c)
		}
	}
	if c.lf.has(lShutWr) && !c.lf.has(lWantOut) && !c.lf.has(lShutDone) && c.state == stateOpen {
		l.shutdownWrite(c) // CloseWrite came before the open
	}
}

// dialFailed reports a failed dial once, through OnClose and to a waiting
// Dial, as a *net.OpError that names the address and the system call. The
// socket, if any, is deregistered and closed first: a failed socket is
// never reused, since connect on it again gives ECONNABORTED (see
// docs/kernel.md, "A failed socket is not reused").
func (l *loop) dialFailed(c *Conn, err error) {
	if c.state != stateConnecting {
		return
	}
	l.stats.dialFailed.Add(1)
	operr := &net.OpError{Op: "dial", Net: c.net.String(), Source: c.x.dial.cfg.LocalAddr, Addr: c.x.dial.addr, Err: err}
	l.stats.dialFailedBy[Classify(operr)].Add(1)
	if c.fd >= 0 {
		l.closeNow(c, operr)
	} else {
		l.dropTimer(c)
		c.state = stateClosed
		c.mu.Lock()
		c.mf.set(mWclosed | mCloseReq | mFdClosed)
		c.out = nil
		c.mu.Unlock()
		l.trace(TraceClose, -1, c, 0, 0, 0, operr)
		c.src.h.OnClose(c, operr)
	}
	if c.x.dial.done != nil {
		c.x.dial.done <- operr
	}
}

// dialDeadline runs when a connecting socket's timer fires: the dial
// deadline, or a Unix connect retry. Any other firing (an idle or read
// deadline armed by a Conn method meanwhile) re-arms the dial timer, so
// every firing makes progress.
func (l *loop) dialDeadline(c *Conn) {
	switch {
	case l.now >= c.x.dial.at:
		l.traceDetail(TraceTimer, c.fd, c, 0, "dial-timeout", nil)
		l.dialFailed(c, errDialTimeout)
	case c.x.dial.retryAt != 0 && l.now >= c.x.dial.retryAt:
		c.x.dial.retryAt = 0
		l.armDial(c)
		l.connect(c)
	default:
		l.armDial(c)
	}
}

// armDial keeps a connecting socket's timer at its dial deadline or its
// next Unix retry, whichever comes first. Idle, read and linger clocks
// start when the connection opens (connected calls armDeadline): counted
// from zero now they would lie in the past, and a timer re-armed in the
// past fires for ever without the loop reaching epoll_wait again.
func (l *loop) armDial(c *Conn) {
	next := c.x.dial.at
	if c.x.dial.retryAt != 0 && c.x.dial.retryAt < next {
		next = c.x.dial.retryAt
	}
	l.timers.schedule(&c.timer().e, next)
}

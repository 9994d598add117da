package epollnet

import (
	"syscall"
	"time"

	"github.com/epollnet/epollnet/internal/sys"
)

// closeGraceful starts a graceful close: flush pending output, then
// finishGraceful. The flush is bounded by progress (SendTimeout: a peer
// that stopped reading cannot keep the descriptor forever, a slow one gets
// every byte), the wait for the peer's FIN after it by LingerTimeout. A
// connection with nothing pending whose peer acknowledged everything
// closes at once, without allocating the state a wait needs.
func (l *loop) closeGraceful(c *Conn, why error) {
	if c.lf.has(lClosing) {
		return
	}
	if c.state == stateConnecting && !l.closeConnecting(c, why) {
		return
	}
	c.lf.set(lClosing)
	if why != nil {
		c.ext().closeWhy = why
	}
	if !c.lf.has(lWantOut) {
		c.mu.Lock()
		pending := c.pending() > 0
		c.mu.Unlock()
		if !pending {
			l.finishGraceful(c)
			return
		}
		// An arm task is queued; do its work now.
		if c.lf.has(lParked) {
			c.lf.set(lWantOut)
			l.unpark(c) // re-adds with OUT; a pending error shows at once
		} else {
			l.armOut(c) // may flush it all and finish the close at once
		}
		if c.state != stateOpen || !c.lf.has(lWantOut) {
			return
		}
	}
	l.sendProgress(c)
	l.armDeadline(c)
}

// sendProgress restarts the SendTimeout clock of a graceful close whose
// output moves: at Close, and at every write that moved bytes. Only a time
// and the kernel's send queue are recorded; connDeadline finds the timer
// entry early and re-arms it, so the heap is not touched per write.
func (l *loop) sendProgress(c *Conn) {
	x := c.ext()
	x.sendAt = l.now + durNanos(l.opts.SendTimeout)
	q, _ := sys.OutQueue(c.fd)
	x.sendQ = int32(q)
}

// sendStalled reports whether a graceful close's flush made no progress
// for SendTimeout. The kernel reports room to write (EPOLLOUT) only once a
// good part of its send buffer drained, so a slow reader can go a long
// time without a write that moves bytes; a send queue (SIOCOUTQ) smaller
// than at the last progress means the peer acknowledged more meanwhile,
// which is progress too.
func (l *loop) sendStalled(c *Conn) bool {
	x := c.x
	if q, err := sys.OutQueue(c.fd); err == nil && int32(q) < x.sendQ {
		x.sendAt, x.sendQ = l.now+durNanos(l.opts.SendTimeout), int32(q)
		return false
	}
	return true
}

// startLinger starts the LingerTimeout clock, once, when the output went
// to the kernel and the FIN was sent: the wait for the peer's FIN.
func (l *loop) startLinger(c *Conn) {
	x := c.ext()
	x.sendAt = 0
	if x.lingerAt == 0 {
		x.lingerAt = l.now + durNanos(l.opts.LingerTimeout)
	}
	l.armDeadline(c)
}

// closeConnecting handles Close before the connection opened. With nothing
// written, the dial is abandoned: it fails with ErrClosed. With output
// pending, the dial goes on so the bytes Write accepted are delivered, then
// the connection closes; OnOpen is skipped, since the handler asked to
// close. It reports whether the graceful close continues.
func (l *loop) closeConnecting(c *Conn, why error) bool {
	c.mu.Lock()
	pending := c.pending() > 0
	c.mu.Unlock()
	if pending {
		c.lf.set(lClosing)
		x := c.ext() // a dial always has one
		x.closeWhy = why
		l.sendProgress(c)
		return false
	}
	l.dialFailed(c, ErrClosed)
	return false
}

// finishGraceful runs once all output reached the kernel. If the peer
// already sent its FIN, or this is a Unix socket, close() loses nothing. If
// the kernel has had every byte acknowledged (SIOCOUTQ 0) and the input the
// peer sent after Close is read and dropped, close() sends a FIN too.
// Otherwise close() with unread input would send RST (which discards our
// unsent output, and shows a client reading to EOF a reset after the last
// byte), so send FIN, keep reading (and discarding) until the peer's FIN,
// and only then close: the lingering close of nginx.
func (l *loop) finishGraceful(c *Conn) {
	if c.lf.has(lReadEOF) || c.net == netUnix {
		l.closeNow(c, c.closeWhy())
		return
	}
	q, err := sys.OutQueue(c.fd)
	if err == nil && q == 0 && l.inputDrained(c) {
		l.closeNow(c, c.closeWhy())
		return
	}
	if !c.lf.has(lShutDone) {
		c.lf.set(lShutDone)
		err := sys.Shutdown(c.fd, sys.SHUT_WR)
		l.trace(TraceShutdown, c.fd, c, 0, 0, 0, err)
		if err != nil {
			l.closeNow(c, c.closeWhy())
			return
		}
	}
	c.lf.set(lLingering)
	x := c.ext()
	x.lingerEvery = int64(5 * time.Millisecond)
	x.lingerCheck = l.now + x.lingerEvery
	x.lingerQ = int32(q)
	l.startLinger(c)
	c.lf.clr(lPaused)
	if c.lf.has(lParked) {
		l.unpark(c)
	}
	l.updateInterest(c)
}

// lingerCheckOutQueue ends a lingering close as soon as the peer has
// acknowledged everything, FIN included: no event announces that, so the
// send queue is checked on a timer backing off from 5 ms to 100 ms (or a
// quarter of LingerTimeout). A queue smaller than at the last check means
// the peer is still reading what the kernel holds: the LingerTimeout
// clock starts again, so a slow reader that keeps reading gets every
// byte, while one that stopped is cut after LingerTimeout.
func (l *loop) lingerCheckOutQueue(c *Conn) {
	x := c.x
	q, err := sys.OutQueue(c.fd)
	if err != nil || q == 0 {
		l.closeNow(c, x.closeWhy)
		return
	}
	linger := durNanos(l.opts.LingerTimeout)
	if int32(q) < x.lingerQ {
		x.lingerAt = l.now + linger
	}
	x.lingerQ = int32(q)
	if l.now >= x.lingerAt {
		l.traceDetail(TraceTimer, c.fd, c, 0, "linger", nil)
		l.abort(c, withCause(ErrLingerTimeout, x.closeWhy))
		return
	}
	x.lingerEvery = min(2*x.lingerEvery, int64(100*time.Millisecond), max(linger/4, 1))
	x.lingerCheck = l.now + x.lingerEvery
	l.armDeadline(c)
}

// discardRead reads and drops input once Close was called. At the peer's
// FIN a lingering close is complete; before the flush is done, the FIN only
// ends reading. An error means the peer is gone: close at once.
func (l *loop) discardRead(c *Conn) {
	n, err := l.dropInput(c)
	switch {
	case n > 0:
		l.readAgain(c) // 16 buffers and more to come: the rest next round
	case err == syscall.EAGAIN:
	case err != nil:
		l.closeNow(c, readError(err))
	case c.lf.has(lLingering):
		l.closeNow(c, c.closeWhy())
	default:
		c.lf.set(lReadEOF)
		l.updateInterest(c)
	}
}

// dropInput reads and drops input after Close, at most 16 buffers, and
// returns the last read's result: data (more may follow), EAGAIN (nothing
// left), EOF (0, nil) or an error.
func (l *loop) dropInput(c *Conn) (int, error) {
	for i := 0; ; i++ {
		n, err := sys.Read(c.fd, l.buf)
		l.trace(TraceRead, c.fd, c, 0, 0, n, err)
		if n <= 0 || err != nil || i == 15 {
			return n, err
		}
	}
}

// inputDrained drops what the peer sent after Close and reports whether
// nothing is left unread: the receive queue is empty, or the peer finished
// (EOF) or failed.
func (l *loop) inputDrained(c *Conn) bool {
	n, _ := l.dropInput(c)
	return n <= 0
}

// abort closes at once with RST (SO_LINGER 0): pending output is discarded.
func (l *loop) abort(c *Conn, why error) {
	if c.state == stateClosed {
		return
	}
	if c.state == stateConnecting {
		l.dialFailed(c, why)
		return
	}
	sys.SetLingerZero(c.fd)
	l.closeNow(c, why)
}

// closeSocket closes c's descriptor. The engine never sets a positive
// SO_LINGER, so close cannot block on a socket whose options are all its
// own, and it is closed with a raw system call (sys.CloseSocket says why);
// a socket from a user's DialConfig.Socket or a listener the engine did
// not create (lForeign) may linger, and is closed with the scheduler told.
func (l *loop) closeSocket(c *Conn) {
	if c.lf.has(lForeign) {
		sys.Close(c.fd)
		return
	}
	sys.CloseSocket(c.fd)
}

// closeNow releases the connection: no more writes, the descriptor out of
// the loop's table and closed (its epoll registration with it, see
// forget), OnClose called exactly once.
func (l *loop) closeNow(c *Conn, why error) {
	if c.state == stateClosed {
		return
	}
	wasOpen := c.state == stateOpen
	c.mu.Lock()
	c.mf.set(mWclosed | mCloseReq | mFdClosed)
	c.out = nil
	c.mu.Unlock()
	if c.gen != 0 {
		if c.lf.has(lForeign) {
			l.unregister(c.fd, c, c.interest) // unwatched if parked: no DEL
		} else {
			l.forget(c)
		}
	}
	l.closeSocket(c)
	if why == nil && c.lf.has(lPeerFirst) {
		why = ErrPeerClosed
	}
	l.trace(TraceClose, c.fd, c, 0, 0, 0, why)
	c.state = stateClosed
	l.dropTimer(c)
	c.releaseIn()
	if wasOpen {
		l.conns--
		l.nconns.Add(-1)
		l.stats.closed.Add(1)
		if c.role == RoleAccepted {
			l.releaseSlot(c.src.ln)
		}
		l.rearmPausedListeners()
	}
	c.src.h.OnClose(c, why)
	if wasOpen {
		l.eng.checkDrained()
	}
}

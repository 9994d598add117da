package epollnet

import (
	"fmt"
	"sync"
	"syscall"

	"github.com/epollnet/epollnet/internal/poller"
	"github.com/epollnet/epollnet/internal/sys"
)

// This file is the loop side of a connection's I/O: readiness, reads (and
// reading again next round), flushing, and shutting down the write half.
// Closing is in conn_close.go. Everything here runs on the owning loop
// goroutine.

const hangup = poller.Error | poller.Hangup

func (l *loop) connEvent(c *Conn, ev poller.Events) {
	if c.state == stateConnecting {
		l.connectEvent(c, ev)
		return
	}
	if c.lf.has(lWantOut) && ev&(poller.Writable|hangup) != 0 {
		l.flush(c)
		if c.state == stateClosed {
			return
		}
	}
	if ev&(poller.Readable|poller.Priority|poller.ReadHangup|hangup) == 0 {
		return
	}
	switch {
	case c.lf.has(lClosing) || c.reqs.Load()&reqClose != 0:
		l.discardRead(c) // Close was called: the handler wants no more data
	case c.lf.has(lPaused):
		// ERR and HUP cannot be masked and stay true while reads are
		// paused. Park the descriptor; ResumeRead re-adds it (ADD reports
		// the current state) and reads what is left.
		if ev&hangup != 0 {
			l.park(c)
		}
	case c.lf.has(lReadEOF):
		l.afterEOFHangup(c, ev)
	case c.reqs.Load()&reqPause != 0:
		// PauseRead was called; its task runs after this batch and drops the
		// read interest. Leave the data in the kernel until then; an
		// ERR/HUP, reported once, parks the descriptor as for a pause.
		if ev&hangup != 0 {
			l.park(c)
		}
	default:
		if sp := c.splicing(); sp != nil {
			l.spliceRead(c, sp, ev)
			return
		}
		l.read(c, ev)
	}
}

// read reads once, or until EAGAIN, EOF or an error when the event says the
// peer is gone: data that arrived before a FIN or RST is delivered before
// the close (see docs/kernel.md, "Peer shutdown, close and reset").
func (l *loop) read(c *Conn, ev poller.Events) {
	// After a FIN or RST, or with urgent data pending (a TCP read stops
	// short at the urgent mark, though more follows), read to the end.
	drain := ev&(poller.ReadHangup|hangup|poller.Priority) != 0
	for i := 0; ; i++ {
		n, err := sys.Read(c.fd, l.buf)
		l.trace(TraceRead, c.fd, c, 0, 0, n, err)
		switch {
		case n > 0:
			l.stats.bytesIn.Add(uint64(n))
			c.touchRead(l.now)
			l.deliver(c, l.buf[:n])
			if c.state != stateOpen || c.lf.has(lPaused) || c.lf.has(lReadEOF) || c.reqs.Load()&(reqClose|reqPause) != 0 {
				if n == len(l.buf) {
					l.readAgain(c) // Close or PauseRead in OnData: its task decides what to do with the rest
				}
				return
			}
			switch {
			case drain:
				continue // FIN, RST or urgent data: read to the end
			case n < len(l.buf):
				return // the receive queue was empty (see interest.go)
			case i >= 3:
				// More may be queued: the other ready descriptors get their
				// turn first, and this one is read again next round.
				l.readAgain(c)
				return
			}
		case err == syscall.EAGAIN:
			l.stats.readAgain.Add(1)
			return
		case err == nil:
			l.onEOF(c)
			return
		default:
			l.closeNow(c, readError(err))
			return
		}
	}
}

// readAgain queues c to be handled as readable in the next round. An
// edge-triggered connection (interest.go) is not reported again for data
// already in its receive queue, so a loop that stops reading after a full
// read (the per-event batch cap, a handler that called Close or PauseRead
// in OnData, a closing connection's discard) queues it here; runAgain then
// handles it as if epoll had reported it readable, and poll does not sleep
// while any is queued.
func (l *loop) readAgain(c *Conn) {
	if c.lf.has(lAgain) {
		return
	}
	c.lf.set(lAgain)
	l.again = append(l.again, c)
}

// readAgainDrain queues c as readAgain does, for an event that also
// reported a FIN, RST or urgent data: the next round reads to the end.
// An edge-triggered registration does not report the FIN again, so a
// round that took it for plain input would stop at the first short read
// and never see the EOF.
func (l *loop) readAgainDrain(c *Conn) {
	c.lf.set(lAgainDrain)
	l.readAgain(c)
}

// runAgain handles the connections queued in the last round. It swaps the
// queue with a spare, so readAgain during the run queues for the next one.
func (l *loop) runAgain() {
	if len(l.again) == 0 {
		return
	}
	run := l.again
	l.again, l.againSpare = l.againSpare[:0], nil
	for i, c := range run {
		run[i] = nil
		ev := poller.Readable
		if c.lf.has(lAgainDrain) {
			ev |= poller.ReadHangup
		}
		c.lf.clr(lAgain | lAgainDrain)
		if c.state == stateOpen {
			l.connEvent(c, ev)
		}
	}
	l.againSpare = run[:0]
}

var inPool = sync.Pool{New: func() any { b := make([]byte, 0, 4096); return &b }}

// deliver hands data to OnData, prefixed by what the handler left before,
// and keeps only what it leaves this time, in a pooled buffer: a connection
// with nothing pending holds none.
func (l *loop) deliver(c *Conn, data []byte) { l.deliverTo(c, c.src.h, &c.in, data) }

// deliverTo is deliver for handler h, which leaves what it does not
// consume in *keep: c.in for the connection's handler, the plaintext
// buffer of a TLS layer's user (tls.go).
func (l *loop) deliverTo(c *Conn, h Handler, keep **[]byte, data []byte) {
	in := *keep
	if in != nil {
		if len(*in)+len(data) > l.opts.MaxReadBuffer {
			l.closeNow(c, ErrReadCapExceeded)
			return
		}
		*in = append(*in, data...)
		data = *in
	}
	used := h.OnData(c, data)
	if used < 0 || used > len(data) {
		panic(fmt.Sprintf("epollnet: OnData returned %d for %d bytes", used, len(data)))
	}
	rest := data[used:]
	switch {
	case len(rest) == 0:
		releaseBuf(keep)
	case *keep != nil: // data is **keep (in, unless OnData closed c)
		**keep = (**keep)[:copy(**keep, rest)]
	case in != nil: // OnData closed c, which released the buffer
	case len(rest) > l.opts.MaxReadBuffer:
		l.closeNow(c, ErrReadCapExceeded)
	default:
		in = inPool.Get().(*[]byte)
		*in = append((*in)[:0], rest...)
		*keep = in
	}
}

func (c *Conn) releaseIn() { releaseBuf(&c.in) }

// releaseBuf returns an input buffer to the pool, unless it grew large.
func releaseBuf(keep **[]byte) {
	in := *keep
	if in == nil {
		return
	}
	if cap(*in) <= 64<<10 { // do not let one huge message pin memory in the pool
		*in = (*in)[:0]
		inPool.Put(in)
	}
	*keep = nil
}

func (l *loop) onEOF(c *Conn) {
	c.lf.set(lReadEOF)
	c.lf.set(lPeerFirst)
	c.src.h.OnReadEOF(c)
	if c.lf.has(lShutDone) && c.state == stateOpen && !c.lf.has(lClosing) {
		l.closeNow(c, nil) // both halves are finished
		return
	}
	// A socket at EOF stays readable forever under LT: drop the read
	// interest, unless the handler closed (its close, in this round's
	// tasks, removes the registration: the usual end of a connection
	// costs no epoll_ctl MOD before the DEL).
	if c.reqs.Load()&reqClose == 0 {
		l.updateInterest(c)
	}
}

// afterEOFHangup handles ERR/HUP once reading is over: an RST after the
// peer's FIN, or both halves shut down.
func (l *loop) afterEOFHangup(c *Conn, ev poller.Events) {
	if ev&hangup == 0 {
		return
	}
	soerr, _ := sys.SocketError(c.fd)
	l.trace(TraceSOError, c.fd, c, 0, 0, 0, errnoOrNil(soerr))
	if soerr != 0 {
		l.closeNow(c, readError(soerr))
		return
	}
	if ev&poller.Hangup != 0 && !c.lf.has(lWantOut) {
		l.closeNow(c, nil)
	}
}

// flush writes pending output with gathered writes until EAGAIN or done.
func (l *loop) flush(c *Conn) {
	c.mu.Lock()
	for c.out != nil {
		q := c.out
		n, err := sys.Writev(c.fd, &l.iov, q.bufs)
		l.trace(TraceWrite, c.fd, c, 0, 0, n, err)
		if err == syscall.EAGAIN {
			break
		}
		if err != nil {
			c.mf.set(mWclosed | mCloseReq)
			c.mu.Unlock()
			l.closeNow(c, writeError(err))
			return
		}
		l.stats.bytesOut.Add(uint64(n))
		c.lastActive = l.now
		if c.lf.has(lClosing) && n > 0 {
			l.sendProgress(c)
		}
		short := n < offered(q)
		c.consumeOut(n)
		if short {
			// The socket buffer is full. The send marked the socket
			// (SOCK_NOSPACE), so the kernel reports EPOLLOUT once it drains.
			break
		}
	}
	drained := c.out == nil
	notify := c.mf.has(mAboveHigh) && c.pending() <= l.opts.WriteLowWater
	if notify {
		c.mf.clr(mAboveHigh)
	}
	c.mu.Unlock()
	if drained && c.lf.has(lSpliced) && !l.flushSplice(c) {
		return // a spliced relay's pipe still holds bytes for c
	}
	if !drained {
		if notify && c.state == stateOpen && !c.isClosing() {
			c.src.h.OnWritable(c) // down to the low watermark, not yet empty
		}
		return
	}
	c.lf.clr(lWantOut)
	l.updateInterest(c)
	switch {
	case c.lf.has(lClosing):
		l.finishGraceful(c)
		return
	case c.lf.has(lShutWr) && !c.lf.has(lShutDone):
		l.shutdownWrite(c)
	}
	if notify && c.state == stateOpen && !c.isClosing() {
		c.src.h.OnWritable(c) // a closing connection's handler produces no more
	}
}

// readResumer is implemented by a handler layer that keeps input of its
// own while reads are paused (tlsConn).
type readResumer interface{ resumeRead(c *Conn) }

// resume applies ResumeRead: bytes the handler left are offered again
// first, then the registration asks for input again.
func (l *loop) resume(c *Conn) {
	if !c.lf.has(lPaused) {
		return
	}
	c.lf.clr(lPaused)
	if c.state == stateConnecting {
		return // connected() applies the flag; a Unix dial in backoff stays parked
	}
	if c.in != nil && !c.lf.has(lClosing) {
		l.deliver(c, nil)
		if c.state != stateOpen || c.lf.has(lPaused) {
			return
		}
	}
	// A layer that keeps input of its own (a TLS layer's plaintext and
	// ciphertext) offers it again too.
	if r, ok := c.src.h.(readResumer); ok && !c.lf.has(lClosing) {
		r.resumeRead(c)
		if c.state != stateOpen || c.lf.has(lPaused) {
			return
		}
	}
	if c.lf.has(lParked) {
		l.unpark(c)
		return
	}
	l.updateInterest(c)
}

func (l *loop) shutdownWrite(c *Conn) {
	c.lf.set(lShutDone)
	err := sys.Shutdown(c.fd, sys.SHUT_WR)
	l.trace(TraceShutdown, c.fd, c, 0, 0, 0, err)
	if err != nil && err != syscall.ENOTCONN {
		l.closeNow(c, sys.Wrap("shutdown", err))
		return
	}
	if c.lf.has(lReadEOF) {
		l.closeNow(c, nil)
	}
}

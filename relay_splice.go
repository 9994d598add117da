package epollnet

import (
	"syscall"

	"github.com/epollnet/epollnet/internal/poller"
	"github.com/epollnet/epollnet/internal/sys"
)

// This file is Pipe's zero-copy path (PipeConfig.Splice): each direction
// moves its bytes socket -> pipe -> socket with splice(2), so they never
// cross into user space. The pipe is an extension of the destination's
// output: while it holds bytes, the destination waits for EPOLLOUT like a
// connection with output pending (lWantOut), so its graceful close,
// CloseWrite and send timeout wait for the pipe as they wait for buffered
// output, and the source stops reading. Both connections are TCP, so
// edge-triggered: a source that stops reading is queued to be read again
// (readAgain) once the pipe drained, with no epoll_ctl either way.

// splicePipeSize is the most one splice into the pipe moves: the default
// pipe capacity (16 pages).
const splicePipeSize = 64 << 10

// splicer is one direction of a spliced pipe: src's input to dst.
type splicer struct {
	pr, pw   int // the pipe's read and write ends
	n        int // bytes in the pipe
	src, dst *Conn
	count    *int64 // the pipe end's relayed-bytes counter
	spliced  *int64 // the pipe's spliced-bytes counter
	stalled  bool   // src stopped reading for the pipe: read it again once drained
}

// newSplicers makes both directions' pipes for a and b, or reports false
// (no descriptors, or connections a pipe cannot serve) and leaves both to
// the copying path.
func newSplicers(a, b *Conn, p *pipe) bool {
	if a.net != netTCP || b.net != netTCP || a.reqs.Load()&reqTLS != 0 || b.reqs.Load()&reqTLS != 0 {
		return false
	}
	ab, err1 := openSplicer(a, b, &p.a.n, &p.spliced)
	if err1 != nil {
		return false
	}
	ba, err2 := openSplicer(b, a, &p.b.n, &p.spliced)
	if err2 != nil {
		ab.close()
		return false
	}
	p.a.spOut, p.b.spIn = ab, ab
	p.b.spOut, p.a.spIn = ba, ba
	a.lf.set(lSpliced)
	b.lf.set(lSpliced)
	return true
}

func openSplicer(src, dst *Conn, count, spliced *int64) (*splicer, error) {
	r, w, err := sys.Pipe()
	if err != nil {
		return nil, err
	}
	return &splicer{pr: r, pw: w, src: src, dst: dst, count: count, spliced: spliced}, nil
}

func (sp *splicer) close() {
	sys.Close(sp.pr)
	sys.Close(sp.pw)
}

// closeSplicers releases a pipe's kernel pipes once both its connections
// closed.
func (p *pipe) closeSplicers() {
	for _, e := range []*pipeEnd{&p.a, &p.b} {
		if e.spOut != nil {
			e.spOut.close()
			e.spOut, e.spIn = nil, nil
			e.c.lf.clr(lSpliced)
		}
	}
}

// splicePipeEnd returns the pipe end that handles a spliced connection.
// Only a plain TCP connection is spliced, so its handler is the pipe end
// itself, with no TLS layer in front.
func (c *Conn) splicePipeEnd() *pipeEnd {
	e, _ := c.src.h.(*pipeEnd)
	return e
}

// splicing returns the splicer c reads into, if its bytes may take the
// zero-copy path now: the destination is open and has no buffered output
// that must go first. Otherwise the ordinary read path serves c, and the
// relay's OnData copies (a destination that is closing or gone drops the
// bytes there).
func (c *Conn) splicing() *splicer {
	if !c.lf.has(lSpliced) {
		return nil
	}
	sp := c.splicePipeEnd().spOut
	d := sp.dst
	if d.state != stateOpen || d.isClosing() {
		return nil
	}
	d.mu.Lock()
	queued := d.out != nil || d.mf.has(mWclosed)
	d.mu.Unlock()
	if queued && sp.n == 0 {
		return nil
	}
	return sp
}

// spliceRead is read for a spliced connection: socket to pipe, pipe to the
// destination, until EAGAIN, EOF, an error, or a destination that takes no
// more (then c is read again once the pipe drained).
func (l *loop) spliceRead(c *Conn, sp *splicer, ev poller.Events) {
	drain := ev&(poller.ReadHangup|hangup|poller.Priority) != 0
	for i := 0; ; i++ {
		if sp.n > 0 && !l.drainSplice(sp) {
			sp.stalled = true
			return
		}
		n, err := sys.Splice(c.fd, sp.pw, splicePipeSize)
		l.trace(TraceRead, c.fd, c, 0, 0, n, err)
		switch {
		case n > 0:
			l.stats.bytesIn.Add(uint64(n))
			c.touchRead(l.now)
			sp.n += n
			*sp.count += int64(n)
			*sp.spliced += int64(n)
			if !l.drainSplice(sp) {
				sp.stalled = true
				return
			}
			// A short splice, unlike a short read, does not mean the
			// receive queue is empty: the pipe takes a buffer per segment
			// (or page) and is full after 16, however few bytes they
			// held. What stays queued raises no new edge-triggered event,
			// so read on to EAGAIN: four splices now, the rest next round.
			switch {
			case c.state != stateOpen || c.isClosing():
				return
			case drain:
				continue
			case i >= 3:
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

// drainSplice moves the pipe's bytes to the destination socket and
// reports whether the pipe is empty. Bytes the socket refused wait for its
// EPOLLOUT (flush calls this again).
func (l *loop) drainSplice(sp *splicer) bool {
	d := sp.dst
	for sp.n > 0 {
		m, err := sys.Splice(sp.pr, d.fd, sp.n)
		l.trace(TraceWrite, d.fd, d, 0, 0, m, err)
		if err == syscall.EAGAIN {
			break
		}
		if err != nil {
			l.closeNow(d, writeError(err))
			return false
		}
		sp.n -= m
		l.stats.bytesOut.Add(uint64(m))
		d.lastActive = l.now
		if d.lf.has(lClosing) {
			l.sendProgress(d)
		}
	}
	if sp.n > 0 {
		if !d.lf.has(lWantOut) {
			d.lf.set(lWantOut)
			l.updateInterest(d)
		}
		return false
	}
	return true
}

// flushSplice is flush's part for a destination whose pipe holds bytes,
// called once its buffered output is gone: it reports whether the pipe
// drained, and has a source that stopped for it read again.
func (l *loop) flushSplice(c *Conn) bool {
	sp := c.splicePipeEnd().spIn
	if sp.n > 0 && !l.drainSplice(sp) {
		return false
	}
	if sp.stalled {
		sp.stalled = false
		if s := sp.src; s.state == stateOpen {
			l.readAgain(s)
		}
	}
	return c.state == stateOpen
}

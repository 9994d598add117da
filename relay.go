package epollnet

import (
	"errors"
	"net"
)

// This file joins two connections of one loop into a relay: the proxy's
// shape, an accepted client and a dialed server. Sharing the loop is what
// makes it simple and race-free: both connections' events run on one
// goroutine, so pausing the reader when the writer is above its high
// watermark, and resuming it on OnWritable, can never miss each other.

// PipeConfig configures Pipe. A nil *PipeConfig means defaults.
type PipeConfig struct {
	// OnDone, if set, is called once on the loop goroutine, after both
	// connections have closed, with what the relay did. It must not block.
	OnDone func(PipeResult)

	// Splice moves the bytes of two TCP connections without TLS through a
	// kernel pipe per direction with splice(2), never copying them into
	// user space: fewer copies for bulk transfers, but two splices where a
	// copy makes one read and one send, and a last splice to EAGAIN (a
	// pipe can fill its slots short of its size, so a short splice does
	// not mean the socket is empty): more system calls for small messages. It costs two pipes (four descriptors)
	// per relay; when they cannot be had, or a side is not plain TCP, the
	// relay copies as without it. Bytes written to either connection
	// other than by the relay itself, while it runs, may then be sent out
	// of order: with Splice, leave the writing to Pipe.
	Splice bool
}

// PipeResult is the outcome of a Pipe.
type PipeResult struct {
	A, B *Conn

	// AToB and BToA count the bytes read from one connection and written
	// to the other (with TLS, plaintext).
	AToB, BToA int64

	// Spliced counts the bytes of AToB and BToA that went through the
	// kernel pipes of PipeConfig.Splice; the rest were copied.
	Spliced int64

	// AErr and BErr are the connections' close reasons, as OnClose would
	// have received them: nil or ErrPeerClosed for an orderly end, the dial
	// error for a dial that failed, ErrPeerReset, a timeout and so on.
	AErr, BErr error
}

// Err returns the first abnormal close reason of the two, or nil when both
// connections ended in order (nil or ErrPeerClosed).
func (r PipeResult) Err() error {
	for _, err := range []error{r.AErr, r.BErr} {
		if err != nil && !errors.Is(err, ErrPeerClosed) {
			return err
		}
	}
	return nil
}

// Pipe relays between a and b until both have closed: what one reads, the
// other writes. It replaces both connections' handlers (their OnClose is
// not called; PipeConfig.OnDone reports both ends) and resumes reading on
// both if they were paused. It must be called on their loop goroutine, from
// a handler method of either (a call from elsewhere is a data race; built
// with -race, Pipe returns an error instead), and both must belong to that
// loop: dial the
// second with Conn.DialAsync, which puts it there. Either may still be
// connecting; what the other sends meanwhile is buffered and goes out
// once it connects, and a failed dial closes the other connection. Bytes
// a handler left unconsumed before the call are relayed first, and a
// peer's FIN that the previous handler already heard is passed on after
// them.
//
// Backpressure works both ways: when the writing side's pending output
// rises above Options.WriteHighWater, reading from the other pauses, and
// resumes once it drained to WriteLowWater, so a relay holds at most about
// the high watermark plus one read per direction, however slow either
// peer. Half-close is passed on: the peer's FIN on one side becomes a FIN
// (CloseWrite) on the other once what came before it was written, and a
// connection closes once both its directions ended. When one side closes
// abnormally (a reset, a timeout, a failed dial), the other is closed
// gracefully: what it already accepted is still delivered.
func Pipe(a, b *Conn, cfg *PipeConfig) error {
	switch {
	case a == nil || b == nil || a == b:
		return &net.OpError{Op: "pipe", Err: errPipeArgs}
	case a.loop != b.loop:
		return &net.OpError{Op: "pipe", Err: errPipeLoops}
	case raceBuild && !a.loop.eng.onLoopGoroutine():
		// Finding the calling goroutine costs microseconds, more than
		// the rest of a relay's set-up; a build with -race, where a call
		// off the loop is a race anyway, checks it.
		return &net.OpError{Op: "pipe", Err: errPipeOffLoop}
	case a.state == stateClosed || b.state == stateClosed || a.isClosing() || b.isClosing():
		return &net.OpError{Op: "pipe", Err: ErrClosed}
	}
	p := &pipe{}
	if cfg != nil {
		p.done = cfg.OnDone
	}
	p.a = pipeEnd{p: p, c: a, peer: &p.b}
	p.b = pipeEnd{p: p, c: b, peer: &p.a}
	a.setHandler(&p.a)
	b.setHandler(&p.b)
	if cfg != nil && cfg.Splice {
		newSplicers(a, b, p)
	}
	l := a.loop
	l.post(func() { p.start(l) })
	return nil
}

// isClosing reports whether Close, Abort or a failure already ended the
// connection's write side for good. Loop goroutine.
func (c *Conn) isClosing() bool {
	return c.lf.has(lClosing) || c.reqs.Load()&reqClose != 0
}

// setHandler makes h the connection's handler from its next event on.
// Loop goroutine. The listener stays recorded (its connection slot is
// released on close), and with TLS the layer stays in front of h.
func (c *Conn) setHandler(h Handler) {
	if c.x != nil && c.x.tls != nil {
		c.x.tls.user = h
		return
	}
	c.src = &connSource{h: h, ln: c.src.ln}
}

type pipe struct {
	a, b    pipeEnd
	done    func(PipeResult)
	spliced int64 // bytes moved by splice, both ways
}

// pipeEnd is the handler of one side of a pipe: it writes what its
// connection reads to the peer's connection.
type pipeEnd struct {
	p      *pipe
	c      *Conn
	peer   *pipeEnd
	n      int64 // bytes relayed from c to the peer
	why    error // c's close reason
	paused bool  // the pipe paused c's reads for the peer's backpressure
	eof    bool  // c's peer finished sending
	closed bool

	// With PipeConfig.Splice (relay_splice.go): the kernel pipe c reads
	// into, and the one it writes from.
	spOut, spIn *splicer
}

// start runs on the loop just after Pipe: it resumes reads paused before
// (ResumeRead offers what was kept first), offers bytes a handler left
// unconsumed on a connection that was not paused, and passes on a FIN
// that arrived before the pipe existed.
func (p *pipe) start(l *loop) {
	for _, e := range []*pipeEnd{&p.a, &p.b} {
		c := e.c
		if c.state == stateClosed || c.isClosing() {
			continue
		}
		// A PauseRead made before Pipe has had its task run: this runs
		// after it.
		if c.lf.has(lPaused) || c.reqs.Load()&reqPause != 0 {
			c.reqs.And(^reqPause)
			l.resume(c) // offers what was kept first
		} else if c.state == stateOpen {
			l.offerKept(c)
		}
		if c.state == stateOpen && !c.isClosing() && !c.lf.has(lPaused) && c.lf.has(lReadEOF) && c.in == nil && !e.eof {
			e.OnReadEOF(c) // the previous handler heard it; the pipe has not
		}
	}
}

// offerKept passes bytes kept from before to the handler again, as
// ResumeRead does for a paused connection. Loop goroutine.
func (l *loop) offerKept(c *Conn) {
	if c.in != nil {
		l.deliver(c, nil)
		if c.state != stateOpen || c.lf.has(lPaused) || c.isClosing() {
			return
		}
	}
	if r, ok := c.src.h.(readResumer); ok {
		r.resumeRead(c)
	}
}

// OnOpen: a connecting side connected. Its buffered output is flushed by
// the engine; nothing to do.
func (e *pipeEnd) OnOpen(c *Conn) {}

// OnData writes to the peer and pauses this side while the peer is above
// its high watermark. Everything is consumed: what the peer's socket does
// not take is in its pending output.
func (e *pipeEnd) OnData(c *Conn, in []byte) int {
	pc := e.peer.c
	if _, err := pc.Write(in); err != nil {
		// The peer is closing or gone; its OnClose closes this side.
		// Nothing more can be relayed in this direction.
		return len(in)
	}
	e.n += int64(len(in))
	if !e.paused && pc.OverHighWater() {
		e.paused = true
		c.PauseRead()
	}
	return len(in)
}

// OnReadEOF passes the FIN on once what came before it is written.
func (e *pipeEnd) OnReadEOF(c *Conn) {
	e.eof = true
	if !e.peer.closed {
		e.peer.c.CloseWrite()
	}
}

// OnWritable: this side drained; the peer may read again.
func (e *pipeEnd) OnWritable(c *Conn) {
	if p := e.peer; p.paused && !p.closed {
		p.paused = false
		p.c.ResumeRead()
	}
}

// OnClose closes the peer gracefully if it is still open, and reports the
// pipe once both sides closed.
func (e *pipeEnd) OnClose(c *Conn, why error) {
	e.closed, e.why = true, why
	if !e.peer.closed {
		e.peer.c.Close()
		return
	}
	e.p.closeSplicers()
	if e.p.done != nil {
		p := e.p
		e.p.done(PipeResult{A: p.a.c, B: p.b.c, AToB: p.a.n, BToA: p.b.n, Spliced: p.spliced, AErr: p.a.why, BErr: p.b.why})
	}
}

// DialAsync starts a non-blocking connect on c's own event loop, as
// Engine.DialAsync does on a loop of the engine's choosing: the new
// connection's events run on the same goroutine as c's. This is how a
// proxy dials its upstream, so that the two can be joined with Pipe. It is
// safe from any goroutine, handlers included; c may be closed already (the
// loop is what counts).
func (c *Conn) DialAsync(network, address string, h Handler, cfg *DialConfig) (*Conn, error) {
	return c.loop.eng.dialAsyncOn(c.loop, network, address, h, cfg)
}

// OverHighWater reports whether the connection's pending output rose above
// Options.WriteHighWater and has not yet drained to Options.WriteLowWater:
// the state in which OnWritable is due. A producer checks it after Write
// and stops until OnWritable. Safe from any goroutine.
func (c *Conn) OverHighWater() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.mf.has(mAboveHigh)
}

// PerConn returns a Handler that gives every connection a handler of its
// own, made by newHandler, so that per-connection state lives in the
// handler rather than behind Conn.Context. newHandler is called once per
// connection on its loop goroutine, before the connection's first event
// reaches the handler it returns: OnOpen, or OnClose for a dial that failed.
// Use it with Listen and with the dials alike.
func PerConn(newHandler func(c *Conn) Handler) Handler {
	return perConn{newHandler}
}

type perConn struct{ make func(c *Conn) Handler }

func (p perConn) start(c *Conn) Handler {
	h := p.make(c)
	if h == nil {
		h = BaseHandler{}
	}
	c.setHandler(h)
	return h
}

func (p perConn) OnOpen(c *Conn) { p.start(c).OnOpen(c) }

func (p perConn) OnClose(c *Conn, why error) { p.start(c).OnClose(c, why) }

// The connection's own handler has every other event; these run only if it
// was never made, which the engine does not do.
func (p perConn) OnData(c *Conn, in []byte) int { return p.start(c).OnData(c, in) }
func (p perConn) OnReadEOF(c *Conn)             { p.start(c).OnReadEOF(c) }
func (p perConn) OnWritable(c *Conn)            { p.start(c).OnWritable(c) }

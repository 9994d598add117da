package epollnet

// A connection's deadlines come in two kinds. The engine-wide idle and read
// timeouts (Options.IdleTimeout, Options.ReadTimeout) cost a connection
// nothing but the two times Conn keeps (lastRead, lastActive): the loop's
// sweep (timeout_sweep.go) finds the connections whose time has passed.
// Everything else (a timeout set on the connection, a closing flush's send
// timeout, linger, a dial's deadline) shares one entry in the loop's timer
// heap, in the connection's connExt. Reads and writes only record a time:
// the entry fires at the earliest deadline and connDeadline checks which
// one really passed, so neither the heap nor the sweep is touched on the
// read or write path.

// connTimer is a connection's entry in the loop's timer heap, and its own
// idle and read timeouts once a Conn setter replaced the engine's
// (lOwnTimeouts). A connection gets one when it needs a deadline of its
// own (a setter, a dial, a close that waits) and keeps it.
type connTimer struct {
	e      timerEntry
	idleNs int64 // with lOwnTimeouts, SetIdleTimeout's
	readNs int64 // with lOwnTimeouts, SetReadTimeout's
}

// timer returns c's connTimer, allocating it (and connExt) if needed.
// Loop goroutine, or before publication.
func (c *Conn) timer() *connTimer {
	x := c.ext()
	if x.tm == nil {
		x.tm = &connTimer{e: timerEntry{index: -1, owner: c}}
	}
	return x.tm
}

// ownTimeouts gives c timeouts of its own, starting from the engine's, so
// that a setter can replace one of them; the sweep leaves c alone from
// then on. Loop goroutine.
func (c *Conn) ownTimeouts() *connTimer {
	t := c.timer()
	if !c.lf.has(lOwnTimeouts) {
		c.lf.set(lOwnTimeouts)
		t.idleNs, t.readNs = durNanos(c.loop.opts.IdleTimeout), durNanos(c.loop.opts.ReadTimeout)
	}
	return t
}

// touchRead records data received (or the connection opening) at now.
func (c *Conn) touchRead(now int64) {
	c.lastRead = now
	c.lastActive = now
}

// fire runs when the connection's timer entry expires (timerOwner).
func (c *Conn) fire(l *loop) { l.connDeadline(c) }

// dropTimer takes the connection's entry out of the heap, if it has one.
func (l *loop) dropTimer(c *Conn) {
	if c.x != nil && c.x.tm != nil {
		l.timers.remove(&c.x.tm.e)
	}
}

// armDeadline keeps the connection's single timer entry at its earliest
// deadline: its own idle or read timeout, a closing flush's send timeout,
// or linger. A connection with the engine's timeouts only has them checked
// by the sweep, which armDeadline starts if needed.
func (l *loop) armDeadline(c *Conn) {
	if c.state == stateConnecting {
		l.armDial(c) // idle and read timeouts start when it opens
		return
	}
	next := int64(0)
	consider := func(at int64) {
		if at > 0 && (next == 0 || at < next) {
			next = at
		}
	}
	// Idle and read timeouts stop counting once a close has begun (the
	// send and linger deadlines bound it), exactly as connDeadline and the
	// sweep ignore them then; counting them here would re-arm the timer in
	// the past, forever.
	closing := c.lf.has(lClosing)
	x := c.x
	switch {
	case closing:
		if x != nil {
			consider(x.sendAt)
			consider(x.lingerAt)
			if c.lf.has(lLingering) {
				consider(x.lingerCheck)
			}
		}
	case c.lf.has(lOwnTimeouts):
		if t := x.tm; t.idleNs > 0 {
			consider(c.lastActive + t.idleNs)
		}
		if t := x.tm; t.readNs > 0 && !c.lf.has(lReadEOF) {
			consider(c.lastRead + t.readNs)
		}
	default:
		l.armSweep()
	}
	if next == 0 {
		l.dropTimer(c)
		return
	}
	// Never at or before now: runTimers fires entries until they are in
	// the future, and l.now does not move while it does.
	l.timers.schedule(&c.timer().e, max(next, l.now+1))
}

// connDeadline runs when the connection's timer fires. Activity moved the
// deadlines without touching the heap, so check which one really passed.
func (l *loop) connDeadline(c *Conn) {
	if c.state == stateConnecting {
		l.dialDeadline(c)
		return
	}
	if c.state != stateOpen {
		return
	}
	x := c.x // set: its entry fired
	closing := c.lf.has(lClosing)
	switch {
	case closing && x.sendAt > 0 && l.now >= x.sendAt && l.sendStalled(c):
		l.traceDetail(TraceTimer, c.fd, c, 0, "send-timeout", nil)
		l.abort(c, withCause(ErrSendTimeout, x.closeWhy))
	case c.lf.has(lLingering) && (l.now >= x.lingerCheck || l.now >= x.lingerAt):
		l.lingerCheckOutQueue(c)
	case closing || !c.lf.has(lOwnTimeouts) || !l.timedOut(c, x.tm.idleNs, x.tm.readNs):
		l.armDeadline(c)
	}
}

// timedOut closes c if its read or idle timeout (in nanoseconds, 0 for
// none) has passed, and reports whether it did. A direct write (mWrote)
// since the last check counts as activity now.
func (l *loop) timedOut(c *Conn, idleNs, readNs int64) bool {
	if readNs > 0 && !c.lf.has(lReadEOF) && l.now >= c.lastRead+readNs {
		l.traceDetail(TraceTimer, c.fd, c, 0, "read-timeout", nil)
		l.closeNow(c, ErrReadTimeout)
		return true
	}
	if idleNs <= 0 || l.now < c.lastActive+idleNs {
		return false
	}
	c.mu.Lock()
	wrote := c.mf.has(mWrote)
	c.mf.clr(mWrote)
	c.mu.Unlock()
	if wrote {
		c.lastActive = l.now
		return false
	}
	l.traceDetail(TraceTimer, c.fd, c, 0, "idle-timeout", nil)
	l.closeNow(c, ErrIdleTimeout)
	return true
}

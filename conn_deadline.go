package epollnet

// A connection's deadlines (idle, read, a closing flush's send timeout,
// linger, and a dial's) share one entry in the loop's timer heap. Reads and
// writes only record a time; the entry fires at the earliest deadline and
// connDeadline checks which one really passed, so the heap is not touched
// on the read or write path.

// connTimer is a connection's deadline state: its entry in the loop's timer
// heap, its idle and read timeouts, and the time of its last activity. A
// connection gets one when it needs a deadline (a timeout from Options or a
// Conn setter, a dial, a close that waits) and keeps it.
type connTimer struct {
	e          timerEntry
	idleNs     int64
	readNs     int64
	lastActive int64 // last read or flush; direct writes count at the next check (mWrote)
}

// timers returns c's connTimer, allocating it with the loop's default
// timeouts. Its activity clock starts at the last read, or now if there was
// none. Loop goroutine, or before publication.
func (c *Conn) timers(now int64) *connTimer {
	if c.tm == nil {
		o := c.loop.opts
		last := now
		if c.lastRead != 0 {
			last = c.lastRead
		}
		c.tm = &connTimer{idleNs: durNanos(o.IdleTimeout), readNs: durNanos(o.ReadTimeout), lastActive: last}
		c.tm.e.index = -1
		c.tm.e.owner = c
	}
	return c.tm
}

// touchRead records data received (or the connection opening) at now.
func (c *Conn) touchRead(now int64) {
	c.lastRead = now
	if t := c.tm; t != nil {
		t.lastActive = now
	}
}

// fire runs when the connection's timer entry expires (timerOwner).
func (c *Conn) fire(l *loop) { l.connDeadline(c) }

// dropTimer takes the connection's entry out of the heap, if it has one.
func (l *loop) dropTimer(c *Conn) {
	if c.tm != nil {
		l.timers.remove(&c.tm.e)
	}
}

// armDeadline keeps the connection's single timer entry at its earliest
// deadline: idle, read, a closing flush's send timeout, or linger.
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
	// send and linger deadlines bound it), exactly as connDeadline ignores
	// them then; counting them here would re-arm the timer in the past,
	// forever.
	closing := c.lf.has(lClosing)
	if t := c.tm; t != nil && !closing {
		if t.idleNs > 0 {
			consider(t.lastActive + t.idleNs)
		}
		if t.readNs > 0 && !c.lf.has(lReadEOF) {
			consider(c.lastRead + t.readNs)
		}
	}
	if x := c.x; x != nil && closing {
		consider(x.sendAt)
		consider(x.lingerAt)
		if c.lf.has(lLingering) {
			consider(x.lingerCheck)
		}
	}
	if next == 0 {
		l.dropTimer(c)
		return
	}
	// Never at or before now: runTimers fires entries until they are in
	// the future, and l.now does not move while it does.
	l.timers.schedule(&c.timers(l.now).e, max(next, l.now+1))
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
	t, x := c.tm, c.x // t is set: its entry fired
	c.mu.Lock()
	if c.mf.has(mWrote) {
		c.mf.clr(mWrote)
		t.lastActive = l.now
	}
	c.mu.Unlock()
	closing := c.lf.has(lClosing)
	switch {
	case closing && x != nil && x.sendAt > 0 && l.now >= x.sendAt && l.sendStalled(c):
		l.traceDetail(TraceTimer, c.fd, c, 0, "send-timeout", nil)
		l.abort(c, withCause(ErrSendTimeout, x.closeWhy))
	case c.lf.has(lLingering) && (l.now >= x.lingerCheck || l.now >= x.lingerAt):
		l.lingerCheckOutQueue(c)
	case t.readNs > 0 && !c.lf.has(lReadEOF) && !closing && l.now >= c.lastRead+t.readNs:
		l.traceDetail(TraceTimer, c.fd, c, 0, "read-timeout", nil)
		l.closeNow(c, ErrReadTimeout)
	case t.idleNs > 0 && !closing && l.now >= t.lastActive+t.idleNs:
		l.traceDetail(TraceTimer, c.fd, c, 0, "idle-timeout", nil)
		l.closeNow(c, ErrIdleTimeout)
	default:
		l.armDeadline(c)
	}
}

package epollnet

import "github.com/epollnet/epollnet/internal/poller"

// This file is the one place that changes a descriptor's epoll registration
// (setInterest), and the rules for what connections and listeners ask for.
//
// TCP connections are registered edge-triggered (EPOLLET); listeners and
// Unix-domain connections stay level-triggered. Under level-triggering,
// epoll_wait puts every socket it reports back on the ready list and polls
// it again (tcp_poll) at the next wait, to learn whether it is still ready:
// for a connection the loop has just read dry, that poll finds nothing, on
// every message. Edge-triggered, a socket is reported once per new arrival
// (sk_data_ready) or freed space (sk_write_space, armed by the send that
// found the buffer full).
//
// The price: the loop must never stop reading while the kernel may hold data
// that no later event will announce.
//   - A TCP read shorter than the buffer emptied the receive queue at that
//     moment, and anything arriving after it raises a new event
//     (TestEdgeTriggeredShortReadThenNewDataReportsAgain). The exception:
//     tcp_recvmsg stops short at an urgent mark (MSG_OOB) with more data
//     behind it. So TCP connections also ask for EPOLLPRI, which the kernel
//     reports while urgent data is pending, and an event carrying it reads
//     until EAGAIN (TestUrgentDataDoesNotStallReads).
//   - A Unix stream read stops short at more places (after a message
//     carrying descriptors, at out-of-band data), so Unix connections keep
//     level-triggering.
//   - A loop that stops after a full read queues the connection to be read
//     again next round (readAgain).
//   - Interest changes need nothing: EPOLL_CTL_MOD and EPOLL_CTL_ADD report
//     the socket's current state, so ResumeRead and a newly wanted EPOLLOUT
//     see data or space that is already there.

// unwatched is the interest of a descriptor outside the epoll set: not yet
// added, or removed by EPOLL_CTL_DEL. It differs from 0, a registration
// that still reports ERR and HUP, and from every interest the engine asks
// for, since none has all bits set.
const unwatched = ^poller.Events(0)

// setInterest moves fd's registration from one interest to another, where
// either may be unwatched: EPOLL_CTL_ADD into the set, EPOLL_CTL_DEL out of
// it, EPOLL_CTL_MOD within it. A MOD is made even when from equals to, since
// it makes the kernel report the socket's current state again, which an
// edge-triggered registration may need (openInterest); callers skip the
// changes they do not want. c is the connection, or nil for a listener; a
// connection's trigger mode is added here. setInterest traces the call and
// keeps Stats.Registered equal to the descriptors in the set. Errors are
// *os.SyscallError values naming epoll_ctl.
func (l *loop) setInterest(fd int, gen uint32, c *Conn, from, to poller.Events) error {
	ctl := to
	if c != nil {
		ctl |= c.trigger()
	}
	var op string
	var err error
	switch {
	case from == to && to == unwatched:
		return nil
	case from == unwatched:
		op, err = "add", l.p.Add(fd, gen, ctl)
		if err == nil {
			l.stats.registered.Add(1)
		}
	case to == unwatched:
		// Even a failed DEL leaves fd outside the set: it can only fail
		// because fd is closed (EBADF) or was not registered (ENOENT).
		op, ctl, err = "del", 0, l.p.Del(fd)
		l.stats.registered.Add(-1)
	default:
		op, err = "mod", l.p.Mod(fd, gen, ctl)
	}
	if l.opts.Tracer != nil {
		role := RoleListener
		if c != nil {
			role = c.role
		}
		l.traceCtl(op, fd, c, role, ctl, err)
	}
	return err
}

// register enters fd in the loop's table under a fresh generation and adds
// it to epoll with interest. A nil c registers a listener.
func (l *loop) register(fd int, c *Conn, interest poller.Events) (uint32, error) {
	e := l.fds.slot(fd)
	e.gen = nextGen(e.gen)
	if err := l.setInterest(fd, e.gen, c, unwatched, interest); err != nil {
		return 0, err
	}
	e.conn = c
	return e.gen, nil
}

// unregister takes fd out of epoll, unless its interest is already
// unwatched, and out of the table, before it is closed. close() alone would
// leave the registration alive if the descriptor had been dup'ed or passed
// to a child: epoll watches the open file description, not the descriptor
// number (see docs/kernel.md, "epoll watches the open file, not the
// descriptor"). The new generation makes any event of fd still in this
// batch stale.
func (l *loop) unregister(fd int, c *Conn, interest poller.Events) {
	l.setInterest(fd, 0, c, interest, unwatched)
	e := l.fds.get(fd)
	e.conn = nil
	e.gen = nextGen(e.gen)
}

// forget takes a socket the engine created out of the loop's table before
// close(), and leaves its registration for close() to remove, with no
// EPOLL_CTL_DEL, as nginx does: the registration belongs to the open file,
// which closes with the descriptor, since the engine never duplicates it
// and creates it close-on-exec. A child between fork and exec may hold it a
// moment longer: its events then carry the old generation, which the loop
// ignores (stale), and the exec closes it. A socket someone else made
// (lForeign: DialConfig.Socket, a listener the engine adopted) may have
// duplicates, so it gets unregister's DEL. Stats.Registered counts the
// registration gone.
func (l *loop) forget(c *Conn) {
	if c.interest != unwatched {
		l.stats.registered.Add(-1)
	}
	e := l.fds.get(c.fd)
	e.conn = nil
	e.gen = nextGen(e.gen)
}

// trigger returns the trigger mode of c's registrations: Edge for TCP.
func (c *Conn) trigger() poller.Events {
	if c.net == netUnix {
		return 0
	}
	return poller.Edge
}

// readInterest is what c asks epoll for while it reads: input and the
// peer's half-close, and for TCP urgent data too (see above).
func (c *Conn) readInterest() poller.Events {
	if c.net == netUnix {
		return poller.Readable | poller.ReadHangup
	}
	return poller.Readable | poller.ReadHangup | poller.Priority
}

// wanted is the interest c's state asks for: input unless paused (a
// closing connection reads and drops), EPOLLOUT while output is pending.
// Edge-triggered TCP connections keep two things a level-triggered one
// must drop, as nginx's registrations do. EPOLLOUT, once asked for (a dial
// asks at once): edge-triggered, it is reported only when space frees
// after a send found the buffer full, which sets SOCK_NOSPACE, and at the
// connect's completion, so it wakes nothing in vain, and output backing up
// again costs no epoll_ctl (armOut). And the read interest after the
// peer's FIN: the FIN is reported once, not at every wait. A relayed
// connection thus costs an ADD and a DEL, with no MOD between.
func (c *Conn) wanted() poller.Events {
	edge := c.trigger() == poller.Edge
	var want poller.Events
	if (edge || !c.lf.has(lReadEOF)) && (c.lf.has(lClosing) || !c.lf.has(lPaused)) {
		want = c.readInterest()
	}
	if c.lf.has(lWantOut) || edge && c.interest != unwatched && c.interest&poller.Writable != 0 {
		want |= poller.Writable
	}
	return want
}

// armOut makes c wait for EPOLLOUT to flush its pending output. An
// edge-triggered registration that already has EPOLLOUT gets no MOD, and
// so no fresh report of the socket's state: an edge that came before
// lWantOut was set was ignored, so flush at once instead; a write the
// kernel cuts short sets SOCK_NOSPACE, and the next edge follows.
// The connection may be closed on return.
func (l *loop) armOut(c *Conn) {
	c.lf.set(lWantOut)
	switch {
	case c.state != stateOpen:
		// connected() registers what a dial needs; a parked descriptor
		// gets it when unparked.
	case c.trigger() == poller.Edge && c.interest != unwatched && c.interest&poller.Writable != 0:
		l.flush(c)
	default:
		l.updateInterest(c)
	}
}

// updateInterest syncs an open connection's registration with its state
// (wanted).
func (l *loop) updateInterest(c *Conn) {
	if c.lf.has(lParked) || c.state != stateOpen {
		return // a connecting socket gets its interest in connected()
	}
	want := c.wanted()
	if want == c.interest {
		return
	}
	if err := l.setInterest(c.fd, c.gen, c, c.interest, want); err != nil {
		l.closeNow(c, err)
		return
	}
	c.interest = want
}

// openInterest sets the interest of a dialed connection that just opened:
// input unless paused, output if writes are pending. A parked Unix socket
// is re-added. Otherwise it is a MOD even when the interest is unchanged
// (OUT only: reads paused, writes queued before the open): it reports the
// socket's current state, where an edge-triggered registration would wait
// for an event that the connect's own EPOLLOUT has already used up.
//
// A TCP dial registered for input and output from the start (dialInterest)
// usually wants nothing new: then no MOD is made, and the connect's own
// event stands in for the fresh report a MOD would give. It reports
// whether that is so; connected() then reads and flushes by itself.
func (l *loop) openInterest(c *Conn) (same bool, err error) {
	want := c.wanted()
	if want == c.interest && c.trigger() == poller.Edge {
		return true, nil
	}
	if err := l.setInterest(c.fd, c.gen, c, c.interest, want); err != nil {
		return false, err
	}
	c.lf.clr(lParked)
	c.interest = want
	return false, nil
}

// dialInterest is what a dial registers before connect: EPOLLOUT, which
// reports the connect's end, and for TCP the read interest too, so that
// the open connection keeps its registration unchanged (wanted).
func (c *Conn) dialInterest() poller.Events {
	if c.trigger() == poller.Edge {
		return c.readInterest() | poller.Writable
	}
	return poller.Writable
}

// park takes c out of epoll while it stays in the loop's table: a paused
// connection with ERR or HUP pending, which epoll reports on every wait
// whatever the interest, or a Unix dial retrying connect.
func (l *loop) park(c *Conn) {
	l.setInterest(c.fd, c.gen, c, c.interest, unwatched)
	c.lf.set(lParked)
	c.interest = unwatched
}

// unpark adds a parked connection back. EPOLL_CTL_ADD reports the current
// state, so the pending ERR/HUP and any unread data come back at the next
// wait.
func (l *loop) unpark(c *Conn) {
	want := c.readInterest()
	if c.lf.has(lWantOut) || c.trigger() == poller.Edge {
		want |= poller.Writable // edge-triggered: kept (wanted)
	}
	if err := l.setInterest(c.fd, c.gen, c, unwatched, want); err != nil {
		l.closeNow(c, err)
		return
	}
	c.lf.clr(lParked)
	c.interest = want
}

// updateListener syncs a listener's registration: readable, unless paused
// after an accept error (pauseListener) or at ListenConfig.MaxConns
// (capListener). A listener stays in the set with interest 0 meanwhile, so
// re-arming it is a MOD, which reports connections already queued.
func (l *loop) updateListener(lh *lnHandle) {
	want := poller.Readable
	if lh.paused || lh.full {
		want = 0
	}
	if want == lh.interest {
		return
	}
	if err := l.setInterest(lh.fd, lh.gen, nil, lh.interest, want); err != nil {
		l.reportAcceptError(err)
		return
	}
	lh.interest = want
}

package epollnet

import "github.com/epollnet/epollnet/internal/poller"

// TCP connections are registered edge-triggered (EPOLLET); listeners and
// Unix-domain connections stay level-triggered (listener.go, trigger).
// Under level-triggering every socket epoll reports is put back on the
// ready list and polled again (tcp_poll) at the next epoll_wait, to learn
// whether it is still ready: for a connection the loop has just read dry
// that is pure cost, 1.0-1.5% of the CPU a small message takes (same-window
// runs against the level-triggered build). Edge-triggered, a socket is
// reported once per new arrival (sk_data_ready) or freed space
// (sk_write_space, armed by the send that found the buffer full).
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
//   - A loop that stops after a full read (the per-event batch cap, a
//     handler that called Close or PauseRead in OnData, a closing
//     connection's discard) queues the connection with readAgain; the next
//     round handles it as if epoll had reported it readable, and poll does
//     not sleep while any is queued.
//   - Interest changes need nothing: EPOLL_CTL_MOD and EPOLL_CTL_ADD report
//     the socket's current state, so ResumeRead and a newly wanted EPOLLOUT
//     see data or space that is already there.

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

// readAgain queues c to be handled as readable in the next round.
func (l *loop) readAgain(c *Conn) {
	if c.lf.has(lAgain) {
		return
	}
	c.lf.set(lAgain)
	l.again = append(l.again, c)
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
		c.lf.clr(lAgain)
		if c.state == stateOpen {
			l.connEvent(c, poller.Readable)
		}
	}
	l.againSpare = run[:0]
}

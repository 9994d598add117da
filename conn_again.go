package epollnet

import "github.com/epollnet/epollnet/internal/poller"

// An edge-triggered connection (interest.go) is not reported again for
// data already in its receive queue. A loop that stops reading after a
// full read (the per-event batch cap, a handler that called Close or
// PauseRead in OnData, a closing connection's discard) therefore queues the
// connection with readAgain; the next round handles it as if epoll had
// reported it readable, and poll does not sleep while any is queued.

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

package serve

import (
	"sync"
	"time"

	"github.com/epollnet/epollnet"
)

// drainGrace is how long, once the server drains, a keep-alive connection
// with no request in progress may still send one before it is closed.
// Closing an idle connection races with a request the client may be
// sending at that moment, which then fails (RFC 9112 lets clients retry
// an idempotent request on a new connection); waiting a little lets an
// active client's next request arrive and be answered with
// Connection: close instead.
const drainGrace = 250 * time.Millisecond

// connSet is one loop's open HTTP connections. The loop adds and removes;
// drain, on another goroutine, walks them, hence the mutex, which is
// uncontended otherwise.
type connSet struct {
	mu sync.Mutex
	m  map[*epollnet.Conn]*httpConn
	_  [40]byte // keep loops' sets on separate cache lines
}

func (cs *connSet) add(c *epollnet.Conn, hc *httpConn) {
	cs.mu.Lock()
	if cs.m == nil {
		cs.m = map[*epollnet.Conn]*httpConn{}
	}
	cs.m[c] = hc
	cs.mu.Unlock()
}

func (cs *connSet) remove(c *epollnet.Conn) {
	cs.mu.Lock()
	delete(cs.m, c)
	cs.mu.Unlock()
}

// track registers a new connection; one opened while the server drains
// gets its grace period at once.
func (s *httpServer) track(c *epollnet.Conn, hc *httpConn) {
	s.conns[c.LoopIndex()].add(c, hc)
	if s.draining.Load() {
		s.closeIfIdleLater(c, hc)
	}
}

// drain makes the server wind down without failing a request: from now on
// every response says Connection: close and its connection closes once it
// is flushed, and connections idle after drainGrace are closed. The
// caller waits for the connections to go, up to its deadline.
func (s *httpServer) drain() {
	if s.draining.Swap(true) {
		return
	}
	for i := range s.conns {
		cs := &s.conns[i]
		cs.mu.Lock()
		for c, hc := range cs.m {
			s.closeIfIdleLater(c, hc)
		}
		cs.mu.Unlock()
	}
}

// closeIfIdleLater closes c after drainGrace unless a request is in
// progress then (its response will close it) or the client is not reading
// its responses (flow control holds the next request back; it gets
// Connection: close too).
func (s *httpServer) closeIfIdleLater(c *epollnet.Conn, hc *httpConn) {
	c.AfterFunc(drainGrace, func() {
		if !hc.closed && !hc.partial && !hc.paused {
			s.close(c, hc)
		}
	})
}

package serve

import (
	"sync/atomic"

	"github.com/epollnet/epollnet"
	"github.com/epollnet/epollnet/cmd/epollnet/internal/cli"
)

// serveStats are the counters "serve" keeps besides Engine.Stats.
type serveStats struct {
	open     atomic.Int64      // connections open now, refused ones until closed
	refused  atomic.Uint64     // connections reset for exceeding --max-conns
	badReqs  atomic.Uint64     // http: requests answered with a 4xx/5xx parse error
	timeouts atomic.Uint64     // http: header timeouts answered with 408
	perLoop  []cli.PaddedCount // http: requests answered; echo, discard: reads
	maxConns int64
	// resetOverCap: --at-cap reset. Under wait the engine holds the
	// listeners at the cap and nothing is reset here.
	resetOverCap bool
}

func newServeStats(loops int, maxConns int64) *serveStats {
	return &serveStats{perLoop: make([]cli.PaddedCount, loops), maxConns: maxConns, resetOverCap: true}
}

// ops returns the requests (http) or reads (echo, discard) so far.
func (s *serveStats) ops() uint64 {
	var n uint64
	for i := range s.perLoop {
		n += s.perLoop[i].Load()
	}
	return n
}

// serveBase is the part every serve handler shares: the connection cap.
// With --at-cap reset (the default) it is counted here, over all
// listeners: a connection over the cap is accepted (its descriptor is
// already open) and reset at once, which tells the client immediately
// instead of leaving it in the backlog. With --at-cap wait the engine
// enforces it (ListenConfig.MaxConns) and admit only counts.
type serveBase struct {
	st *serveStats
}

// admit counts c and reports whether it is within the cap. Over it, c is
// aborted; OnClose still follows and uncounts it.
func (b *serveBase) admit(c *epollnet.Conn) bool {
	if b.st.open.Add(1) > b.st.maxConns && b.st.resetOverCap {
		b.st.refused.Add(1)
		c.Abort()
		return false
	}
	return true
}

// OnOpen admits the connection or resets it.
func (b *serveBase) OnOpen(c *epollnet.Conn) { b.admit(c) }

// OnData discards the input: the discard protocol.
func (b *serveBase) OnData(c *epollnet.Conn, in []byte) int {
	b.st.perLoop[c.LoopIndex()].Add(1)
	return len(in)
}

// OnReadEOF closes once the client has finished, after pending output.
func (b *serveBase) OnReadEOF(c *epollnet.Conn) { c.Close() }

// OnWritable does nothing: only echo applies backpressure.
func (b *serveBase) OnWritable(c *epollnet.Conn) {}

// OnClose uncounts the connection, refused or not.
func (b *serveBase) OnClose(c *epollnet.Conn, reason error) { b.st.open.Add(-1) }

// discardServer reads and drops everything.
type discardServer struct{ serveBase }

// flow is a connection's backpressure state (echo and http). Once its
// output passes the engine's high watermark, the handler stops consuming
// input and asks the engine to stop reading; OnWritable, which the engine
// calls when the output drained to the low watermark, undoes both.
// PauseRead is a request to the loop, which may still deliver the reads it
// has started: returning 0 keeps those in the engine's buffer instead of
// producing more output, so neither cap is reached.
type flow struct{ paused bool }

// throttle pauses f if c's output is above the high watermark.
func (b *serveBase) throttle(c *epollnet.Conn, f *flow) {
	if !f.paused && c.OverHighWater() {
		f.paused = true
		c.PauseRead()
	}
}

// unthrottle resumes a paused f: the engine then offers the input it kept.
func (b *serveBase) unthrottle(c *epollnet.Conn, f *flow) {
	if f.paused {
		f.paused = false
		c.ResumeRead()
	}
}

// echoServer writes back what it reads. A client that sends without
// reading is slowed down by TCP flow control (see flow) instead of being
// disconnected at the write cap.
type echoServer struct{ serveBase }

// OnOpen admits the connection and gives it its flow state.
func (e *echoServer) OnOpen(c *epollnet.Conn) {
	if e.admit(c) {
		c.SetContext(&flow{})
	}
}

// OnData echoes in.
func (e *echoServer) OnData(c *epollnet.Conn, in []byte) int {
	f, _ := c.Context().(*flow)
	switch {
	case f == nil: // refused: reset already requested
		return len(in)
	case f.paused:
		return 0
	}
	e.st.perLoop[c.LoopIndex()].Add(1)
	c.Write(in)
	e.throttle(c, f)
	return len(in)
}

// OnWritable resumes reading once the output drained to the low watermark.
func (e *echoServer) OnWritable(c *epollnet.Conn) {
	if f, _ := c.Context().(*flow); f != nil {
		e.unthrottle(c, f)
	}
}

package serve

import (
	"bytes"
	"errors"
	"sync/atomic"
	"time"

	"github.com/epollnet/epollnet"
	"github.com/epollnet/epollnet/cmd/epollnet/internal/http1"
)

// HelloBody is the body of every successful response: the "plaintext"
// benchmark's, so numbers compare with other servers' (benchmarks/).
const HelloBody = "Hello, World!"

var (
	helloHeaders = []http1.Header{
		{Name: []byte("Server"), Value: []byte("epollnet")},
		{Name: []byte("Content-Type"), Value: []byte("text/plain")},
	}
	continue100  = []byte("HTTP/1.1 100 Continue\r\n\r\n")
	errHeaderTTL = &http1.Error{Status: 408, Reason: "request not received in time"}
	errInternal  = &http1.Error{Status: 400, Reason: "malformed request"}
	methodHEAD   = []byte("HEAD")
)

// httpServer is the handler of "serve --proto http". Every complete request
// in one read is answered, in order, and the responses of that read leave
// in one Write; a partial request stays unconsumed until the rest arrives
// (http1's resume rule: the parser is given the same bytes again, with
// more appended).
type httpServer struct {
	serveBase
	limits        http1.Limits
	headerTimeout time.Duration
	loops         []httpLoop
	draining      atomic.Bool // shutdown or handover: close after each response
	conns         []connSet   // per loop: the open connections, for drain
}

// httpLoop is one event loop's scratch space: only that loop touches it.
type httpLoop struct {
	out   []byte          // the responses of one read
	dates http1.DateCache // the Date value, formatted once a second
	sec   int64           // the second canned was built for
	// canned holds the 200 responses for sec, by variant (see variant).
	canned [8][]byte
}

// httpConn is one connection's parser state.
type httpConn struct {
	flow
	p         http1.RequestParser
	req       http1.Request
	closed    bool // Close or Abort requested: input is ignored
	partial   bool // part of a request is buffered: not idle
	continued bool // 100 Continue sent for the request in progress
	timer     *epollnet.Timer
	timerGen  uint64
}

func newHTTPServer(st *serveStats, loops int, o serveOptions) *httpServer {
	return &httpServer{
		serveBase:     serveBase{st: st},
		limits:        http1.Limits{MaxHeaderBytes: o.maxHeaderBytes, MaxBodyBytes: int64(max(o.maxBodyBytes, 0))},
		headerTimeout: o.headerTimeout,
		loops:         make([]httpLoop, loops),
		conns:         make([]connSet, loops),
	}
}

// OnOpen admits the connection and starts the clock for its first request.
func (s *httpServer) OnOpen(c *epollnet.Conn) {
	if !s.admit(c) {
		return
	}
	hc := &httpConn{p: http1.RequestParser{Limits: s.limits}}
	c.SetContext(hc)
	s.armTimer(c, hc)
	s.track(c, hc)
}

// OnData answers the complete requests at the start of in.
func (s *httpServer) OnData(c *epollnet.Conn, in []byte) int {
	hc, _ := c.Context().(*httpConn)
	switch {
	case hc == nil || hc.closed:
		// Refused, or closing: the engine may still deliver what it read
		// before our Close reached the loop.
		return len(in)
	case hc.paused:
		return 0 // see flow
	}
	li := c.LoopIndex()
	lp := &s.loops[li]
	lp.out = lp.out[:0]
	used, answered, closeConn := s.process(li, hc, in, c.LoopTime()) // one clock read per round, not per request
	if len(lp.out) > 0 {
		c.Write(lp.out)
		// A client that pipelines without reading its responses is
		// slowed down rather than disconnected at the write cap.
		s.throttle(c, &hc.flow)
	}
	if closeConn {
		s.close(c, hc)
		return len(in)
	}
	// The clock runs per request: restart it when a request completed,
	// start it when a new one has begun, stop it when nothing is pending.
	if answered > 0 && hc.timer != nil {
		hc.stopTimer()
	}
	if used < len(in) && hc.timer == nil {
		s.armTimer(c, hc)
	}
	hc.partial = used < len(in)
	return used
}

// OnWritable resumes reading once a paused client's output drained.
func (s *httpServer) OnWritable(c *epollnet.Conn) {
	if hc, _ := c.Context().(*httpConn); hc != nil && !hc.closed {
		s.unthrottle(c, &hc.flow)
	}
}

// OnClose stops the request clock and uncounts the connection.
func (s *httpServer) OnClose(c *epollnet.Conn, reason error) {
	if hc, _ := c.Context().(*httpConn); hc != nil {
		hc.closed = true
		hc.stopTimer()
		s.conns[c.LoopIndex()].remove(c)
	}
	s.serveBase.OnClose(c, reason)
}

// close closes after the responses written so far are flushed.
func (s *httpServer) close(c *epollnet.Conn, hc *httpConn) {
	hc.closed = true
	hc.stopTimer()
	c.Close()
}

// process parses and answers the complete requests at the start of in,
// appending the responses to the output of loop li. It returns the bytes used, the
// requests answered, and whether the connection must close once the
// output is flushed: after a request that asks for it, any request while
// the server drains, or a parse error, which is answered with its status.
// It never looks past a closing request: what follows it is discarded.
func (s *httpServer) process(li int, hc *httpConn, in []byte, now time.Time) (used, answered int, closeConn bool) {
	lp := &s.loops[li]
	defer func() { s.st.perLoop[li].Add(uint64(answered)) }()
	for used < len(in) {
		n, err := hc.p.Parse(in[used:], &hc.req)
		if err != nil {
			var he *http1.Error
			if !errors.As(err, &he) {
				he = errInternal
			}
			s.st.badReqs.Add(1)
			lp.out = he.AppendResponse(lp.out, lp.dates.Value(now))
			return used, answered, true
		}
		if n == 0 {
			s.expectContinue(lp, hc, in[used:])
			return used, answered, false
		}
		used += n
		answered++
		hc.continued = false
		closing := hc.req.Close || s.draining.Load()
		lp.out = append(lp.out, s.response(lp, &hc.req, closing, now)...)
		if closing {
			return len(in), answered, true
		}
	}
	return used, answered, false
}

// expectContinue answers "Expect: 100-continue" once the head of a request
// whose body is still missing is complete (RFC 9110: a server that will
// read the body should send 100 Continue), so that a client waiting for it
// sends the body.
func (s *httpServer) expectContinue(lp *httpLoop, hc *httpConn, partial []byte) {
	if hc.continued || len(partial) == 0 {
		return
	}
	if n, err := hc.p.ParseHead(partial, &hc.req); n > 0 && err == nil && hc.req.Expect100 {
		hc.continued = true
		lp.out = append(lp.out, continue100...)
	}
}

// response returns the 200 response to req, with Connection: close if
// closing: one of eight canned variants, rebuilt when the second (and so
// the Date field) changes.
func (s *httpServer) response(lp *httpLoop, req *http1.Request, closing bool, now time.Time) []byte {
	if sec := now.Unix(); sec != lp.sec || lp.canned[0] == nil {
		lp.sec = sec
		date := lp.dates.Value(now)
		for v := range lp.canned {
			h := http1.ResponseHead{StatusCode: 200, Date: date, Headers: helloHeaders,
				Close: v&1 != 0, KeepAlive: v&2 != 0, Head: v&4 != 0}
			lp.canned[v] = http1.AppendResponse(lp.canned[v][:0], &h, []byte(HelloBody))
		}
	}
	return lp.canned[variant(req, closing)]
}

// variant picks the canned response: Connection: close, Connection:
// keep-alive for an HTTP/1.0 client that asked to keep the connection
// (RFC 9112 §C.2.2), and no body for HEAD.
func variant(req *http1.Request, closing bool) int {
	v := 0
	switch {
	case closing:
		v |= 1
	case req.ProtoMinor == 0:
		v |= 2
	}
	if bytes.Equal(req.Method, methodHEAD) {
		v |= 4
	}
	return v
}

// armTimer starts the request clock: unless the request is complete
// within --header-timeout, the connection gets a 408 and is closed. It
// defends against slowloris clients, which keep a connection by sending a
// byte now and then: the idle and read timeouts never fire for them.
func (s *httpServer) armTimer(c *epollnet.Conn, hc *httpConn) {
	if s.headerTimeout <= 0 {
		return
	}
	hc.timerGen++
	gen := hc.timerGen
	hc.timer = c.AfterFunc(s.headerTimeout, func() { s.timedOut(c, hc, gen) })
}

// timedOut runs on the connection's loop when the request clock expires.
func (s *httpServer) timedOut(c *epollnet.Conn, hc *httpConn, gen uint64) {
	if hc.closed || gen != hc.timerGen {
		return // the connection closed, or the clock was restarted
	}
	hc.timer = nil
	s.st.timeouts.Add(1)
	lp := &s.loops[c.LoopIndex()]
	lp.out = errHeaderTTL.AppendResponse(lp.out[:0], lp.dates.Value(c.LoopTime()))
	c.Write(lp.out)
	s.close(c, hc)
}

// stopTimer cancels the request clock.
func (hc *httpConn) stopTimer() {
	if hc.timer != nil {
		hc.timer.Stop()
		hc.timer = nil
	}
	hc.timerGen++
}

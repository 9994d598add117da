package bench

import (
	"bytes"
	"fmt"
	"time"

	"github.com/epollnet/epollnet"
	"github.com/epollnet/epollnet/cmd/epollnet/internal/cli"
	"github.com/epollnet/epollnet/cmd/epollnet/internal/http1"
)

// benchConn is one load-generating connection, and its handler: every
// method runs on the connection's loop. It keeps up to --pipeline requests
// in flight, with their scheduled send times in a ring, and sends more as
// responses come back (closed loop) or as the --rate schedule says.
type benchConn struct {
	r      *benchRun
	c      *epollnet.Conn
	id     uint64
	dialAt int64 // when DialAsync was called, on the run's clock
	fails  int   // consecutive failed connections before this one

	closed  bool // OnClose ran: timers that fire later do nothing
	quiet   bool // we are closing on purpose: the close is no error
	failed  bool // an error was counted: reconnect after a back-off
	retired bool // replaced by a new connection already

	// Requests in flight, oldest first: their scheduled send times.
	ring  []int64
	first int
	n     int

	// --rate: the next scheduled send, and whether a timer waits for it;
	// phase offsets the first one, spreading the connections' schedules;
	// inherited is the schedule taken over from the connection this one
	// replaces (noSchedule: none).
	nextAt, phase, inherited int64
	timerArmed               bool
	tick                     func()

	// --requests-per-conn: requests sent and answered on this connection.
	issued, answered int

	// echo: the pattern offsets of the bytes sent and verified so far.
	base, sentOff, recvOff int64
	recvMsgs               int64
	bufs                   [][]byte

	// http
	p          http1.ResponseParser
	resp       http1.Response
	untilClose bool // a close-delimited body: read until EOF
}

// OnOpen records the connect time and starts sending.
func (b *benchConn) OnOpen(c *epollnet.Conn) {
	now := b.r.now()
	b.c = c
	b.fails = 0
	lp := &b.r.loops[c.LoopIndex()]
	if !b.r.stopped.Load() {
		// With TLS, OnOpen comes after the handshake: connect time is
		// the rest, the handshake has a distribution of its own.
		hs := int64(c.HandshakeDuration())
		lp.connect.Record(max(now-b.dialAt-hs, 0))
		lp.opened.Add(1)
		if st, ok := c.ConnectionState(); ok {
			lp.tls.opened(st)
			lp.handshake.Record(hs)
		}
	}
	b.nextAt = now + b.phase
	if b.inherited != noSchedule {
		b.nextAt = b.inherited
	}
	b.pump(now)
}

// pump sends what the window and the schedule allow, in one write.
func (b *benchConn) pump(now int64) {
	if b.closed || b.quiet || b.r.stopped.Load() {
		return
	}
	if b.r.o.proto == cli.ProtoRaw {
		b.pumpRaw(now)
		return
	}
	k := 0
	for b.n+k < len(b.ring) && (b.r.o.perConn == 0 || b.issued+k < b.r.o.perConn) {
		at := now
		if b.r.interval > 0 {
			if b.nextAt > now {
				break
			}
			at = b.nextAt
			b.nextAt += b.r.interval
		}
		if !b.r.take() {
			break
		}
		b.ring[(b.first+b.n+k)%len(b.ring)] = at
		k++
	}
	if k > 0 {
		b.n += k
		b.r.loops[b.c.LoopIndex()].sent.Add(uint64(k))
		b.send(k)
		b.issued += k
	}
	b.armRate(now)
}

// armRate waits for the next scheduled send when the window has room.
func (b *benchConn) armRate(now int64) {
	if b.r.interval == 0 || b.n == len(b.ring) || b.r.exhausted() || b.lastSent() {
		return
	}
	b.armTick(time.Duration(b.nextAt - now))
}

// onTick runs when the rate timer fires.
func (b *benchConn) onTick() {
	b.timerArmed = false
	b.pump(b.r.now())
}

// lastSent reports that the connection sent its --requests-per-conn.
func (b *benchConn) lastSent() bool {
	return b.r.o.perConn > 0 && b.issued >= b.r.o.perConn
}

// send writes k more requests; with --requests-per-conn, an HTTP
// connection's last one asks the server to close (Connection: close).
func (b *benchConn) send(k int) {
	switch b.r.o.proto {
	case cli.ProtoHTTP:
		one := len(b.r.request)
		if b.r.o.perConn > 0 && b.issued+k == b.r.o.perConn {
			b.c.Writev([][]byte{b.r.requests[:(k-1)*one], b.r.closing})
			return
		}
		b.c.Write(b.r.requests[:k*one])
	default:
		// Consecutive messages are consecutive in the pattern: k of them
		// are a window or two of it, one sendmsg.
		n := k * b.r.o.size
		b.bufs = b.r.pattern.appendWindows(b.bufs[:0], b.base+b.sentOff, n)
		b.sentOff += int64(n)
		b.c.Writev(b.bufs)
	}
}

// pumpRaw writes raw messages, which count as done once written: up to
// 64 KiB per turn, in one write, then it yields the loop (a zero timer),
// or, when the output piled up, waits for it to drain.
func (b *benchConn) pumpRaw(now int64) {
	lp := &b.r.loops[b.c.LoopIndex()]
	budget := max(64<<10/b.r.o.size, 1)
	k := 0
	for ; k < budget; k++ {
		if b.r.interval > 0 {
			if b.nextAt > now {
				break
			}
			b.nextAt += b.r.interval
		}
		if !b.r.take() {
			break
		}
		if !b.r.completed(lp, now, -1) {
			break
		}
	}
	if k > 0 {
		lp.sent.Add(uint64(k))
		b.send(k)
	}
	switch {
	case b.r.exhausted():
	case b.c.Buffered() > benchWriteHigh:
		// OnWritable resumes it once the output drained; the timer
		// covers the engine not calling it (see serve's drainPoll).
		b.armTick(time.Millisecond)
	case b.r.interval > 0:
		b.armRate(now)
	default:
		b.armTick(0) // yield the loop to the other connections
	}
}

// armTick runs pump again after d, unless a timer is already waiting.
func (b *benchConn) armTick(d time.Duration) {
	if !b.timerArmed {
		b.timerArmed = true
		b.c.AfterFunc(d, b.tick)
	}
}

// OnWritable resumes a raw sender whose output had piled up.
func (b *benchConn) OnWritable(c *epollnet.Conn) { b.pump(b.r.now()) }

// OnData checks the replies and sends more requests.
func (b *benchConn) OnData(c *epollnet.Conn, in []byte) int {
	if b.quiet || b.closed {
		return len(in)
	}
	now := b.r.now()
	var used int
	var err error
	switch b.r.o.proto {
	case cli.ProtoHTTP:
		used, err = b.httpData(in, now)
	case cli.ProtoEcho:
		used, err = len(in), b.echoData(in, now)
	default:
		err = fmt.Errorf("%d unexpected bytes from a raw target", len(in))
	}
	if err != nil {
		b.r.recordError(errBadResponse, err)
		b.quiet, b.failed = true, true
		c.Abort()
		return len(in)
	}
	if b.r.o.perConn > 0 && b.answered >= b.r.o.perConn && !b.quiet && !b.untilClose {
		// Done: close, and OnClose opens the next connection. An HTTP
		// server closes first (it answered Connection: close), an echo
		// server after bench: bench keeps the TIME_WAIT then. A
		// close-delimited body is read to its end (OnReadEOF) first.
		b.quiet = true
		c.Close()
		return len(in)
	}
	b.pump(now)
	return used
}

// echoData compares the echoed bytes with what was sent, and completes a
// request for every whole message that came back.
func (b *benchConn) echoData(in []byte, now int64) error {
	if b.recvOff+int64(len(in)) > b.sentOff {
		return fmt.Errorf("echo: %d bytes back, %d sent", b.recvOff+int64(len(in)), b.sentOff)
	}
	if at := b.r.pattern.mismatch(in, b.base+b.recvOff); at >= 0 {
		return fmt.Errorf("echo: byte %d of the stream differs from the one sent", b.recvOff+int64(at))
	}
	b.recvOff += int64(len(in))
	lp := &b.r.loops[b.c.LoopIndex()]
	size := int64(b.r.o.size)
	for (b.recvMsgs+1)*size <= b.recvOff {
		b.recvMsgs++
		b.answered++
		b.r.completed(lp, now, b.pop())
	}
	return nil
}

// httpData parses the complete responses at the start of in. A partial one
// stays unconsumed, which is http1's resume rule.
func (b *benchConn) httpData(in []byte, now int64) (int, error) {
	if b.untilClose {
		return len(in), nil
	}
	lp := &b.r.loops[b.c.LoopIndex()]
	used := 0
	for used < len(in) {
		n, err := b.p.Parse(in[used:], b.r.o.method, &b.resp)
		if err != nil {
			return used, fmt.Errorf("malformed response: %w", err)
		}
		if n == 0 {
			break
		}
		used += n
		code := b.resp.StatusCode
		if code < 200 {
			continue // interim (100 Continue): the final response follows
		}
		if b.n == 0 {
			return used, fmt.Errorf("a response (%d) to no request", code)
		}
		b.answered++
		if b.r.completed(lp, now, b.pop()) {
			lp.status[min(code, len(lp.status)-1)]++
		}
		if b.resp.UntilClose {
			b.untilClose = true
			return len(in), nil
		}
		if b.resp.Close {
			// The server ends the connection: requests after this one
			// are lost, which is no error; a new connection takes over.
			b.quiet = true
			b.c.Close()
			return len(in), nil
		}
	}
	return used, nil
}

// pop removes the oldest request in flight and returns its scheduled time.
func (b *benchConn) pop() int64 {
	at := b.ring[b.first]
	b.first = (b.first + 1) % len(b.ring)
	b.n--
	return at
}

// OnReadEOF: the server finished sending. A close-delimited response is
// complete; anything else with requests in flight is an error.
func (b *benchConn) OnReadEOF(c *epollnet.Conn) {
	if !b.quiet && !b.untilClose && !b.r.stopped.Load() && (b.n > 0 || b.r.o.proto == cli.ProtoRaw) {
		b.r.recordError(errOther, fmt.Errorf("server closed the connection with %d requests in flight", b.n))
		b.failed = true
	}
	b.quiet = true
	c.Close()
}

// OnClose counts the failure, if any, and replaces the connection while
// the run goes on, after a back-off that grows with consecutive failures
// so that a refusing server is not hammered in a tight loop.
func (b *benchConn) OnClose(c *epollnet.Conn, reason error) {
	b.closed = true
	if b.r.stopped.Load() || b.retired {
		return // requests still in flight count as such at the end
	}
	// Requests that were in flight go with the connection: lost, not in
	// flight at the end, so that the report's counts add up.
	b.r.loops[c.LoopIndex()].lost += uint64(b.n)
	b.n = 0
	b.retired = true
	failed := b.failed
	if !b.quiet && reason != nil {
		failed = true
		b.r.recordError(classOf(reason), reason)
	}
	fails := 0
	if failed || b.c == nil {
		fails = b.fails + 1
	}
	if fails == 0 {
		// A clean close: the new connection keeps the --rate schedule, so
		// that the time it takes to connect counts as waiting, not as a
		// pause of the schedule.
		next := int64(noSchedule)
		if b.r.interval > 0 {
			next = b.nextAt
		}
		b.r.dial(0, next)
		return
	}
	delay := min(10*time.Millisecond<<min(fails-1, 10), time.Second)
	c.AfterFunc(delay, func() { b.r.dial(fails, noSchedule) })
}

// pattern is the byte stream echo and raw connections send: a pseudo-random
// block of prime length, stored twice so that any window of up to its
// length is one slice. Each connection starts at its own offset; the echoed
// stream is compared with it byte by byte, so a lost, duplicated, reordered
// or corrupted byte is caught, not only a wrong length.
type pattern []byte

const patternPeriod = 65521 // the largest prime below 64 Ki

func newPattern(seed uint64) pattern {
	p := make([]byte, 2*patternPeriod)
	x := seed | 1
	for i := 0; i < patternPeriod; i++ {
		x ^= x << 13 // xorshift64
		x ^= x >> 7
		x ^= x << 17
		p[i] = byte(x >> 32)
	}
	copy(p[patternPeriod:], p[:patternPeriod])
	return p
}

// appendWindows appends the slices holding size bytes of the stream from
// off to bufs.
func (p pattern) appendWindows(bufs [][]byte, off int64, size int) [][]byte {
	for size > 0 {
		o := int(off % patternPeriod)
		m := min(size, patternPeriod)
		bufs = append(bufs, p[o:o+m])
		off += int64(m)
		size -= m
	}
	return bufs
}

// mismatch returns the index of the first byte of in that differs from the
// stream at off, or -1.
func (p pattern) mismatch(in []byte, off int64) int {
	done := 0
	for done < len(in) {
		o := int((off + int64(done)) % patternPeriod)
		m := min(len(in)-done, patternPeriod)
		if !bytes.Equal(in[done:done+m], p[o:o+m]) {
			for i := range m {
				if in[done+i] != p[o+i] {
					return done + i
				}
			}
		}
		done += m
	}
	return -1
}

package epollnet

import (
	"syscall"

	"github.com/epollnet/epollnet/internal/sys"
)

// Write writes p to the connection, from any goroutine. Writes are applied
// in call order. Write first tries the socket directly and keeps, in a
// per-connection buffer, only what the kernel refused with EAGAIN; the loop
// flushes it when the socket becomes writable. Write never blocks and
// returns len(p) unless it fails: with ErrClosed after Close, with
// ErrWriteCapExceeded when pending output would pass Options.MaxWriteBuffer
// (the connection is then closed with that reason), or with the socket
// error (EPIPE, ECONNRESET) if the peer is gone. With TLS, p is plaintext,
// encrypted by the calling goroutine; pending output, the watermarks and
// the cap count ciphertext, and writes made before the handshake completed
// are sent after it.
func (c *Conn) Write(p []byte) (int, error) {
	if c.reqs.Load()&reqTLS != 0 {
		return c.writeTLS(p, nil)
	}
	c.mu.Lock()
	n, err := c.writeLocked(p, nil)
	c.mu.Unlock()
	if err != nil {
		err = c.opError("write", err)
	}
	return n, err
}

// Writev writes the buffers in order as one gathered write (sendmsg), from
// any goroutine, with the semantics of Write. It returns the total length.
func (c *Conn) Writev(bufs [][]byte) (int, error) {
	if c.reqs.Load()&reqTLS != 0 {
		return c.writeTLS(nil, bufs)
	}
	c.mu.Lock()
	n, err := c.writeLocked(nil, bufs)
	c.mu.Unlock()
	if err != nil {
		err = c.opError("write", err)
	}
	return n, err
}

// writeLocked writes either p or bufs. Called with c.mu held; the caller
// shapes a returned error with opError after unlocking.
func (c *Conn) writeLocked(p []byte, bufs [][]byte) (int, error) {
	if c.mf.has(mWclosed) {
		return 0, ErrClosed
	}
	total := len(p)
	for _, b := range bufs {
		total += len(b)
	}
	if total == 0 {
		return 0, nil
	}
	written := 0
	if c.out == nil && c.mf.has(mReady) {
		var err error
		if bufs == nil {
			written, err = sys.Send(c.fd, p)
		} else {
			written, err = sys.WritevShort(c.fd, bufs)
		}
		c.loop.trace(TraceWrite, c.fd, c, 0, 0, written, err)
		if err != nil && err != syscall.EAGAIN {
			c.failLocked(err)
			return 0, writeError(err)
		}
		c.loop.stats.bytesOut.Add(uint64(written))
		c.mf.set(mWrote)
		if written == total {
			return total, nil
		}
	}
	c.loop.stats.writeAgain.Add(1) // the kernel took less than all of it
	rest := total - written
	if c.pending()+rest > c.loop.opts.MaxWriteBuffer {
		c.failLocked(nil)
		return written, ErrWriteCapExceeded
	}
	c.appendOut(p, bufs, written)
	if c.pending() > c.loop.opts.WriteHighWater && !c.mf.has(mAboveHigh) {
		c.mf.set(mAboveHigh)
		c.loop.stats.highWater.Add(1)
	}
	if !c.mf.has(mArmQueued) {
		c.mf.set(mArmQueued)
		c.loop.enqueue(task{kind: taskArmOut, c: c})
	}
	return total, nil
}

// failLocked closes the write side after a fatal write error (err) or a cap
// overflow (nil) and asks the loop to close the connection with the reason.
// The close happens on the loop, never inside the caller's Write; like
// Abort, it stops delivery at once, so a read batch in progress calls
// OnData no more.
func (c *Conn) failLocked(err error) {
	c.mf.set(mWclosed | mCloseReq | mAbortReq)
	c.reqs.Or(reqClose)
	why := error(ErrWriteCapExceeded)
	if err != nil {
		why = writeError(err)
	}
	c.loop.enqueue(task{kind: taskAbort, c: c, err: why})
}

// outQueue is a connection's pending output. It exists only while the
// kernel holds back some of it (EAGAIN): a connection with nothing pending,
// the usual case, carries a nil pointer instead of a slice and a count.
type outQueue struct {
	bufs [][]byte
	n    int // total bytes in bufs
}

// pending returns the bytes of output waiting for the socket. Called with
// c.mu held.
func (c *Conn) pending() int {
	if c.out == nil {
		return 0
	}
	return c.out.n
}

// appendOut copies the unwritten part of p or bufs, skipping the first skip
// bytes, into the pending output, coalescing small writes into the last
// chunk so that a burst of tiny writes does not become a long iovec.
func (c *Conn) appendOut(p []byte, bufs [][]byte, skip int) {
	if c.out == nil {
		c.out = &outQueue{}
	}
	q := c.out
	add := func(b []byte) {
		if skip >= len(b) {
			skip -= len(b)
			return
		}
		b = b[skip:]
		skip = 0
		q.n += len(b)
		if k := len(q.bufs) - 1; k >= 0 && cap(q.bufs[k])-len(q.bufs[k]) >= len(b) {
			q.bufs[k] = append(q.bufs[k], b...)
			return
		}
		chunk := make([]byte, len(b), max(len(b), 16<<10))
		copy(chunk, b)
		q.bufs = append(q.bufs, chunk)
	}
	if bufs == nil {
		add(p)
		return
	}
	for _, b := range bufs {
		add(b)
	}
}

// consumeOut drops n written bytes from the front of the pending output,
// and the queue itself once it is empty: an idle connection keeps no
// buffers.
func (c *Conn) consumeOut(n int) {
	q := c.out
	q.n -= n
	if q.n == 0 {
		c.out = nil
		return
	}
	i := 0
	for ; i < len(q.bufs) && n >= len(q.bufs[i]); i++ {
		n -= len(q.bufs[i])
		q.bufs[i] = nil
	}
	if i < len(q.bufs) && n > 0 {
		q.bufs[i] = q.bufs[i][n:]
	}
	rest := copy(q.bufs, q.bufs[i:])
	clear(q.bufs[rest:])
	q.bufs = q.bufs[:rest]
}

// offered returns how many bytes of q one gathered write passes to the
// kernel: all of them, unless q holds more buffers than an iovec array.
func offered(q *outQueue) int {
	if len(q.bufs) <= sys.MaxIovecs {
		return q.n
	}
	n := 0
	for _, b := range q.bufs[:sys.MaxIovecs] {
		n += len(b)
	}
	return n
}

package epollnet

import "sync"

// The write side of a TLS connection: Conn.Write, Writev, Close and
// CloseWrite take these paths when the connection has a TLS layer (the
// reqTLS bit). They may run on any goroutine. Plaintext is encrypted by the
// caller, under the layer's wmu, which keeps writes in call order; the
// records go to the connection's ordinary write path (tlsPipe.Write).

// writeTLS is Write and Writev with TLS.
func (c *Conn) writeTLS(p []byte, bufs [][]byte) (int, error) {
	t := c.x.tls
	t.wmu.Lock()
	n, err := t.write(c, p, bufs)
	t.wmu.Unlock()
	if err != nil {
		err = c.opError("write", err)
	}
	return n, err
}

// joinPool holds the buffers Writev joins small buffers into, so that they
// become one TLS record rather than one each.
var joinPool = sync.Pool{New: func() any { b := make([]byte, 0, maxJoin); return &b }}

// maxJoin is the largest Writev that is joined: a TLS record's plaintext.
const maxJoin = 16 << 10

// write writes p, or bufs, with wmu held: queued as plaintext before the
// handshake completed, encrypted and sent after.
func (t *tlsConn) write(c *Conn, p []byte, bufs [][]byte) (int, error) {
	if t.wclosed {
		return 0, ErrClosed
	}
	total := len(p)
	for _, b := range bufs {
		total += len(b)
	}
	if total == 0 {
		return 0, nil
	}
	if !t.ready {
		return t.writeEarly(c, p, bufs, total)
	}
	if bufs == nil {
		return t.tc.Write(p)
	}
	if len(bufs) > 1 && total <= maxJoin {
		jp := joinPool.Get().(*[]byte)
		j := (*jp)[:0]
		for _, b := range bufs {
			j = append(j, b...)
		}
		n, err := t.tc.Write(j)
		*jp = j[:0]
		joinPool.Put(jp)
		return n, err
	}
	n := 0
	for _, b := range bufs {
		m, err := t.tc.Write(b)
		n += m
		if err != nil {
			return n, err
		}
	}
	return n, nil
}

// writeEarly queues plaintext written before the handshake completed (a
// dial's first request); handshakeDone sends it. It counts against
// Options.MaxWriteBuffer like pending output: past it the write fails and
// the connection is closed with ErrWriteCapExceeded.
func (t *tlsConn) writeEarly(c *Conn, p []byte, bufs [][]byte, total int) (int, error) {
	if len(t.early)+total > c.loop.opts.MaxWriteBuffer {
		t.wclosed = true
		c.mu.Lock()
		if !c.mf.has(mCloseReq) {
			c.failLocked(nil)
		}
		c.mu.Unlock()
		return 0, ErrWriteCapExceeded
	}
	t.early = append(t.early, p...)
	for _, b := range bufs {
		t.early = append(t.early, b...)
	}
	return total, nil
}

// closeTLS is Close with TLS: close_notify goes after what was written,
// then the connection closes gracefully as any other. During a dial's
// handshake, a Close after writes lets the handshake finish so that they
// are delivered (the connection then closes without OnOpen, as a dial
// closed before its connect does); with nothing written the dial is
// abandoned and fails with ErrClosed.
func (c *Conn) closeTLS() error {
	t := c.x.tls
	t.wmu.Lock()
	if t.closeReq || t.gone {
		t.wmu.Unlock()
		return c.opError("close", ErrClosed)
	}
	t.closeReq = true
	notify := !t.wclosed
	t.wclosed = true
	if !t.ready {
		abandon := len(t.early) == 0
		t.wmu.Unlock()
		if abandon {
			c.loop.post(func() { t.abandon(c) })
		}
		return nil
	}
	if notify {
		t.tc.CloseWrite() // an error here is the connection's: the close reports it
	}
	t.wmu.Unlock()
	if !c.request(true) {
		return c.opError("close", ErrClosed)
	}
	c.reqs.Or(reqClose)
	c.loop.enqueue(task{kind: taskClose, c: c})
	return nil
}

// closeWriteTLS is CloseWrite with TLS: close_notify, then the FIN once
// everything is flushed. During the handshake both wait for its end.
func (c *Conn) closeWriteTLS() error {
	t := c.x.tls
	t.wmu.Lock()
	if t.wclosed {
		t.wmu.Unlock()
		return c.opError("close-write", ErrClosed)
	}
	t.wclosed = true
	ready := t.ready
	if ready {
		t.tc.CloseWrite()
	}
	t.wmu.Unlock()
	if !ready {
		return nil // handshakeDone sends close_notify and shuts down
	}
	if !c.request(false) {
		return c.opError("close-write", ErrClosed)
	}
	c.loop.enqueue(task{kind: taskCloseWrite, c: c})
	return nil
}

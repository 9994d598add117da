package epollnet

import (
	"io"
	"net"
	"sync"
	"time"
)

// tlsPipe is the net.Conn a connection's *tls.Conn runs over (tls.go).
// The loop puts the ciphertext it reads into the pipe (feed); crypto/tls
// reads it with Read. crypto/tls's records go out through Write, the
// connection's own write path, which never blocks: what the kernel
// refuses is queued and flushed by the loop as for any connection.
//
// Read has two modes. During the handshake, which runs on a goroutine of
// its own, Read waits for ciphertext, the peer's EOF or the connection's
// close. Once the handshake completed, only the loop reads, and Read never
// waits: with nothing buffered it returns errWouldBlock, which crypto/tls
// passes up without latching it, so the loop can call tls.Conn.Read again
// when more ciphertext arrived.
type tlsPipe struct {
	c *Conn

	mu   sync.Mutex
	cond sync.Cond // Read waits on it during the handshake; cond.L is &mu
	// in is the ciphertext crypto/tls has not read yet. During a loop-side
	// read it may borrow the loop's read buffer (own false): keep copies
	// what is left before the buffer is reused.
	in       []byte
	own      bool
	eof      bool  // the peer's FIN came after in
	err      error // the connection closed: Read fails with it
	nonblock bool  // the handshake is over: Read never waits
}

// wouldBlockError is what the pipe's Read returns, after the handshake,
// when it holds no ciphertext: a net.Error whose Temporary reports true.
// crypto/tls records every other read error as the connection's for good
// (halfConn.setErrorLocked), but passes a temporary net.Error up
// unrecorded (readRecordOrCCS), with what it had read kept in its buffer;
// TestStdTLSDoesNotLatchTemporaryReadError pins that.
type wouldBlockError struct{}

func (wouldBlockError) Error() string   { return "epollnet: TLS input would block" }
func (wouldBlockError) Timeout() bool   { return false }
func (wouldBlockError) Temporary() bool { return true }

var errWouldBlock net.Error = wouldBlockError{}

func (p *tlsPipe) init(c *Conn) {
	p.c = c
	p.cond.L = &p.mu
}

// Read returns buffered ciphertext, io.EOF once the peer's FIN came after
// all of it, the close error once the connection closed, and otherwise
// waits (handshake) or returns errWouldBlock (afterwards).
func (p *tlsPipe) Read(b []byte) (int, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	for len(p.in) == 0 && !p.eof && p.err == nil && !p.nonblock {
		p.cond.Wait()
	}
	switch {
	case p.err != nil:
		return 0, p.err
	case len(p.in) > 0:
		n := copy(b, p.in)
		p.in = p.in[n:]
		if len(p.in) == 0 {
			p.in, p.own = nil, false // an idle connection keeps no buffer
		}
		return n, nil
	case p.eof:
		return 0, io.EOF
	}
	return 0, errWouldBlock
}

// Write sends ciphertext by the connection's write path: directly, or
// queued when the kernel refuses it. It fails only once the connection is
// closed or failed, with the engine's reason (ErrClosed,
// ErrWriteCapExceeded, a socket error).
func (p *tlsPipe) Write(b []byte) (int, error) {
	c := p.c
	c.mu.Lock()
	n, err := c.writeLocked(b, nil)
	c.mu.Unlock()
	return n, err
}

// feedCopy adds ciphertext read during the handshake, copying it (data is
// the loop's read buffer), and wakes the handshake. It reports false when
// the pipe would hold more than limit bytes: a peer sending far more than
// a handshake needs.
func (p *tlsPipe) feedCopy(data []byte, limit int) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	if len(p.in)+len(data) > limit {
		return false
	}
	p.in = append(p.in, data...)
	p.own = true
	p.cond.Signal()
	return true
}

// feed adds ciphertext after the handshake, borrowing data if nothing is
// buffered: the loop reads it all before it returns, and keep copies what
// is left.
func (p *tlsPipe) feed(data []byte) {
	p.mu.Lock()
	if len(p.in) == 0 {
		p.in, p.own = data, false
	} else {
		p.in = append(p.in, data...)
	}
	p.mu.Unlock()
}

// keep copies ciphertext still borrowed from the loop's read buffer, which
// the next read overwrites.
func (p *tlsPipe) keep() {
	p.mu.Lock()
	if len(p.in) > 0 && !p.own {
		p.in, p.own = append([]byte(nil), p.in...), true
	}
	p.mu.Unlock()
}

// setEOF records the peer's FIN and wakes the handshake.
func (p *tlsPipe) setEOF() {
	p.mu.Lock()
	p.eof = true
	p.cond.Signal()
	p.mu.Unlock()
}

// setNonblocking ends the handshake mode.
func (p *tlsPipe) setNonblocking() {
	p.mu.Lock()
	p.nonblock = true
	p.mu.Unlock()
}

// fail makes every later Read fail with err, drops the ciphertext and
// wakes a handshake that waits, so that its goroutine ends.
func (p *tlsPipe) fail(err error) {
	p.mu.Lock()
	if p.err == nil {
		p.err = err
	}
	p.in, p.own = nil, false
	p.cond.Signal()
	p.mu.Unlock()
}

// Close is called by crypto/tls only from tls.Conn.Close and a canceled
// HandshakeContext, neither of which the engine uses; the connection is
// the engine's to close.
func (p *tlsPipe) Close() error {
	p.fail(net.ErrClosed)
	return nil
}

func (p *tlsPipe) LocalAddr() net.Addr  { return p.c.LocalAddr() }
func (p *tlsPipe) RemoteAddr() net.Addr { return p.c.RemoteAddr() }

// SetDeadline and its siblings do nothing: the handshake's deadline is the
// loop's timer, and writes never block. crypto/tls sets a write deadline
// around close_notify.
func (p *tlsPipe) SetDeadline(time.Time) error      { return nil }
func (p *tlsPipe) SetReadDeadline(time.Time) error  { return nil }
func (p *tlsPipe) SetWriteDeadline(time.Time) error { return nil }

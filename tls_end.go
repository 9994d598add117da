package epollnet

import (
	"errors"
	"net"
)

// How a TLS connection ends (tls.go has the layer): a handshake that
// failed, the close that follows every end, Engine.Shutdown's and an
// early Close's.

// fail closes a connection whose handshake crypto/tls refused. It has
// written its fatal alert (an unknown authority, a protocol version, a
// missing client certificate), which must reach the peer before the FIN
// for it to learn why: a close at once would drop the alert if it is still
// queued behind the handshake's flight, and close() with input unread
// resets the connection, which can cost the peer what it has not read. So
// the close is graceful, bounded by SendTimeout and LingerTimeout as any
// other; the failure is counted and reported when it is over (OnClose),
// whatever ends it.
func (t *tlsConn) fail(c *Conn, err error) {
	l := c.loop
	l.timers.remove(&t.timer.e)
	t.phase, t.failure = tlsFailed, err
	l.traceDetail(TraceTLS, c.fd, c, 0, "failed", err)
	t.wmu.Lock()
	t.wclosed = true // a dial's writes fail from now on
	t.wmu.Unlock()
	c.markWriteClosed()
	l.closeGraceful(c, err)
}

// OnClose runs once the descriptor is closed. The pipe fails first, so a
// handshake still waiting for input ends. A connection closed during its
// handshake, or at the end of fail's close, never opened: an accepted one
// is reported to OnTLSError, a dialed one fails its dial.
func (t *tlsConn) OnClose(c *Conn, why error) {
	l := c.loop
	t.pipe.fail(net.ErrClosed)
	// Writes from now on fail, and plaintext queued during a handshake
	// that will never complete is dropped (wmu holders never wait for the
	// loop, so taking it here cannot block on them for long).
	t.wmu.Lock()
	t.gone, t.wclosed, t.early = true, true, nil
	t.wmu.Unlock()
	l.timers.remove(&t.timer.e)
	releaseBuf(&t.plain)
	switch t.phase {
	case tlsFailed:
		why = t.failure // what ended the close after it (a reset, LingerTimeout) matters less
	case tlsHandshaking:
		l.traceDetail(TraceTLS, c.fd, c, 0, "failed", why)
	default:
		t.user.OnClose(c, why) // a dial that failed before the handshake: dialFailed shaped why
		return
	}
	shutdown := errors.Is(why, ErrEngineShutdown)
	if !shutdown {
		l.stats.tlsFailed.Add(1)
	}
	if t.dial == nil {
		if !shutdown && t.set.onError != nil {
			t.set.onError(c.RemoteAddr(), why)
		}
		return
	}
	d := t.dial
	t.dial = nil
	operr := &net.OpError{Op: "dial", Net: c.net.String(), Source: d.local, Addr: d.addr, Err: why}
	l.stats.dialFailed.Add(1)
	l.stats.dialFailedBy[Classify(operr)].Add(1)
	t.user.OnClose(c, operr)
	if d.done != nil {
		d.done <- operr
	}
}

// handshaking reports whether the handshake is in progress. Loop only.
func (t *tlsConn) handshaking() bool { return t.phase == tlsHandshaking }

// shutdown begins Engine.Shutdown's close of an open TLS connection. One
// still in its handshake is closed at once (and not reported); it reports
// true then. An open one sends close_notify, and the caller closes it
// gracefully as any other; one whose handshake failed is closing so
// already (its alert goes out), and is reported.
func (t *tlsConn) shutdown(l *loop, c *Conn) bool {
	switch t.phase {
	case tlsFailed:
		return false
	case tlsOpen:
	default:
		l.closeNow(c, ErrEngineShutdown)
		return true
	}
	t.wmu.Lock()
	if !t.wclosed {
		t.wclosed = true
		t.tc.CloseWrite()
	}
	t.wmu.Unlock()
	return false
}

// abandon runs on the loop after a Close during the handshake with nothing
// written: the dial fails with ErrClosed, unless the handshake completed
// meanwhile (then handshakeDone closed the connection gracefully).
func (t *tlsConn) abandon(c *Conn) {
	l := c.loop
	switch {
	case c.state == stateConnecting:
		l.dialFailed(c, ErrClosed)
	case c.state == stateOpen && t.phase == tlsHandshaking:
		l.closeNow(c, ErrClosed)
	}
}

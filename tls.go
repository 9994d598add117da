package epollnet

import (
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// TLS runs on the event loop with Go's own crypto/tls (docs/tls.md has the
// design and its trade-offs). A connection with TLS gets a tlsConn, a
// layer between the engine and the user's handler that stands in as the
// connection's Handler for its whole life, as proxyLayer does while it
// waits for a PROXY header: the engine's read path hands it ciphertext and
// knows nothing of TLS.
//
// The handshake runs on a goroutine of its own over a blocking tlsPipe:
// crypto/tls cannot resume a handshake whose underlying Read returned an
// error (TestStdTLSHandshakeLatchesTemporaryReadError). Its result is
// posted to the loop. Afterwards the loop drives the same tls.Conn without
// any goroutine: it feeds the pipe what it read and calls tls.Conn.Read
// until the pipe says it would block.

const defaultTLSHandshakeTimeout = 10 * time.Second

// tlsSettings is a listener's or a dial's TLS configuration, checked.
type tlsSettings struct {
	config  *tls.Config
	timeout time.Duration
	onError func(peer net.Addr, err error) // a listener's OnTLSError
}

func newTLSSettings(config *tls.Config, timeout time.Duration, onError func(net.Addr, error)) (*tlsSettings, error) {
	switch {
	case timeout < 0:
		return nil, errors.New("epollnet: negative TLSHandshakeTimeout")
	case timeout == 0:
		timeout = defaultTLSHandshakeTimeout
	}
	return &tlsSettings{config: config, timeout: timeout, onError: onError}, nil
}

// checkServerConfig refuses a server configuration without a certificate:
// every handshake would fail.
func checkServerConfig(c *tls.Config) error {
	if len(c.Certificates) == 0 && c.GetCertificate == nil && c.GetConfigForClient == nil {
		return errors.New("epollnet: ListenConfig.TLSConfig has no certificate (Certificates, GetCertificate or GetConfigForClient)")
	}
	return nil
}

// dialTLSConfig returns the client configuration for a dial to host: an
// empty ServerName becomes host, on a copy, as tls.Dial does.
func dialTLSConfig(c *tls.Config, host string) *tls.Config {
	needName := c.ServerName == "" && host != ""
	if !needName && c.Renegotiation == tls.RenegotiateNever {
		return c
	}
	c = c.Clone()
	if needName {
		c.ServerName = host
	}
	// crypto/tls renegotiates inside Read, as a handshake, which cannot
	// run over the loop's non-blocking records (it would keep the first
	// "would block" for good and stall the connection): refuse it, as
	// the server side of crypto/tls always does.
	c.Renegotiation = tls.RenegotiateNever
	return c
}

type tlsPhase uint8

const (
	tlsConnecting  tlsPhase = iota // a dial whose connect has not completed
	tlsHandshaking                 // the handshake goroutine runs
	tlsOpen                        // handshake done: plaintext flows
	tlsFailed                      // crypto/tls refused the handshake: its alert is flushed, then the close
)

// tlsConn is one connection's TLS layer. See the file comment.
type tlsConn struct {
	src  connSource // the layer as the handler; the listener of an accepted connection
	user Handler
	set  *tlsSettings
	tc   *tls.Conn
	pipe tlsPipe

	// Owned by the loop goroutine.
	phase   tlsPhase
	started bool    // the handshake's goroutine was started
	opened  bool    // the user's OnOpen ran
	eof     bool    // the user's OnReadEOF ran: close_notify, or a clean EOF
	plain   *[]byte // plaintext the user's handler left unconsumed (pooled), or nil
	timer   Timer   // the handshake deadline
	dial    *tlsDial
	failure error // why crypto/tls refused the handshake (tlsFailed)

	done atomic.Bool // the handshake completed: ConnectionState may ask tc

	// The loop clock when the handshake started (the connection opened)
	// and ended; written before done is set, so readers that saw done may
	// read them.
	startedAt, doneAt int64

	// Guarded by wmu: the write side, which writers on any goroutine share.
	// Lock order: wmu, then crypto/tls's own, then Conn.mu (tlsPipe.Write).
	wmu      sync.Mutex
	ready    bool   // the handshake completed: writes go to tc
	wclosed  bool   // CloseWrite or Close was called: close_notify sent, or due
	closeReq bool   // Close was called
	gone     bool   // the connection closed (OnClose ran): Close fails too
	early    []byte // plaintext written before the handshake completed
}

// tlsDial is what a dial's layer needs to report its outcome, taken from
// the dialState, which the engine drops once connected.
type tlsDial struct {
	done  chan error
	addr  net.Addr
	local net.Addr
}

// newTLSConn gives c, not yet published, its TLS layer; user is the
// handler it serves and ln its listener (nil for a dial). The caller makes
// c.src the layer's source when the layer should take over.
func newTLSConn(c *Conn, user Handler, set *tlsSettings, ln *Listener) *tlsConn {
	t := &tlsConn{user: user, set: set}
	t.src = connSource{h: t, ln: ln}
	t.pipe.init(c)
	if ln == nil {
		t.tc = tls.Client(&t.pipe, set.config)
	} else {
		t.tc = tls.Server(&t.pipe, set.config)
	}
	t.timer.e.index = -1
	t.timer.e.owner = &t.timer
	t.timer.c = c // traced with the connection
	c.ext().tls = t
	c.reqs.Or(reqTLS)
	return t
}

// tlsLayer returns c's TLS layer, or nil. It is set before the connection
// is published and never changes, so any goroutine may ask.
func (c *Conn) tlsLayer() *tlsConn {
	if c.reqs.Load()&reqTLS == 0 {
		return nil
	}
	return c.x.tls
}

// ConnectionState returns the TLS state of the connection: the version,
// cipher suite, ALPN protocol, server name, peer certificates and whether
// the session was resumed. ok is false for a connection without TLS and
// before its handshake completed (it has when OnOpen runs). It is safe
// from any goroutine.
func (c *Conn) ConnectionState() (state tls.ConnectionState, ok bool) {
	t := c.tlsLayer()
	if t == nil || !t.done.Load() {
		return tls.ConnectionState{}, false
	}
	return t.tc.ConnectionState(), true
}

// HandshakeDuration returns how long the TLS handshake took, from its
// start (the connection's opening: accept, after a PROXY header if the
// listener wants one, or the TCP connect's completion) to its end, on the
// loop's clock; 0 for a connection without TLS or before its handshake
// completed. A dial's connect time without the handshake is the time to
// OnOpen minus this. Any goroutine.
func (c *Conn) HandshakeDuration() time.Duration {
	t := c.tlsLayer()
	if t == nil || !t.done.Load() {
		return 0
	}
	return time.Duration(t.doneAt - t.startedAt)
}

// OnOpen runs when the connection is registered (accepted) or connected
// (dialed): the handshake starts, under its deadline. The user's OnOpen
// comes when it completes.
func (t *tlsConn) OnOpen(c *Conn) {
	l := c.loop
	if d := c.dialing(); d != nil {
		// The dial completes with the handshake: its result channel is
		// the layer's from now on.
		t.dial = &tlsDial{done: d.done, addr: d.addr, local: d.cfg.LocalAddr}
		d.done = nil
	}
	t.phase = tlsHandshaking
	t.startedAt = l.now
	t.timer.f = func() {
		if c.state == stateOpen && t.phase == tlsHandshaking {
			l.traceDetail(TraceTimer, c.fd, c, 0, "tls-handshake", nil)
			l.abort(c, ErrTLSHandshakeTimeout)
		}
	}
	l.timers.schedule(&t.timer.e, l.now+durNanos(t.set.timeout))
	l.traceDetail(TraceTLS, c.fd, c, 0, "start", nil)
	if t.dial != nil {
		t.start(c) // the client speaks first
	}
}

// start starts the handshake's goroutine: a client's at once, a server's
// with the first bytes of the ClientHello (or the peer's EOF), so that it
// does not park only to be woken when they arrive.
func (t *tlsConn) start(c *Conn) {
	if !t.started {
		t.started = true
		go t.handshake(c.loop, c)
	}
}

// handshake runs on its own goroutine. It ends when crypto/tls does: the
// handshake completed or failed, or the connection closed (the layer's
// OnClose fails the pipe, which wakes a Read waiting in it).
func (t *tlsConn) handshake(l *loop, c *Conn) {
	err := t.tc.Handshake()
	l.post(func() { t.handshakeDone(c, err) }) // dropped if the loop has stopped: it closed c
}

// handshakeDone runs on the loop with the handshake's result. A failure
// closes the connection; the layer's OnClose reports it. On success the
// writes made meanwhile go out, and the user's handler takes over.
func (t *tlsConn) handshakeDone(c *Conn, err error) {
	if c.state != stateOpen || t.phase != tlsHandshaking {
		return // closed meanwhile, and reported then
	}
	l := c.loop
	if err != nil {
		t.fail(c, &tlsError{reason: ErrTLSHandshake, err: err})
		return
	}
	l.timers.remove(&t.timer.e)
	t.phase = tlsOpen
	t.pipe.setNonblocking()
	t.doneAt = l.now
	t.done.Store(true)
	l.stats.tlsHandshakes.Add(1)
	if l.opts.Tracer != nil {
		l.traceDetail(TraceTLS, c.fd, c, 0, t.describe(), nil)
	}
	closing, shut := t.release()
	d := t.dial
	t.dial = nil
	if d != nil {
		l.stats.dialed.Add(1)
	}
	if closing {
		// Close came during the handshake, after writes: they went out
		// with close_notify, and the connection closes without opening
		// (unless a failed write already had it aborted).
		if c.request(true) {
			c.reqs.Or(reqClose)
			l.closeGraceful(c, nil)
		}
	} else {
		t.opened = true
		t.user.OnOpen(c)
		if shut && c.state == stateOpen && c.request(false) {
			l.connTask(taskCloseWrite, c, nil)
		}
	}
	if d != nil && d.done != nil {
		d.done <- nil // Dial returns once OnOpen ran
	}
	// crypto/tls may hold application data that came with the handshake's
	// last flight, and the pipe what came since.
	t.pump(c)
	t.pipe.keep()
}

// release opens the write side once the handshake completed: writes made
// meanwhile are encrypted and sent, followed by close_notify if CloseWrite
// or Close came too. It reports whether Close or only CloseWrite did.
func (t *tlsConn) release() (closing, shut bool) {
	t.wmu.Lock()
	defer t.wmu.Unlock()
	t.ready = true
	if len(t.early) > 0 {
		t.tc.Write(t.early) // a failure closes the connection, as for any write
		t.early = nil
	}
	if t.wclosed {
		t.tc.CloseWrite()
	}
	return t.closeReq, t.wclosed && !t.closeReq
}

// describe is the Detail of a completed handshake's trace event.
func (t *tlsConn) describe() string {
	cs := t.tc.ConnectionState()
	alpn := cs.NegotiatedProtocol
	if alpn == "" {
		alpn = "-"
	}
	return fmt.Sprintf("done version=%s alpn=%s resumed=%t",
		strings.ReplaceAll(tls.VersionName(cs.Version), " ", ""), alpn, cs.DidResume)
}

// OnData takes the ciphertext the engine read: handed to the handshake
// while it runs, and otherwise decrypted and delivered at once. It
// consumes everything: what the user leaves is plaintext, kept in t.plain.
func (t *tlsConn) OnData(c *Conn, data []byte) int {
	switch {
	case t.phase == tlsHandshaking:
		// A client may send application data right after its Finished,
		// before this side has read it: the pipe takes a handshake flight
		// (at most 64 KiB of messages) and a read cap's worth besides.
		if !t.pipe.feedCopy(data, c.loop.opts.MaxReadBuffer+64<<10) {
			c.loop.closeNow(c, ErrReadCapExceeded)
			break
		}
		t.start(c)
	case t.phase == tlsOpen && !t.eof: // after close_notify the rest is dropped
		t.pipe.feed(data)
		t.pump(c)
		t.pipe.keep()
	}
	return len(data)
}

// pump decrypts what crypto/tls and the pipe hold and hands the plaintext
// to the user's handler, until crypto/tls needs more ciphertext than the
// pipe has, or the handler paused or closed. Plaintext and ciphertext left
// then are delivered on ResumeRead (resumeRead).
func (t *tlsConn) pump(c *Conn) {
	l := c.loop
	buf := l.tlsBuffer()
	for t.canDeliver(c) {
		n, err := t.readPlain(buf)
		if n > 0 {
			l.deliverTo(c, t.user, &t.plain, buf[:n])
			if !t.canDeliver(c) {
				return // an error crypto/tls met stays latched in it, for later
			}
		}
		switch {
		case err == nil: // buf was full: more may follow
		case err == errWouldBlock:
			return
		case err == io.EOF:
			// The peer's close_notify, or its FIN at a record boundary.
			// Nothing is read after it; writing still works.
			t.eof = true
			t.pipe.fail(io.EOF)
			t.user.OnReadEOF(c)
			return
		default:
			// A bad record, a fatal alert, or EOF inside a record
			// (io.ErrUnexpectedEOF). crypto/tls has queued the alert it
			// sends, if any.
			l.closeNow(c, &tlsError{reason: ErrTLSRecord, err: err})
			return
		}
	}
}

// readPlain reads plaintext into buf, a record or more, until buf is full
// or crypto/tls stops with an error (errWouldBlock when it needs more).
func (t *tlsConn) readPlain(buf []byte) (int, error) {
	n := 0
	for n < len(buf) {
		m, err := t.tc.Read(buf[n:])
		n += m
		if err != nil {
			return n, err
		}
	}
	return n, nil
}

// canDeliver reports whether the user's handler takes data now: not after
// Close, Abort or PauseRead (requested or done) or its OnReadEOF.
func (t *tlsConn) canDeliver(c *Conn) bool {
	return c.state == stateOpen && !t.eof && !c.lf.has(lPaused) && !c.lf.has(lClosing) &&
		c.reqs.Load()&(reqClose|reqPause) == 0
}

// resumeRead is ResumeRead's seam (conn_io.go's resume): the plaintext the
// handler left is offered again, then what crypto/tls and the pipe hold.
func (t *tlsConn) resumeRead(c *Conn) {
	if t.phase != tlsOpen || t.eof {
		return
	}
	if t.plain != nil {
		c.loop.deliverTo(c, t.user, &t.plain, nil)
	}
	t.pump(c)
	t.pipe.keep()
}

// OnReadEOF: the peer's FIN. During the handshake crypto/tls reads EOF and
// fails; afterwards what the pipe holds is decrypted first, and the end is
// the user's OnReadEOF if it came at a record boundary, ErrTLSRecord
// (io.ErrUnexpectedEOF) inside a record.
func (t *tlsConn) OnReadEOF(c *Conn) {
	t.pipe.setEOF()
	switch t.phase {
	case tlsHandshaking:
		t.start(c)
	case tlsOpen:
		t.pump(c)
	}
}

// OnWritable passes the engine's backpressure signal, which measures
// ciphertext, to the user's handler once it has the connection.
func (t *tlsConn) OnWritable(c *Conn) {
	if t.opened {
		t.user.OnWritable(c)
	}
}

// tlsBuffer returns the loop's buffer for decrypted data, allocated on the
// loop's first TLS read: loops that serve no TLS never have one.
func (l *loop) tlsBuffer() []byte {
	if l.tlsBuf == nil {
		l.tlsBuf = make([]byte, len(l.buf))
	}
	return l.tlsBuf
}

package epollnet

// Handler receives a connection's events. Every method is called on the
// connection's event-loop goroutine, one at a time per loop, and never from
// inside a call the application made (a Close inside OnData is reported by a
// later OnClose). Methods must not block: a handler that blocks stalls every
// connection on its loop. Long work belongs on another goroutine, which may
// then call Conn.Write.
//
// Embed BaseHandler to implement only the methods you need.
type Handler interface {
	// OnOpen is called once when the connection is established: after
	// accept for a listener's connections (with ListenConfig.ProxyProtocol,
	// once the PROXY header arrived), after the connect completed for
	// dialed ones; with TLS (ListenConfig.TLSConfig, DialConfig.TLSConfig),
	// once the handshake completed too. Data may already be waiting;
	// OnData follows.
	OnOpen(c *Conn)

	// OnData is called with bytes read from the connection (with TLS,
	// the plaintext). in is valid only during the call. The handler
	// returns how many leading bytes it consumed; the rest is kept and
	// passed again, followed by new data, on the next call. Only
	// unconsumed bytes are buffered per connection.
	OnData(c *Conn, in []byte) (consumed int)

	// OnReadEOF is called when the peer has finished sending: its FIN
	// (with TLS, its close_notify, or a FIN between records). Every byte
	// it sent has been passed to OnData before. Writing still works: the
	// peer has only half-closed. BaseHandler closes the connection
	// gracefully, which is what most protocols want.
	OnReadEOF(c *Conn)

	// OnWritable is called when pending output that had risen above
	// Options.WriteHighWater has drained to Options.WriteLowWater or below:
	// the backpressure signal to resume producing.
	OnWritable(c *Conn)

	// OnClose is called exactly once per connection, after its file
	// descriptor is closed, with the reason: nil after Close, ErrPeerClosed,
	// an error matching ErrPeerReset and syscall.ECONNRESET, ErrIdleTimeout,
	// ErrWriteCapExceeded, ErrEngineShutdown, and so on. For a dial that
	// failed, OnOpen was never called and reason is the dial error. A
	// connection refused for its PROXY header, or whose TLS handshake
	// failed, never opened: the handler gets no call for it at all (see
	// ProxyConfig and ListenConfig.OnTLSError).
	OnClose(c *Conn, reason error)
}

// BaseHandler implements Handler with no-op methods, except OnReadEOF, which
// closes the connection. Embed it in your handler.
type BaseHandler struct{}

// OnOpen does nothing.
func (BaseHandler) OnOpen(c *Conn) {}

// OnData consumes everything and does nothing with it.
func (BaseHandler) OnData(c *Conn, in []byte) int { return len(in) }

// OnReadEOF closes the connection after flushing pending output.
func (BaseHandler) OnReadEOF(c *Conn) { c.Close() }

// OnWritable does nothing.
func (BaseHandler) OnWritable(c *Conn) {}

// OnClose does nothing.
func (BaseHandler) OnClose(c *Conn, reason error) {}

package epollnet

import (
	"crypto/tls"
	"fmt"
	"log/slog"
	"net"
	"runtime"
	"time"
)

// LoadBalance chooses the event loop that serves a new connection accepted
// from a shared listener or dialed without an explicit loop.
type LoadBalance int

const (
	// RoundRobin hands connections to the loops in turn.
	RoundRobin LoadBalance = iota
	// LeastConnections hands each connection to the loop with the fewest
	// open connections at that moment.
	LeastConnections
)

// String returns the policy's name.
func (lb LoadBalance) String() string {
	switch lb {
	case RoundRobin:
		return "round-robin"
	case LeastConnections:
		return "least-connections"
	}
	return fmt.Sprintf("LoadBalance(%d)", int(lb))
}

// Options configures an Engine. The zero value is ready to use; every zero
// field takes the default its comment names.
type Options struct {
	// Loops is the number of event loops, each a goroutine with its own
	// epoll instance. Default: runtime.GOMAXPROCS(0), one per usable CPU.
	Loops int

	// LoadBalance picks the loop for connections from shared listeners.
	// Default: RoundRobin.
	LoadBalance LoadBalance

	// ReadBufferSize is the size of each loop's read buffer, the most one
	// read(2) returns. Default: 64 KiB.
	ReadBufferSize int

	// MaxReadBuffer caps the bytes a handler may leave unconsumed on one
	// connection; past it the connection is closed with ErrReadCapExceeded.
	// Default: 4 MiB.
	MaxReadBuffer int

	// WriteHighWater and WriteLowWater are the backpressure watermarks on a
	// connection's pending output: once pending output rises above high,
	// Handler.OnWritable is called when it drains to low or below.
	// Defaults: 1 MiB and 256 KiB.
	WriteHighWater int
	WriteLowWater  int

	// MaxWriteBuffer is the hard cap on a connection's pending output. A
	// Write that would exceed it fails with ErrWriteCapExceeded and the
	// connection is closed with that reason. Default: 16 MiB.
	MaxWriteBuffer int

	// IdleTimeout closes a connection after this long without reads or
	// writes (ErrIdleTimeout). Default: 0, no idle timeout. It costs a
	// connection no memory: each loop sweeps its connections every eighth
	// of the shorter of IdleTimeout and ReadTimeout (at least 1 ms, at most
	// 1 s), so a connection closes up to that much after its timeout.
	IdleTimeout time.Duration

	// ReadTimeout closes a connection after this long without incoming
	// data (ErrReadTimeout), e.g. against clients that connect and stay
	// silent. Default: 0, no read timeout. Checked by the same sweep as
	// IdleTimeout, with the same granularity.
	ReadTimeout time.Duration

	// LingerTimeout bounds how long a graceful Close waits, after its FIN,
	// for the peer to acknowledge what the kernel still holds, or to send
	// its own FIN. Closing a socket that still receives data makes the
	// kernel send RST, which discards output not yet delivered; lingering
	// avoids that. The clock starts once every byte went to the kernel and
	// the FIN was sent (flushing before that is bounded by SendTimeout),
	// and starts again whenever the peer acknowledges more: only a peer
	// that stopped reading is cut off (ErrLingerTimeout). Default: 2 s.
	LingerTimeout time.Duration

	// SendTimeout bounds a graceful Close's flush by progress, as nginx's
	// send_timeout does: the output queued at Close may take as long as
	// the peer needs, but if for this long the kernel takes none of it and
	// the peer acknowledges none of what the kernel holds, the peer has
	// stopped reading and the connection is reset (ErrSendTimeout). A slow
	// reader that keeps reading gets every byte. Default: 30 s.
	SendTimeout time.Duration

	// AcceptBatch is the most connections one loop accepts from one
	// listener per wake-up, for fairness between listeners and
	// connections. Default: 64.
	AcceptBatch int

	// AcceptRetryDelay is how long a listener stays paused after accept4
	// failed with EMFILE, ENFILE, ENOBUFS or ENOMEM. The pending connection
	// stays queued in the kernel and is accepted when the listener is
	// re-armed (also done at once when a connection on that loop closes).
	// Default: 100 ms.
	AcceptRetryDelay time.Duration

	// OnAcceptError, if set, is called on the loop goroutine for each
	// accept4 error that is not EAGAIN: transient ones that were skipped
	// and resource exhaustion that paused the listener. It must not block.
	OnAcceptError func(err error)

	// TCPNagle leaves Nagle's algorithm on for TCP connections. By default
	// TCP_NODELAY is set, as Go's net package does.
	TCPNagle bool

	// MaxEvents is the most events one epoll_wait returns. Default: 256.
	MaxEvents int

	// LockOSThread wires each loop goroutine to its own OS thread.
	LockOSThread bool

	// Logger, if set, receives the rare events worth an operator's
	// attention: a listener paused because accept4 ran out of descriptors
	// or memory (at most one record per loop per second), a loop that
	// failed. epollnet logs nothing by default.
	Logger *slog.Logger

	// Tracer, if set, receives one TraceEvent per system call result and
	// readiness transition: socket, connect, epoll_ctl, epoll_wait events,
	// SO_ERROR, accept4, read, write, shutdown, close, timers and TLS
	// handshakes. It is called synchronously on loop goroutines, and also
	// on goroutines that call Write (whose first attempt is a direct send)
	// and those that run TLS handshakes (their writes), so it must be safe
	// for concurrent use and fast, and must not call into the engine or its
	// connections (a writer's lock may be held). When nil, tracing costs one
	// nil check.
	Tracer func(*TraceEvent)
}

func (o Options) withDefaults() (Options, error) {
	if o.Loops == 0 {
		o.Loops = runtime.GOMAXPROCS(0)
	}
	def := func(v *int, d int) {
		if *v == 0 {
			*v = d
		}
	}
	def(&o.ReadBufferSize, 64<<10)
	def(&o.MaxReadBuffer, 4<<20)
	def(&o.WriteHighWater, 1<<20)
	def(&o.WriteLowWater, 256<<10)
	def(&o.MaxWriteBuffer, 16<<20)
	def(&o.AcceptBatch, 64)
	def(&o.MaxEvents, 256)
	if o.LingerTimeout == 0 {
		o.LingerTimeout = 2 * time.Second
	}
	if o.SendTimeout == 0 {
		o.SendTimeout = 30 * time.Second
	}
	if o.AcceptRetryDelay == 0 {
		o.AcceptRetryDelay = 100 * time.Millisecond
	}
	switch {
	case o.Loops < 0 || o.Loops > 1024:
		return o, fmt.Errorf("epollnet: Options.Loops %d out of range [1, 1024]", o.Loops)
	case o.ReadBufferSize < 512:
		return o, fmt.Errorf("epollnet: Options.ReadBufferSize %d below 512", o.ReadBufferSize)
	case o.WriteLowWater > o.WriteHighWater:
		return o, fmt.Errorf("epollnet: Options.WriteLowWater %d above WriteHighWater %d", o.WriteLowWater, o.WriteHighWater)
	case o.WriteHighWater > o.MaxWriteBuffer:
		return o, fmt.Errorf("epollnet: Options.WriteHighWater %d above MaxWriteBuffer %d", o.WriteHighWater, o.MaxWriteBuffer)
	case o.LoadBalance != RoundRobin && o.LoadBalance != LeastConnections:
		return o, fmt.Errorf("epollnet: unknown Options.LoadBalance %d", int(o.LoadBalance))
	}
	for name, v := range map[string]int{"MaxReadBuffer": o.MaxReadBuffer, "WriteLowWater": o.WriteLowWater,
		"AcceptBatch": o.AcceptBatch, "MaxEvents": o.MaxEvents} {
		if v < 0 {
			return o, fmt.Errorf("epollnet: Options.%s %d is negative", name, v)
		}
	}
	if o.IdleTimeout < 0 || o.ReadTimeout < 0 || o.LingerTimeout < 0 || o.SendTimeout < 0 || o.AcceptRetryDelay < 0 {
		return o, fmt.Errorf("epollnet: negative timeout in Options")
	}
	return o, nil
}

// ListenConfig configures one listener. A nil *ListenConfig means defaults.
type ListenConfig struct {
	// Backlog is listen(2)'s backlog; the kernel queues Backlog+1
	// connections and caps it at net.core.somaxconn. Default: 4096.
	Backlog int

	// ReusePort opens one SO_REUSEPORT listener per loop, each accepted by
	// its own loop, the kernel spreading connections by hash. Without it
	// one listener is shared: one loop accepts and hands connections to the
	// loops chosen by Options.LoadBalance.
	ReusePort bool

	// DeferAccept sets TCP_DEFER_ACCEPT: the listener fires only when data
	// arrives or the period (rounded up by the kernel) has passed. Silent
	// clients are still handed over after it, so pair it with ReadTimeout.
	DeferAccept time.Duration

	// MaxConns caps the listener's open connections. At the cap its loops
	// stop watching it, so new clients wait in the kernel's accept queue
	// (and, once that is full, their SYNs are dropped and retried; see
	// docs/kernel.md, "A full backlog drops SYNs silently") until one of
	// its connections closes; nothing is accepted only to be refused.
	// LoopStats.CapPauses counts the stops. Default: 0, no cap other than
	// the descriptor limit.
	MaxConns int

	// ProxyProtocol, if set, requires every connection (from the trusted
	// sources it lists) to begin with a PROXY protocol header, whose client
	// address Conn.RemoteAddr then reports. See ProxyConfig.
	ProxyProtocol *ProxyConfig

	// TLSConfig, if set, makes every accepted connection a TLS server: the
	// handshake runs first (after the PROXY header, with ProxyProtocol),
	// and the handler sees the connection only once it completed: OnOpen
	// follows the handshake, OnData receives plaintext, Write takes
	// plaintext, Close sends close_notify. It needs a certificate
	// (Certificates, GetCertificate or GetConfigForClient) and must not be
	// modified after Listen. See docs/tls.md.
	TLSConfig *tls.Config

	// TLSHandshakeTimeout bounds a TLS handshake, from the connection's
	// open (or its PROXY header) to its end; past it the connection is
	// reset and reported with ErrTLSHandshakeTimeout. Default: 10 s.
	TLSHandshakeTimeout time.Duration

	// OnTLSError, if set, is called on the loop goroutine after a
	// connection whose TLS handshake failed was closed: peer is its
	// address (the client's, behind a PROXY header), err matches
	// ErrTLSHandshake (with crypto/tls's error), ErrTLSHandshakeTimeout,
	// or whatever else ended the connection first (ErrPeerReset,
	// Options.ReadTimeout). Like a PROXY refusal, such a connection never
	// opened: the handler gets neither OnOpen nor OnClose for it. When
	// crypto/tls refused the handshake, its alert is flushed to the peer
	// first (a graceful close, docs/tls.md). A handshake cut by
	// Engine.Shutdown or Engine.Abort is not reported; Listener.Close
	// does not cut handshakes. It must not block.
	OnTLSError func(peer net.Addr, err error)
}

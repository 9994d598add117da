package epollnet

import (
	"net"
	"net/netip"
)

// This file holds the parts of a connection's state that Conn keeps out of
// its own 112 bytes: flags packed into words, the peer address in compact
// form, and the structures that only some connections allocate (connExt,
// dialState; connTimer is in conn_deadline.go).

// connSource is what a connection came from: its handler, and for an
// accepted connection its listener. A listener's connections share its
// one; a dial allocates its own.
type connSource struct {
	h  Handler
	ln *Listener
}

// connExt holds what only some connections need: a dialed, named or proxied
// peer, an IPv6 peer, a dial in progress, a close waiting for its output or
// for the peer. An idle accepted TCP/IPv4 connection has none. The pointer
// is set before the connection is published, or by the loop under Conn.mu,
// so that other goroutines may read it holding mu.
type connExt struct {
	// Set before publication or under Conn.mu:
	remote net.Addr       // a dialed or named Unix peer, or *proxyState (proxy.go)
	raddr  netip.AddrPort // an accepted TCP peer that is not IPv4

	// Owned by the loop goroutine:
	dial        *dialState // set while a dial is in progress, nil once open
	tm          *connTimer // the timer entry, once a deadline needs it (conn_deadline.go)
	tls         *tlsConn   // the TLS layer; set before publication, never changed (tls.go)
	closeWhy    error      // the reason a graceful close will report
	sendAt      int64      // a graceful close's flush: reset unless it progressed by then (SendTimeout)
	lingerAt    int64      // after the flush and FIN: wait for the peer's FIN until then (LingerTimeout)
	lingerCheck int64      // next SIOCOUTQ check while lingering
	lingerEvery int64
	// SIOCOUTQ at the last progress of the flush, and at the last check
	// while lingering (a smaller one is progress). A send buffer's size is
	// an int in the kernel; int32 keeps connExt in the 128-byte class.
	sendQ, lingerQ int32
}

// ext returns c's connExt, allocating it. Loop goroutine, or before the
// connection is published.
func (c *Conn) ext() *connExt {
	if c.x == nil {
		x := new(connExt)
		c.mu.Lock()
		c.x = x
		c.mu.Unlock()
	}
	return c.x
}

// closeWhy is the reason a graceful close in progress will report.
func (c *Conn) closeWhy() error {
	if c.x == nil {
		return nil
	}
	return c.x.closeWhy
}

// dialing returns the state of the dial in progress, or nil.
func (c *Conn) dialing() *dialState {
	if c.x == nil {
		return nil
	}
	return c.x.dial
}

// setPeer records an accepted connection's TCP peer: an IPv4 one (IPv4
// clients of a dual-stack listener included: sys unmaps them) inside Conn,
// any other in connExt. Before publication.
func (c *Conn) setPeer(ap netip.AddrPort) {
	switch {
	case ap.Addr().Is4() && ap.Port() != 0:
		c.ip4, c.port4 = ap.Addr().As4(), ap.Port()
	case ap.IsValid():
		c.ext().raddr = ap
	}
}

// peer returns an accepted connection's TCP peer, or the zero AddrPort.
// The peer never changes, but for a non-IPv4 one peer reads c.x, which the
// loop may set later: off the loop, hold mu.
func (c *Conn) peer() netip.AddrPort {
	if c.port4 != 0 {
		return netip.AddrPortFrom(netip.AddrFrom4(c.ip4), c.port4)
	}
	if c.x != nil {
		return c.x.raddr
	}
	return netip.AddrPort{}
}

// netKind is a connection's network, one byte instead of a string.
type netKind uint8

const (
	netTCP netKind = iota
	netTCP4
	netTCP6
	netUnix
)

var netNames = [...]string{netTCP: "tcp", netTCP4: "tcp4", netTCP6: "tcp6", netUnix: "unix"}

// netKindOf maps the networks Listen and Dial accept; they validate it.
func netKindOf(network string) netKind {
	for k, n := range netNames {
		if n == network {
			return netKind(k)
		}
	}
	return netTCP
}

func (k netKind) String() string { return netNames[k] }

// loopFlags are the connection's booleans owned by the loop goroutine.
type loopFlags uint16

const (
	lReadEOF     loopFlags = 1 << iota // read returned 0: the peer's FIN
	lPeerFirst                         // the peer's FIN came before any local close
	lPaused                            // PauseRead took effect
	lParked                            // deregistered while paused with ERR/HUP pending
	lWantOut                           // EPOLLOUT wanted: output pending
	lClosing                           // graceful close in progress: flush, FIN, linger
	lLingering                         // FIN sent, waiting for the peer's (finishGraceful)
	lShutWr                            // shutdown(SHUT_WR) pending or done
	lShutDone                          // shutdown(SHUT_WR) done
	lAgain                             // queued to be read again next round (readAgain)
	lAgainDrain                        // and then read to the end: a FIN, RST or urgent data came (readAgainDrain)
	lOwnTimeouts                       // idle and read timeouts set on the connection, in x.tm
	lForeign                           // socket options set outside the engine: SO_LINGER may block close (closeSocket)
	lSpliced                           // a spliced Pipe's: its handler, a *pipeEnd, holds the pipes (relay_splice.go)
)

func (f loopFlags) has(b loopFlags) bool { return f&b != 0 }
func (f *loopFlags) set(b loopFlags)     { *f |= b }
func (f *loopFlags) clr(b loopFlags)     { *f &^= b }

// muFlags are the connection's booleans guarded by Conn.mu: writers on any
// goroutine read and set them.
type muFlags uint8

const (
	mWclosed   muFlags = 1 << iota // no more writes: Close, CloseWrite, Abort or closed
	mCloseReq                      // Close or Abort requested
	mAbortReq                      // Abort requested (or a write failed)
	mFdClosed                      // the descriptor is closed: fd must not be used
	mArmQueued                     // a taskArmOut is queued
	mAboveHigh                     // pending output passed WriteHighWater
	mWrote                         // a direct write happened since the last deadline check
	mReady                         // connected: writes may go to the socket directly
)

func (f muFlags) has(b muFlags) bool { return f&b != 0 }
func (f *muFlags) set(b muFlags)     { *f |= b }
func (f *muFlags) clr(b muFlags)     { *f &^= b }

// dialState is what a connection needs only while dialing; accepted
// connections never carry it, and a dial drops it once open.
type dialState struct {
	cfg       DialConfig
	addr      net.Addr
	at        int64 // the dial deadline, on the loop clock
	retryAt   int64 // next AF_UNIX connect retry after EAGAIN, or 0
	unixRetry int64 // current retry backoff
	done      chan error
}

package epollnet

import (
	"errors"
	"fmt"
	"net"
	"net/netip"
	"slices"
	"time"

	"github.com/epollnet/epollnet/internal/proxyproto"
	"github.com/epollnet/epollnet/internal/sys"
)

// ProxyConfig turns on the PROXY protocol, versions 1 and 2 (HAProxy's
// doc/proxy-protocol.txt), on a listener placed behind a proxy or load
// balancer such as HAProxy (send-proxy, send-proxy-v2), nginx or a cloud
// load balancer: every connection must begin with a header that carries the
// client's real address.
//
// A connection from a trusted source first waits for its header: reads go
// to the parser, and the handler sees nothing. Once a valid header arrived,
// OnOpen is called, with Conn.RemoteAddr already reporting the client's
// address from the header; the bytes that followed the header are passed to
// OnData next. A connection whose header is malformed, incomplete when
// HeaderTimeout expires, or cut short by the peer is aborted with an RST,
// since the specification requires the receiver to abort the connection on
// any sequence that does not exactly match the protocol. The handler is
// never told about it: neither OnOpen nor OnClose is called, since it never
// opened. Each such connection increments LoopStats.ProxyRejected and is
// reported to OnReject.
type ProxyConfig struct {
	// Trusted lists the networks of the proxies allowed to send a header.
	// "A receiver must never accept a PROXY header from an untrusted
	// source", as the specification's security considerations say:
	// connections from any other address are refused with an RST right
	// after accept4, unless AllowUntrusted is set. Required for
	// TCP listeners; on Unix-socket listeners every peer is trusted, since
	// the socket file's permissions decide who may connect.
	Trusted []netip.Prefix

	// AllowUntrusted serves connections from sources outside Trusted as
	// ordinary connections, with their real address and without looking
	// for a header: if such a client sends one, OnData receives it as data,
	// so it cannot spoof its address. By default they are refused.
	AllowUntrusted bool

	// HeaderTimeout is how long a connection may take to deliver its
	// complete header after it was accepted. The specification suggests
	// waiting "at least 3 seconds to cover a TCP retransmit". Default: 5 s.
	HeaderTimeout time.Duration

	// DisableV1 and DisableV2 refuse headers of that version. By default
	// both are accepted, as the specification recommends for receivers
	// that implement version 2.
	DisableV1, DisableV2 bool

	// OnReject, if set, is called on the loop goroutine after a connection
	// was refused and closed: peer is its real address, err matches
	// ErrProxyUntrusted, ErrProxyHeader (a malformed header, or the peer
	// left before completing it) or ErrProxyTimeout, or is whatever else
	// ended the connection before its header (a read error such as
	// ErrPeerReset, Options.ReadTimeout). It must not block.
	OnReject func(peer net.Addr, err error)
}

// normalized checks pc and returns a copy with defaults applied and the
// prefixes canonical, so that later changes by the caller have no effect.
// network "fd" (ListenFD, network not known yet) skips the Trusted check.
func (pc *ProxyConfig) normalized(network string) (*ProxyConfig, error) {
	c := *pc
	switch {
	case c.HeaderTimeout < 0:
		return nil, errors.New("epollnet: negative ProxyConfig.HeaderTimeout")
	case c.HeaderTimeout == 0:
		c.HeaderTimeout = 5 * time.Second
	}
	if c.DisableV1 && c.DisableV2 {
		return nil, errors.New("epollnet: ProxyConfig disables both PROXY protocol versions")
	}
	c.Trusted = slices.Clone(c.Trusted)
	for i, p := range c.Trusted {
		if !p.IsValid() {
			return nil, fmt.Errorf("epollnet: invalid prefix %v in ProxyConfig.Trusted", p)
		}
		c.Trusted[i] = unmapPrefix(p)
	}
	return &c, c.checkTrusted(network)
}

// checkTrusted refuses an empty Trusted list on a TCP listener: it would
// refuse every connection.
func (pc *ProxyConfig) checkTrusted(network string) error {
	if len(pc.Trusted) == 0 && network != "unix" && network != "fd" {
		return errors.New("epollnet: ProxyConfig.Trusted is empty: no proxy may send a PROXY header")
	}
	return nil
}

// unmapPrefix turns an IPv4-mapped IPv6 prefix (::ffff:10.0.0.0/104) into
// its IPv4 form, the form peers are matched in.
func unmapPrefix(p netip.Prefix) netip.Prefix {
	p = p.Masked()
	if a := p.Addr(); a.Is4In6() && p.Bits() >= 96 {
		return netip.PrefixFrom(a.Unmap(), p.Bits()-96)
	}
	return p
}

// trusts reports whether a peer may send a header.
func (pc *ProxyConfig) trusts(a netip.Addr) bool {
	a = a.Unmap()
	for _, p := range pc.Trusted {
		if p.Contains(a) {
			return true
		}
	}
	return false
}

func (pc *ProxyConfig) versions() proxyproto.Versions {
	switch {
	case pc.DisableV1:
		return proxyproto.V2
	case pc.DisableV2:
		return proxyproto.V1
	}
	return proxyproto.Both
}

// proxyLayer is the PROXY protocol as a layer between a listener and its
// handler. adopt has it admit each accepted connection; on one from a
// trusted source it installs itself as the connection's Handler until the
// header is complete, so the engine's read path knows nothing of the
// protocol: the layer's OnData parses what the connection reads, and once
// the header parsed the layer hands the connection to the listener's
// handler and calls its OnOpen. One layer serves all of a listener's
// connections; each connection's own state is its proxyState.
type proxyLayer struct {
	cfg *ProxyConfig
	src connSource // the layer as the handler, and the listener
}

func newProxyLayer(ln *Listener) *proxyLayer {
	p := &proxyLayer{cfg: ln.cfg.ProxyProtocol}
	p.src = connSource{h: p, ln: ln}
	return p
}

// proxyState is what an accepted connection of a listener with
// ProxyProtocol carries, allocated only for those. It lives in
// connExt.remote, which accepted TCP connections leave nil (their peer is
// Conn.peer), rather than in a field of its own, to keep connExt small.
// remoteLocked unwraps it; it implements net.Addr for that reason only.
type proxyState struct {
	unixPeer net.Addr           // the real peer of a Unix-socket listener, or nil
	hdr      *proxyproto.Header // guarded by Conn.mu; set once the header parsed
	wait     *proxyWait         // loop-owned; nil once the header parsed
}

// proxyWait is the state of a connection waiting for its header.
type proxyWait struct {
	buf   []byte // the header's first bytes, when it arrived in pieces
	timer Timer  // HeaderTimeout
}

// Network returns the real peer's network; see proxyState.
func (ps *proxyState) Network() string {
	if ps.unixPeer != nil {
		return ps.unixPeer.Network()
	}
	return "tcp"
}

// String returns the real peer of a Unix-socket listener; see proxyState.
func (ps *proxyState) String() string {
	if ps.unixPeer != nil {
		return ps.unixPeer.String()
	}
	return ""
}

// proxyStateOf returns c's PROXY protocol state, or nil.
func (c *Conn) proxyStateOf() *proxyState {
	if c.x == nil {
		return nil
	}
	ps, _ := c.x.remote.(*proxyState)
	return ps
}

// realRemote returns the connection's real peer address, the proxy's.
func (c *Conn) realRemote(ps *proxyState) net.Addr {
	switch {
	case ps.unixPeer != nil:
		return ps.unixPeer
	case c.peer().IsValid():
		return net.TCPAddrFromAddrPort(c.peer())
	}
	return &net.UnixAddr{Net: "unix"}
}

// remoteAddr is RemoteAddr for a connection with PROXY state: the client's
// address from a header of TCP over IPv4 or IPv6, else the real peer
// (UNKNOWN, LOCAL, UDP, AF_UNIX, or no header yet). Called with c.mu held.
func (ps *proxyState) remoteAddr(c *Conn) net.Addr {
	if ps.hdr != nil && ps.hdr.IsTCP() {
		return net.TCPAddrFromAddrPort(ps.hdr.Source)
	}
	return c.realRemote(ps)
}

// admit runs in adopt, before the connection is registered. A trusted
// connection gets its PROXY state and the layer as its handler, and waits
// for a header; an untrusted one is served as is with AllowUntrusted and
// refused otherwise: closed with an RST, which admit reports false for.
func (p *proxyLayer) admit(l *loop, c *Conn) bool {
	if c.net == netUnix || p.cfg.trusts(c.peer().Addr()) {
		w := &proxyWait{}
		w.timer.e.index = -1 // not queued until OnOpen
		w.timer.e.owner = &w.timer
		w.timer.c = c // traced with the connection
		x := c.ext()
		x.remote = &proxyState{unixPeer: x.remote, wait: w}
		c.src = &p.src
		return true
	}
	if p.cfg.AllowUntrusted {
		return true
	}
	sys.SetLingerZero(c.fd)
	sys.Close(c.fd)
	l.trace(TraceClose, c.fd, c, 0, 0, 0, ErrProxyUntrusted)
	p.rejected(l, c.remoteLocked(), ErrProxyUntrusted)
	return false
}

// OnOpen runs when the connection is registered: the header deadline
// starts. The handler's OnOpen comes with the header.
func (p *proxyLayer) OnOpen(c *Conn) {
	l := c.loop
	w := c.proxyStateOf().wait
	w.timer.f = func() {
		if c.state == stateOpen && c.proxyStateOf().wait == w {
			l.abort(c, ErrProxyTimeout)
		}
	}
	l.timers.schedule(&w.timer.e, l.now+durNanos(p.cfg.HeaderTimeout))
}

// OnData takes the data read while the header is awaited. The parser is
// incremental (the specification allows it: "the receiver may be tolerant
// to partial headers"): pieces are kept until the header is complete. It
// consumes the header; the engine keeps what follows as unconsumed input.
func (p *proxyLayer) OnData(c *Conn, data []byte) int {
	ps := c.proxyStateOf()
	w := ps.wait
	in, before := data, 0
	if w.buf != nil {
		before = len(w.buf)
		w.buf = append(w.buf, data...)
		in = w.buf
	}
	h, n, err := proxyproto.Parse(in, p.cfg.versions())
	var perr *proxyproto.Error
	switch {
	case err == proxyproto.ErrNeedMore:
		if w.buf == nil {
			w.buf = append(make([]byte, 0, max(len(data), 128)), data...)
		}
	case errors.As(err, &perr):
		c.loop.abort(c, fmt.Errorf("%w: %s", ErrProxyHeader, perr.Reason))
	default:
		// The header ends in data: the bytes before it were incomplete.
		used := n - before
		p.open(c, ps, h, used < len(data))
		return used
	}
	return len(data)
}

// open completes a connection whose header parsed: the header becomes
// visible (RemoteAddr, ProxyHeader), the listener's handler (or its TLS
// layer, whose handshake starts) takes over and OnOpen runs. The bytes
// that came after the header, which the engine keeps as unconsumed input,
// are offered to OnData on the loop's next turn, after whatever OnOpen
// asked for (Close, PauseRead) took effect, just as for data that arrives
// right after accept.
func (p *proxyLayer) open(c *Conn, ps *proxyState, h *proxyproto.Header, more bool) {
	l := c.loop
	l.timers.remove(&ps.wait.timer.e)
	c.mu.Lock()
	ps.hdr = h
	c.mu.Unlock()
	ps.wait = nil
	c.src = p.src.ln.servingSource(c)
	c.src.h.OnOpen(c)
	if more { // queued after the tasks OnOpen queued
		l.post(func() {
			// A read in between may have delivered them already; what the
			// handler left is then offered again, as ResumeRead does.
			if c.state == stateOpen && c.in != nil && !c.lf.has(lClosing) && !c.lf.has(lPaused) {
				l.deliver(c, nil)
			}
		})
	}
}

// OnReadEOF: the peer's FIN came before the header was complete.
func (p *proxyLayer) OnReadEOF(c *Conn) { c.loop.abort(c, errProxyEOF) }

// OnWritable is never called: nothing is written before the header.
func (p *proxyLayer) OnWritable(c *Conn) {}

// OnClose runs for a connection closed while it waited for its header:
// the handler never saw it open, so it gets no OnClose either. Unless the
// engine is shutting down, it counts as refused.
func (p *proxyLayer) OnClose(c *Conn, why error) {
	ps := c.proxyStateOf()
	c.loop.timers.remove(&ps.wait.timer.e)
	if !errors.Is(why, ErrEngineShutdown) {
		p.rejected(c.loop, c.realRemote(ps), why)
	}
	ps.wait = nil
}

func (p *proxyLayer) rejected(l *loop, peer net.Addr, err error) {
	l.stats.proxyRejected.Add(1)
	if p.cfg.OnReject != nil {
		p.cfg.OnReject(peer, err)
	}
}

// ProxyHeader returns the PROXY protocol header the connection began with,
// or nil if its listener has no ListenConfig.ProxyProtocol, or if it was
// served without a header (ProxyConfig.AllowUntrusted). It is safe from any
// goroutine; each call returns a new value, which the caller owns.
func (c *Conn) ProxyHeader() *ProxyHeader {
	c.mu.Lock() // a dial writes connExt.remote under mu
	ps := c.proxyStateOf()
	var h *proxyproto.Header
	if ps != nil {
		h = ps.hdr
	}
	c.mu.Unlock()
	if h == nil {
		return nil
	}
	return newProxyHeader(h, c.realRemote(ps))
}

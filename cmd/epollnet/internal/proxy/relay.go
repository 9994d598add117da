package proxy

import (
	"errors"
	"net"
	"net/netip"

	"github.com/epollnet/epollnet"
	"github.com/epollnet/epollnet/internal/proxyproto"
)

// relay is one client's handler until it is joined to a backend, and the
// handler of the backend connections dialed for it until one connects.
// Everything runs on the client's loop: the dials are Conn.DialAsync's,
// on the client's own loop, so that Pipe can join the two.
//
// What the client sends meanwhile is left unconsumed: the engine keeps it
// and Pipe relays it first, so a retry on another backend loses nothing,
// and a FIN that came meanwhile is passed on by Pipe too. Past
// holdBeforeConnect bytes the client is paused (PauseRead), so a fast
// sender waits in the kernel rather than in memory; Pipe resumes it. Not
// pausing up front spares every connection two epoll_ctl calls. A backend that refuses or times out is recorded and the
// next one is dialed, up to --retries; with none left the client is
// closed, having been relayed nothing.
type relay struct {
	p        *proxy
	down     *epollnet.Conn // the client
	up       *epollnet.Conn // the backend connection being dialed, or nil
	b        *backend       // up's backend
	tried    tried
	attempts int
	gone     bool // the client closed before a backend connected
}

// OnOpen: the client is accepted (c == r.down), or a backend connected.
func (r *relay) OnOpen(c *epollnet.Conn) {
	if c != r.down {
		r.connected(c)
		return
	}
	r.p.opened()
	r.dial()
}

// dial connects to the next backend for the client, or closes the client
// when none is left.
func (r *relay) dial() {
	p := r.p
	b := p.pickers[r.down.LoopIndex()].pick(&r.tried, r.down.LoopTime().UnixNano())
	if b == nil {
		p.unrelayed.Add(1)
		r.down.Close()
		return
	}
	r.tried.add(b.idx)
	b.active.Add(1)
	up, err := r.down.DialAsync(b.network, b.address, r, &p.dialCfg)
	if err != nil {
		// Invalid arguments were refused by the flags, so the engine is
		// shutting down.
		b.active.Add(-1)
		p.unrelayed.Add(1)
		r.down.Close()
		return
	}
	r.up, r.b = up, b
}

// connected joins the client to the backend connection that just opened.
func (r *relay) connected(up *epollnet.Conn) {
	p, b := r.p, r.b
	b.connected()
	b.total.Add(1)
	if p.o.proxyOut != 0 {
		p.writeHeader(up, r.down)
	}
	up.SetContext(r)
	if err := epollnet.Pipe(r.down, up, &p.pipeCfg); err != nil {
		// The client closed meanwhile; its OnClose aborted nothing, since
		// up was connecting. Pipe changed nothing: up is still ours.
		up.Close()
		return
	}
	r.up = nil
	if p.o.onPipe != nil {
		p.o.onPipe(r.down, up)
	}
}

// OnClose: the client left before a backend connected, or a dial failed.
func (r *relay) OnClose(c *epollnet.Conn, why error) {
	if c == r.down {
		r.gone = true
		if r.up != nil {
			r.up.Abort() // its OnClose releases the backend
		}
		r.p.closed()
		return
	}
	b := r.b
	b.active.Add(-1)
	r.up, r.b = nil, nil
	if r.gone || errors.Is(why, epollnet.ErrEngineShutdown) {
		return
	}
	if why != nil {
		b.failed[epollnet.Classify(why)].Add(1)
		b.failedConnect(c.LoopTime().UnixNano(), &r.p.health)
	}
	if r.attempts < r.p.o.retries {
		r.attempts++
		b.retries.Add(1)
		r.dial()
		return
	}
	r.p.unrelayed.Add(1)
	r.down.Close()
}

// holdBeforeConnect is how much a client may send before its backend
// connected, kept by the engine, before its reads pause.
const holdBeforeConnect = 64 << 10

// OnData keeps what the client sent before its backend connected (the
// dials carry nothing before Pipe replaces this handler).
func (r *relay) OnData(c *epollnet.Conn, in []byte) int {
	if len(in) > holdBeforeConnect {
		c.PauseRead()
	}
	return 0
}

// OnReadEOF: the client finished sending before its backend connected;
// Pipe passes the FIN on after what came before it.
func (r *relay) OnReadEOF(c *epollnet.Conn) {}

// OnWritable does not come: nothing is written before Pipe.
func (r *relay) OnWritable(c *epollnet.Conn) {}

// done is PipeConfig.OnDone: both sides of a relay closed.
func (p *proxy) done(res epollnet.PipeResult) {
	r := res.B.Context().(*relay)
	b := r.b
	b.active.Add(-1)
	b.up.Add(uint64(res.AToB))
	b.dn.Add(uint64(res.BToA))
	if err := res.BErr; err != nil && !errors.Is(err, epollnet.ErrPeerClosed) && !errors.Is(err, epollnet.ErrEngineShutdown) {
		b.broken[epollnet.Classify(err)].Add(1)
	}
	p.closed()
}

// writeHeader begins the backend connection with a PROXY header giving
// the client's address and the one it connected to: the header's, when the
// client came through a proxy itself (--accept-proxy). Clients of Unix
// sockets have no address to give: their header says so (UNKNOWN, or
// version 2's unspecified family), and the backend uses the connection's
// own addresses.
func (p *proxy) writeHeader(up, down *epollnet.Conn) {
	dst := down.LocalAddr()
	if ph := down.ProxyHeader(); ph != nil && ph.Destination != nil {
		dst = ph.Destination
	}
	h := proxyproto.Header{Version: p.o.proxyOut, Command: proxyproto.Proxy}
	src, ok1 := addrPort(down.RemoteAddr())
	d, ok2 := addrPort(dst)
	switch {
	case ok1 && ok2 && src.Addr().Is4() == d.Addr().Is4():
		h.Family, h.Transport, h.Source, h.Destination = proxyproto.Inet6, proxyproto.Stream, src, d
		if src.Addr().Is4() {
			h.Family = proxyproto.Inet
		}
	default:
		h.Family, h.Transport = proxyproto.Unspec, proxyproto.TransportUnspec
	}
	scratch := &p.scratch[down.LoopIndex()]
	buf, err := h.Append(scratch.b[:0])
	if err != nil {
		// An address Append cannot express: say nothing rather than
		// something false.
		h = proxyproto.Header{Version: p.o.proxyOut, Command: proxyproto.Proxy}
		buf, _ = h.Append(scratch.b[:0])
	}
	scratch.b = buf
	up.Write(buf) // Write copies what the socket does not take at once
}

// addrPort returns a TCP address as a netip.AddrPort, IPv4-mapped IPv6
// addresses unmapped.
func addrPort(a net.Addr) (netip.AddrPort, bool) {
	ta, ok := a.(*net.TCPAddr)
	if !ok {
		return netip.AddrPort{}, false
	}
	ap := ta.AddrPort()
	return netip.AddrPortFrom(ap.Addr().Unmap(), ap.Port()), ap.IsValid()
}

// loopScratch is one loop's buffer for PROXY headers, padded so that two
// loops never share a cache line.
type loopScratch struct {
	b []byte
	_ [40]byte
}

package epollnet

import (
	"context"
	"crypto/tls"
	"net"
	"net/netip"
	"time"
)

// DialConfig configures one dial. A nil *DialConfig means defaults.
type DialConfig struct {
	// Timeout bounds the whole dial, name resolution included; the loop's
	// timer closes the socket when it passes, because the kernel alone
	// waits about 134 s on a blackholed address (see docs/kernel.md, "A
	// blackholed connect").
	// The dial then fails with a net.Error whose Timeout reports true.
	// Default: 10 s.
	Timeout time.Duration

	// LocalAddr is the local address to bind before connecting: a
	// *net.TCPAddr for TCP, a *net.UnixAddr for Unix sockets. With TCP port
	// 0 the port is chosen at connect time (IP_BIND_ADDRESS_NO_PORT), per
	// destination, so several source addresses in 127.0.0.0/8 carry more
	// than 64k connections to one server port. Default: none, the kernel
	// picks the source address and port.
	LocalAddr net.Addr

	// KeepAlive enables TCP keepalive with this idle time and interval,
	// rounded up to whole seconds. Default: 0, off.
	KeepAlive time.Duration

	// FastOpen sets TCP_FASTOPEN_CONNECT. Once the kernel holds a cookie
	// for the server, connect() returns 0 while the socket is still in
	// SYN_SENT and the SYN leaves with the first write, carrying its data
	// (see docs/kernel.md, "TCP Fast Open: connect returns 0 before the
	// handshake"). OnOpen therefore runs before the server was
	// reached: use it only for protocols where the client speaks first, and
	// expect a refused or unreachable server to show up as the close reason
	// of the open connection rather than as a dial error. Without a cookie
	// the dial is an ordinary one, which obtains a cookie.
	FastOpen bool

	// Socket, if set, creates the socket in place of socket(2). A socket
	// belongs for life to the network namespace of the thread that created
	// it, so this is how a connection is dialed inside another namespace
	// (see internal/nettest's NS.Socket); it is also the place to set
	// options that must precede connect, such as TCP_SYNCNT,
	// TCP_USER_TIMEOUT or SO_MARK. It is called on the loop goroutine, so
	// it must be quick. The engine owns the descriptor it returns, makes it
	// non-blocking and close-on-exec, and closes it on failure. Since it
	// may set SO_LINGER, whose positive time makes close() block, such a
	// socket is closed through the Go scheduler, not with the raw system
	// call the engine uses for its own.
	// Default: socket(family, sotype|SOCK_NONBLOCK|SOCK_CLOEXEC, proto).
	Socket func(family, sotype, proto int) (fd int, err error)

	// TLSConfig, if set, makes the connection a TLS client: the handshake
	// runs once connected, and the dial completes with it: OnOpen follows
	// the handshake, and a failed handshake is the dial's error (matching
	// ErrTLSHandshake, or ErrTLSHandshakeTimeout), reported through OnClose
	// with OnOpen never called, and returned by Dial. Writes made before
	// are sent after the handshake, in order. An empty ServerName is set
	// to the host of address, as tls.Dial does. See docs/tls.md.
	TLSConfig *tls.Config

	// TLSHandshakeTimeout bounds the TLS handshake, from the connect's
	// completion; Timeout bounds what comes before. Default: 10 s.
	TLSHandshakeTimeout time.Duration
}

const defaultDialTimeout = 10 * time.Second

// dialTarget is a hostname waiting for resolution.
type dialTarget struct {
	host string
	port int
}

// DialAsync starts a non-blocking connect and returns at once. The result
// arrives on the connection's loop: OnOpen when connected, or OnClose with
// the dial error (see Classify), never both and never inside this call,
// even when connect() failed at once. Writes made before the connection
// opens are buffered and sent once it does. Hostnames are resolved on a
// separate goroutine, never on a loop. Errors returned here are only for
// invalid arguments and a closed engine. It is safe from any goroutine,
// handlers included.
func (e *Engine) DialAsync(network, address string, h Handler, cfg *DialConfig) (*Conn, error) {
	return e.dialAsyncOn(nil, network, address, h, cfg)
}

// dialAsyncOn is DialAsync on loop l, or on the one pickLoop chooses.
func (e *Engine) dialAsyncOn(l *loop, network, address string, h Handler, cfg *DialConfig) (*Conn, error) {
	c, tgt, err := e.prepareDial(l, network, address, h, cfg)
	if err != nil {
		return nil, err
	}
	if !c.loop.startDialing(e.ctx, c, tgt) { // Shutdown cancels a lookup in flight
		return nil, &net.OpError{Op: "dial", Net: network, Err: ErrEngineClosed}
	}
	return c, nil
}

// Dial connects (and with DialConfig.TLSConfig, completes the TLS
// handshake) and waits for the result, or for ctx. The connection's
// OnOpen has run on its loop when Dial returns it; when a started dial
// fails, OnClose has run with the error Dial returns. Canceling ctx closes the socket and the
// dial fails with an error matching context.Canceled (or, for a context
// deadline, a timeout). Dial must not be called from a handler (it would
// wait for its own loop): use DialAsync there.
func (e *Engine) Dial(ctx context.Context, network, address string, h Handler, cfg *DialConfig) (*Conn, error) {
	if e.onLoopGoroutine() {
		return nil, &net.OpError{Op: "dial", Net: network, Err: errDialOnLoop}
	}
	if err := ctx.Err(); err != nil {
		return nil, &net.OpError{Op: "dial", Net: network, Err: err}
	}
	c, tgt, err := e.prepareDial(nil, network, address, h, cfg)
	if err != nil {
		return nil, err
	}
	done := make(chan error, 1)
	c.x.dial.done = done
	if !c.loop.startDialing(ctx, c, tgt) {
		return nil, &net.OpError{Op: "dial", Net: network, Err: ErrEngineClosed}
	}
	select {
	case err := <-done:
		return dialResult(c, err)
	case <-ctx.Done():
		l, err := c.loop, ctx.Err()
		l.post(func() {
			switch t := c.tlsLayer(); {
			case c.state == stateConnecting:
				l.dialFailed(c, err)
			case c.state == stateOpen && t != nil && t.handshaking():
				l.closeNow(c, err) // the TLS layer fails the dial
			}
		})
	case <-c.loop.done:
	}
	select {
	case err := <-done:
		return dialResult(c, err) // connected before the cancellation was seen
	case <-c.loop.done:
		select {
		case err := <-done:
			return dialResult(c, err)
		default: // the loop stopped before it saw the dial
			return nil, &net.OpError{Op: "dial", Net: network, Err: ErrEngineShutdown}
		}
	}
}

func dialResult(c *Conn, err error) (*Conn, error) {
	if err != nil {
		return nil, err
	}
	return c, nil
}

// prepareDial validates the arguments and creates the connecting Conn. A
// literal address is parsed here; a hostname is returned for resolution.
// The connection goes to loop l, or to the one pickLoop chooses if l is nil.
func (e *Engine) prepareDial(l *loop, network, address string, h Handler, cfg *DialConfig) (*Conn, dialTarget, error) {
	var dc DialConfig
	if cfg != nil {
		dc = *cfg
	}
	if isNilAddr(dc.LocalAddr) {
		dc.LocalAddr = nil
	}
	fail := func(addr net.Addr, err error) (*Conn, dialTarget, error) {
		return nil, dialTarget{}, &net.OpError{Op: "dial", Net: network, Source: dc.LocalAddr, Addr: addr, Err: err}
	}
	switch {
	case h == nil:
		return fail(nil, errNilHandler)
	case e.closing.Load():
		return fail(nil, ErrEngineClosed)
	case dc.Timeout < 0 || dc.KeepAlive < 0 || dc.TLSHandshakeTimeout < 0:
		return fail(nil, errDialConfig)
	case dc.Socket != nil && Backend() != "epoll":
		return fail(nil, errSocketPortable) // its descriptor could not be adopted
	}
	if dc.Timeout == 0 {
		dc.Timeout = defaultDialTimeout
	}
	raddr, tgt, err := parseDialAddr(network, address, dc.LocalAddr)
	if err != nil {
		return fail(raddr, err)
	}
	if l == nil {
		l = e.pickLoop()
	}
	c := newConn(l, -1, network, &connSource{h: h}, RoleDialed)
	c.state = stateConnecting
	if dc.Socket != nil {
		c.lf.set(lForeign) // the user's socket maker may have set SO_LINGER
	}
	c.ext().dial = &dialState{cfg: dc, at: e.clock() + durNanos(dc.Timeout), addr: raddr}
	if dc.TLSConfig != nil {
		host := ""
		if network != "unix" {
			host, _, _ = net.SplitHostPort(address) // parsed above
		}
		set, _ := newTLSSettings(dialTLSConfig(dc.TLSConfig, host), dc.TLSHandshakeTimeout, nil) // checked above
		t := newTLSConn(c, h, set, nil)
		c.src = &t.src
	}
	return c, tgt, nil
}

// parseDialAddr returns the remote address of a Unix socket or a literal
// IP, or the hostname to resolve (raddr nil).
func parseDialAddr(network, address string, local net.Addr) (net.Addr, dialTarget, error) {
	switch network {
	case "unix":
		if _, ok := local.(*net.UnixAddr); local != nil && !ok {
			return nil, dialTarget{}, &net.AddrError{Err: "mismatched local address type", Addr: local.String()}
		}
		if address == "" {
			return nil, dialTarget{}, &net.AddrError{Err: "missing address", Addr: address}
		}
		return &net.UnixAddr{Name: address, Net: "unix"}, dialTarget{}, nil
	case "tcp", "tcp4", "tcp6":
	default:
		return nil, dialTarget{}, net.UnknownNetworkError(network)
	}
	if _, ok := local.(*net.TCPAddr); local != nil && !ok {
		return nil, dialTarget{}, &net.AddrError{Err: "mismatched local address type", Addr: local.String()}
	}
	host, portStr, err := net.SplitHostPort(address)
	if err != nil {
		return nil, dialTarget{}, err
	}
	port, err := net.LookupPort(network, portStr)
	if err != nil {
		return nil, dialTarget{}, err
	}
	if host == "" { // the local system, as in Go's net
		host = "127.0.0.1"
		if network == "tcp6" {
			host = "::1"
		}
	}
	ip, err := netip.ParseAddr(host)
	if err != nil {
		return nil, dialTarget{host: host, port: port}, nil
	}
	raddr := &net.TCPAddr{IP: ip.AsSlice(), Port: port, Zone: ip.Zone()}
	if !suitable(network, local, raddr.IP) {
		return raddr, dialTarget{}, &net.AddrError{Err: "no suitable address found", Addr: host}
	}
	return raddr, dialTarget{}, nil
}

// suitable reports whether ip fits the network ("tcp4", "tcp6") and the
// family of the local address to bind, if any.
func suitable(network string, local net.Addr, ip net.IP) bool {
	is4 := ip.To4() != nil
	if (network == "tcp4" && !is4) || (network == "tcp6" && is4) {
		return false
	}
	if la, ok := local.(*net.TCPAddr); ok && len(la.IP) > 0 && !la.IP.IsUnspecified() {
		return (la.IP.To4() != nil) == is4
	}
	return true
}

// isNilAddr reports a nil address, also a typed nil pointer in the
// interface, which would print as "<nil>" in error messages.
func isNilAddr(a net.Addr) bool {
	switch a := a.(type) {
	case nil:
		return true
	case *net.TCPAddr:
		return a == nil
	case *net.UnixAddr:
		return a == nil
	}
	return false
}

// startDialing hands the new connection to its loop: straight to connect
// for an address, or through the resolver for a hostname.
// It reports false if the loop has stopped: the engine is closed.
func (l *loop) startDialing(ctx context.Context, c *Conn, tgt dialTarget) bool {
	if c.x.dial.addr != nil {
		return l.enqueue(task{kind: taskDial, c: c})
	}
	return l.post(func() { l.beginResolve(ctx, c, tgt) })
}

// beginResolve runs on the loop. The dial deadline is armed first, so the
// loop's timer heap holds the connection while it has no descriptor: the
// deadline, Dial's cancellation and engine shutdown (failResolving) all
// reach it there.
func (l *loop) beginResolve(ctx context.Context, c *Conn, tgt dialTarget) {
	if c.state != stateConnecting {
		return
	}
	l.armDial(c)
	go l.resolve(ctx, c, tgt)
}

// resolve looks a hostname up off the loop and hands the result back to
// it. It shares nothing with the loop but immutable fields; the result
// travels in the task. The lookup ends with Dial's context or the timeout.
func (l *loop) resolve(ctx context.Context, c *Conn, tgt dialTarget) {
	ctx, cancel := context.WithTimeout(ctx, c.x.dial.cfg.Timeout)
	defer cancel()
	raddr, err := lookupTCP(ctx, c.net.String(), tgt, c.x.dial.cfg.LocalAddr)
	l.post(func() { l.resolved(c, raddr, err) })
}

// lookupTCP resolves tgt and picks one address: of the network's family,
// of the local address's family, and IPv4 first for "tcp", as
// net.ResolveTCPAddr does.
func lookupTCP(ctx context.Context, network string, tgt dialTarget, local net.Addr) (net.Addr, error) {
	ips, err := net.DefaultResolver.LookupIPAddr(ctx, tgt.host)
	if err != nil {
		return nil, err
	}
	var pick *net.IPAddr
	for i := range ips {
		if !suitable(network, local, ips[i].IP) {
			continue
		}
		if pick == nil || (pick.IP.To4() == nil && ips[i].IP.To4() != nil) {
			pick = &ips[i]
		}
	}
	if pick == nil {
		return nil, &net.AddrError{Err: "no suitable address found", Addr: tgt.host}
	}
	return &net.TCPAddr{IP: pick.IP, Port: tgt.port, Zone: pick.Zone}, nil
}

func (l *loop) resolved(c *Conn, raddr net.Addr, err error) {
	if c.state != stateConnecting {
		return // failed meanwhile: deadline, cancellation or shutdown
	}
	if err != nil {
		if l.eng.closing.Load() {
			// Shutdown canceled the lookup (e.ctx); its answer can reach
			// the loop before the shutdown task that would report it.
			err = ErrEngineShutdown
		}
		l.dialFailed(c, err)
		return
	}
	c.x.dial.addr = raddr
	l.startDial(c)
}

// failResolving fails the dials still waiting for name resolution. They
// have no descriptor, so only the timer heap knows them (beginResolve).
// Engine shutdown calls it; the resolver's late answer is then ignored.
func (l *loop) failResolving(reason error) {
	var waiting []*Conn
	for _, te := range l.timers {
		if c, ok := te.owner.(*Conn); ok && c.state == stateConnecting && c.fd < 0 {
			waiting = append(waiting, c)
		}
	}
	for _, c := range waiting {
		l.dialFailed(c, reason)
	}
}

package epollnet

import (
	"context"
	"errors"
	"net"
	"syscall"
	"time"

	"github.com/epollnet/epollnet/internal/poller"
	"github.com/epollnet/epollnet/internal/sys"
)

// DialConfig configures one dial. A nil *DialConfig means defaults.
type DialConfig struct {
	// Timeout bounds the whole dial, name resolution included; the loop's
	// timer closes the socket when it passes, because the kernel alone
	// waits about 134 s on a blackholed address (KERNEL.md §2.3).
	// Default: 10 s.
	Timeout time.Duration

	// LocalAddr is the local address to bind before connecting (a
	// *net.TCPAddr). With port 0 the port is chosen at connect time
	// (IP_BIND_ADDRESS_NO_PORT), so several source addresses in
	// 127.0.0.0/8 carry more than 64k connections to one server port.
	LocalAddr net.Addr

	// KeepAlive enables TCP keepalive with this idle time and interval.
	// Default: 0, off.
	KeepAlive time.Duration

	// FastOpen sets TCP_FASTOPEN_CONNECT: with a cached cookie the SYN
	// carries the first write.
	FastOpen bool
}

var errDialTimeout = &timeoutError{"epollnet: dial timeout"}

// DialAsync starts a non-blocking connect and returns at once. The result
// arrives on the connection's loop: OnOpen when connected, or OnClose with
// the dial error, never both and never inside this call. Writes made before
// the connection opens are buffered and sent once it does. Hostnames are
// resolved on a separate goroutine, never on a loop. Errors returned here
// are only for invalid arguments and a closed engine.
func (e *Engine) DialAsync(network, address string, h Handler, cfg *DialConfig) (*Conn, error) {
	c, host, port, err := e.prepareDial(network, address, h, cfg)
	if err != nil {
		return nil, err
	}
	if c.dialAddr != nil || network == "unix" {
		c.loop.enqueue(task{kind: taskDial, c: c})
		return c, nil
	}
	go e.resolve(c, host, port)
	return c, nil
}

// Dial connects and waits for the result, or for ctx. The connection's
// OnOpen has run on its loop when Dial returns it. Dial must not be called
// from a handler (it would wait for its own loop): use DialAsync there.
func (e *Engine) Dial(ctx context.Context, network, address string, h Handler, cfg *DialConfig) (*Conn, error) {
	if e.onLoopGoroutine() {
		return nil, &net.OpError{Op: "dial", Net: network, Err: errors.New("epollnet: blocking Dial called on an event loop goroutine; use DialAsync")}
	}
	c, host, port, err := e.prepareDial(network, address, h, cfg)
	if err != nil {
		return nil, err
	}
	c.dialDone = make(chan error, 1)
	if c.dialAddr != nil || network == "unix" {
		c.loop.enqueue(task{kind: taskDial, c: c})
	} else {
		go e.resolve(c, host, port)
	}
	select {
	case err := <-c.dialDone:
		if err != nil {
			return nil, err
		}
		return c, nil
	case <-ctx.Done():
		c.loop.enqueue(task{kind: taskDialCancel, c: c, err: ctx.Err()})
		if err := <-c.dialDone; err != nil {
			return nil, err
		}
		return c, nil // connected before the cancellation was seen
	}
}

func (e *Engine) prepareDial(network, address string, h Handler, cfg *DialConfig) (*Conn, string, int, error) {
	fail := func(err error) (*Conn, string, int, error) {
		return nil, "", 0, &net.OpError{Op: "dial", Net: network, Err: err}
	}
	if h == nil {
		return fail(errors.New("epollnet: nil Handler"))
	}
	if e.closing.Load() {
		return fail(ErrEngineClosed)
	}
	var dc DialConfig
	if cfg != nil {
		dc = *cfg
	}
	if dc.Timeout < 0 || dc.KeepAlive < 0 {
		return fail(errors.New("epollnet: negative Timeout or KeepAlive in DialConfig"))
	}
	if dc.Timeout == 0 {
		dc.Timeout = 10 * time.Second
	}
	l := e.pickLoop()
	c := newConn(l, -1, network, h, RoleDialed)
	c.state = stateConnecting
	c.dialCfg = dc
	c.dialAt = e.clock() + durNanos(dc.Timeout)
	switch network {
	case "unix":
		if address == "" {
			return fail(errors.New("epollnet: empty Unix socket path"))
		}
		c.dialAddr = &net.UnixAddr{Name: address, Net: "unix"}
		return c, "", 0, nil
	case "tcp", "tcp4", "tcp6":
	default:
		return fail(net.UnknownNetworkError(network))
	}
	host, portStr, err := net.SplitHostPort(address)
	if err != nil {
		return fail(err)
	}
	port, err := net.LookupPort(network, portStr)
	if err != nil {
		return fail(err)
	}
	if ip := net.ParseIP(host); ip != nil || host == "" {
		if host == "" {
			ip = net.IPv4(127, 0, 0, 1)
		}
		c.dialAddr = &net.TCPAddr{IP: ip, Port: port}
	}
	return c, host, port, nil
}

// resolve looks a hostname up off the loop, then hands the dial to it.
func (e *Engine) resolve(c *Conn, host string, port int) {
	ctx, cancel := context.WithTimeout(context.Background(), c.dialCfg.Timeout)
	defer cancel()
	ips, err := net.DefaultResolver.LookupIPAddr(ctx, host)
	var pick net.IP
	for _, ip := range ips {
		if (c.network == "tcp4" && ip.IP.To4() == nil) || (c.network == "tcp6" && ip.IP.To4() != nil) {
			continue
		}
		pick = ip.IP
		break
	}
	if err == nil && pick == nil {
		err = &net.DNSError{Err: "no suitable address", Name: host, IsNotFound: true}
	}
	if err == nil {
		c.dialAddr = &net.TCPAddr{IP: pick, Port: port}
	} else {
		c.dialAddr = &net.TCPAddr{Port: port}
		c.resolveErr = err
	}
	c.loop.enqueue(task{kind: taskDial, c: c})
}

// startDial runs on the loop: socket, options, bind, connect. Every outcome,
// even an error connect() returned at once, is delivered from here, a loop
// turn after the caller's call (libuv's delayed_error).
func (l *loop) startDial(c *Conn) {
	if c.state != stateConnecting {
		return // canceled while resolving
	}
	if c.resolveErr != nil {
		l.dialFailed(c, c.resolveErr)
		return
	}
	if l.stop || l.eng.closing.Load() {
		l.dialFailed(c, ErrEngineShutdown)
		return
	}
	fd, err := sys.Socket(sys.Family(c.dialAddr), sys.SOCK_STREAM, 0)
	l.trace(TraceSocket, fd, c, 0, 0, 0, err)
	if err != nil {
		l.dialFailed(c, sys.Wrap("socket", err))
		return
	}
	c.mu.Lock()
	c.fd = fd
	c.mu.Unlock()
	if err := l.configureDial(c); err != nil {
		l.dialFailed(c, err)
		return
	}
	gen, err := l.register(fd, c, nil, poller.Writable)
	if err != nil {
		l.dialFailed(c, err)
		return
	}
	c.gen = gen
	c.interest = poller.Writable
	l.armDeadline(c)
	l.connect(c)
}

func (l *loop) configureDial(c *Conn) error {
	if c.network == "unix" {
		return nil
	}
	if !l.opts.TCPNagle {
		sys.SetNoDelay(c.fd, true)
	}
	cfg := &c.dialCfg
	if cfg.KeepAlive > 0 {
		secs := max(int(cfg.KeepAlive/time.Second), 1)
		if err := sys.SetKeepAlive(c.fd, secs, secs); err != nil {
			return sys.Wrap("setsockopt", err)
		}
	}
	if cfg.FastOpen {
		if err := sys.SetFastOpenConnect(c.fd); err != nil {
			return sys.Wrap("setsockopt", err)
		}
	}
	if cfg.LocalAddr != nil {
		if a, ok := cfg.LocalAddr.(*net.TCPAddr); ok && a.Port == 0 && a.IP.To4() != nil {
			sys.SetBindAddressNoPort(c.fd)
		}
		if err := sys.Bind(c.fd, cfg.LocalAddr); err != nil {
			return sys.Wrap("bind", err)
		}
	}
	return nil
}

// connect calls connect(2) and acts on its result (KERNEL.md §3.1):
// 0 connected (AF_UNIX, TCP Fast Open), EINPROGRESS wait for an event,
// EAGAIN on AF_UNIX a full backlog with no event to come, so retry.
func (l *loop) connect(c *Conn) {
	err := sys.Connect(c.fd, c.dialAddr)
	l.trace(TraceConnect, c.fd, c, 0, 0, 0, err)
	switch {
	case err == nil:
		l.connected(c)
	case err == syscall.EINPROGRESS:
	case err == syscall.EAGAIN && c.network == "unix":
		c.unixRetry = min(max(2*c.unixRetry, int64(time.Millisecond)), int64(100*time.Millisecond))
		c.retryAt = l.now + c.unixRetry
		l.armDeadline(c)
	default:
		l.dialFailed(c, sys.Wrap("connect", err))
	}
}

// connectEvent handles any event on a connecting socket: EPOLLOUT,
// EPOLLERR or EPOLLHUP. EPOLLOUT alone is not success (a refused connect
// reports it too) and an ICMP reject reports EPOLLERR alone, so read
// SO_ERROR exactly once, because reading clears it (KERNEL.md §3.2).
func (l *loop) connectEvent(c *Conn, ev poller.Events) {
	soerr, err := sys.SocketError(c.fd)
	l.trace(TraceSOError, c.fd, c, 0, 0, 0, errnoOrNil(soerr))
	if err != nil {
		l.dialFailed(c, sys.Wrap("getsockopt", err))
		return
	}
	if soerr != 0 {
		l.dialFailed(c, sys.Wrap("connect", soerr))
		return
	}
	if _, err := sys.PeerAddr(c.fd); err != nil {
		if err == syscall.ENOTCONN && ev&poller.Hangup == 0 {
			return // spurious: still in SYN_SENT
		}
		l.dialFailed(c, sys.Wrap("getpeername", err))
		return
	}
	l.connected(c)
}

// connected turns a connecting socket into an open connection.
func (l *loop) connected(c *Conn) {
	c.remote = c.dialAddr
	c.state = stateOpen
	c.mu.Lock()
	c.ready = true
	pending := c.outLen > 0
	c.mu.Unlock()
	c.wantOut = pending
	l.updateInterest(c)
	if c.state != stateOpen {
		return
	}
	c.lastRead, c.lastActive = l.now, l.now
	l.conns++
	l.nconns.Add(1)
	l.stats.opened.Add(1)
	l.stats.dialed.Add(1)
	l.armDeadline(c)
	l.trace(TraceOpen, c.fd, c, 0, 0, 0, nil)
	c.h.OnOpen(c)
	if c.dialDone != nil {
		c.dialDone <- nil
	}
}

// dialFailed reports a failed dial once, through OnClose and to a waiting
// Dial, as a *net.OpError that names the address and the system call.
func (l *loop) dialFailed(c *Conn, err error) {
	if c.state == stateClosed {
		return
	}
	l.stats.dialFailed.Add(1)
	var src net.Addr
	if c.fd >= 0 {
		src, _ = sys.LocalAddr(c.fd)
	}
	operr := &net.OpError{Op: "dial", Net: c.network, Source: src, Addr: c.dialAddr, Err: err}
	if c.fd < 0 {
		c.state = stateClosed
		c.markWriteClosed()
		c.h.OnClose(c, operr)
	} else {
		l.closeNow(c, operr)
	}
	if c.dialDone != nil {
		c.dialDone <- operr
	}
}

// dialDeadline runs when a connecting socket's timer fires.
func (l *loop) dialDeadline(c *Conn) {
	switch {
	case l.now >= c.dialAt:
		l.traceDetail(TraceTimer, c.fd, c, 0, "dial-timeout", nil)
		l.dialFailed(c, errDialTimeout)
	case c.retryAt != 0 && l.now >= c.retryAt:
		c.retryAt = 0
		l.armDeadline(c)
		l.connect(c)
	default:
		l.armDeadline(c)
	}
}

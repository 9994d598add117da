//go:build !linux || epollnet_portable

package sys

import (
	"context"
	"net"
	"sync"
	"syscall"
	"time"
)

// acceptQueueMax bounds the connections accepted ahead of the engine; the
// rest wait in the operating system's backlog.
const acceptQueueMax = 128

// Lock order: a handle's mu before its group's; the accept goroutine
// never holds the group's while it takes a member's.

// lnGroup is one net.Listener and the connections its accept goroutine
// took from it. Listening handles bound with SO_REUSEPORT to one address
// share a group, so each loop's handle accepts from the same queue, as
// the kernel would spread connections among reuseport siblings.
type lnGroup struct {
	ln     net.Listener
	key    string // in reuseGroups, or ""
	family int

	mu      sync.Mutex
	cond    sync.Cond
	q       []net.Conn
	err     error // an accept error, given to the next Accept
	members map[*handle]struct{}
	closed  bool
}

var reuseGroups = struct {
	sync.Mutex
	m map[string]*lnGroup
}{m: map[string]*lnGroup{}}

func (g *lnGroup) ready() bool {
	g.mu.Lock()
	defer g.mu.Unlock()
	return len(g.q) > 0 || g.err != nil
}

// acceptLoop accepts until the listener closes. It stops while the queue is
// full or an error waits to be reported, as the kernel's queue would.
func (g *lnGroup) acceptLoop() {
	for {
		c, err := g.ln.Accept()
		g.mu.Lock()
		if g.closed {
			g.mu.Unlock()
			if c != nil {
				c.Close()
			}
			return
		}
		if err != nil {
			g.err = err
		} else {
			g.q = append(g.q, c)
		}
		hs := make([]*handle, 0, len(g.members))
		for h := range g.members {
			hs = append(hs, h)
		}
		g.mu.Unlock()
		for _, h := range hs {
			h.mu.Lock()
			w, wfd := h.watcher()
			h.mu.Unlock()
			notify(w, wfd)
		}
		g.mu.Lock()
		for (len(g.q) >= acceptQueueMax || g.err != nil) && !g.closed {
			g.cond.Wait()
		}
		closed := g.closed
		g.mu.Unlock()
		if closed {
			return
		}
	}
}

// take pops one accepted connection, else the pending error, else EAGAIN.
// Connections come first: each already holds its descriptor, and an error
// first (EMFILE) would be set again by the accept goroutine as soon as it
// was taken, while descriptors were still short, so the queue behind it
// would never be served: the kernel's accept4 fails with EMFILE only when
// it cannot give the next connection a descriptor.
func (g *lnGroup) take() (net.Conn, error) {
	g.mu.Lock()
	defer g.mu.Unlock()
	if len(g.q) == 0 {
		if g.err == nil {
			return nil, syscall.EAGAIN
		}
		err := g.err
		g.err = nil
		g.cond.Broadcast()
		return nil, errnoOf(err)
	}
	c := g.q[0]
	g.q[0] = nil
	g.q = g.q[1:]
	if len(g.q) == acceptQueueMax-1 {
		g.cond.Broadcast()
	}
	return c, nil
}

// leave removes a closed handle; the last one out closes the listener and
// the connections nobody accepted.
func (g *lnGroup) leave(h *handle) {
	if g.key != "" {
		reuseGroups.Lock()
	}
	g.mu.Lock()
	delete(g.members, h)
	last := len(g.members) == 0
	if last {
		g.closed = true
		if g.key != "" && reuseGroups.m[g.key] == g {
			delete(reuseGroups.m, g.key)
		}
	}
	q := g.q
	if last {
		g.q = nil
	}
	g.cond.Broadcast()
	g.mu.Unlock()
	if g.key != "" {
		reuseGroups.Unlock()
	}
	if last {
		g.ln.Close()
		for _, c := range q {
			c.Close()
		}
	}
}

// listenNetwork is the net package's network for a socket of h's family.
func (h *handle) listenNetwork() string {
	switch {
	case h.family == AF_UNIX:
		return "unix"
	case h.family == AF_INET:
		return "tcp4"
	case h.v6only:
		return "tcp6"
	}
	return "tcp"
}

// listen makes h a listener: a new net.Listener, or for a reuseport
// socket, the group already listening on the address.
func (h *handle) listen() error {
	addr, ok := h.bound.(net.Addr)
	if !ok {
		return syscall.EINVAL // Linux would bind an ephemeral port; the engine always binds
	}
	network := h.listenNetwork()
	key := ""
	if h.reusePort && h.family != AF_UNIX {
		key = network + " " + addr.String()
		reuseGroups.Lock()
		defer reuseGroups.Unlock()
		if g := reuseGroups.m[key]; g != nil && portOf(addr) != 0 {
			g.mu.Lock()
			g.members[h] = struct{}{}
			g.mu.Unlock()
			h.kind, h.group = kindListener, g
			return nil
		}
	}
	lc := net.ListenConfig{KeepAlive: -1} // Linux sockets have no keepalive unless asked
	ln, err := lc.Listen(context.Background(), network, addr.String())
	if err != nil {
		return errnoOf(err)
	}
	g := &lnGroup{ln: ln, family: h.family, members: map[*handle]struct{}{h: {}}}
	g.cond.L = &g.mu
	if key != "" {
		g.key = network + " " + ln.Addr().String() // port 0: the siblings bind the chosen port
		reuseGroups.m[g.key] = g
	}
	h.kind, h.group = kindListener, g
	go g.acceptLoop()
	return nil
}

func portOf(a net.Addr) int {
	if t, ok := a.(*net.TCPAddr); ok {
		return t.Port
	}
	return 0
}

// dial starts the dial goroutine of a connecting handle.
func (h *handle) dial(fd int, addr net.Addr) {
	ctx, cancel := context.WithCancel(context.Background())
	h.kind, h.cancel = kindConnecting, cancel
	d := net.Dialer{KeepAlive: -1}
	if h.keepIdle > 0 {
		d.KeepAliveConfig = net.KeepAliveConfig{Enable: true, Idle: time.Duration(h.keepIdle) * time.Second,
			Interval: time.Duration(h.keepIdle) * time.Second}
	}
	if la, ok := h.bound.(net.Addr); ok {
		d.LocalAddr = la
	}
	network := "unix"
	switch h.family {
	case AF_INET:
		network = "tcp4"
	case AF_INET6:
		network = "tcp6"
	}
	go func() {
		c, err := d.DialContext(ctx, network, addr.String())
		h.mu.Lock()
		if h.closed {
			h.mu.Unlock()
			if c != nil {
				c.Close()
			}
			return
		}
		if err != nil {
			h.failed = true
			h.soError = errnoOf(err)
			if h.soError == 0 {
				h.soError = syscall.ECONNREFUSED
			}
		} else {
			if tc, ok := c.(*net.TCPConn); ok && h.noDelay < 0 {
				tc.SetNoDelay(false)
			}
			h.kind, h.stream = kindConn, &stream{conn: c, rc: rawConnOf(c), alive: 2}
			go h.readLoop()
			go h.writeLoop()
		}
		w, wfd := h.watcher()
		h.mu.Unlock()
		notify(w, wfd)
	}()
}

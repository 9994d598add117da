// Package proxy is "epollnet proxy": a TCP and Unix socket relay with
// load balancing, health checks and the PROXY protocol, on the engine's
// Pipe.
package proxy

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/epollnet/epollnet"
	"github.com/epollnet/epollnet/cmd/epollnet/internal/cli"
	"github.com/epollnet/epollnet/cmd/epollnet/internal/daemon"
)

// proxy is a running "epollnet proxy": an engine, its listeners, the
// backends and the counters.
type proxy struct {
	o        proxyOptions
	eng      *epollnet.Engine
	lns      []*epollnet.Listener
	origins  []string // per listener: "inherited" or "" for a new socket
	paths    daemon.Paths
	bs       []*backend
	pickers  []picker // one per loop
	scratch  []loopScratch
	health   health
	dialCfg  epollnet.DialConfig
	pipeCfg  epollnet.PipeConfig
	maxConns int
	started  time.Time

	open      atomic.Int64  // client connections now
	unrelayed atomic.Uint64 // clients closed without reaching a backend

	stopping  atomic.Bool // no more checks
	draining  atomic.Bool
	drained   chan struct{}
	drainOnce sync.Once
}

// newProxy starts the engine and the backends' checks; it listens on
// nothing yet. listeners is how many sockets it will serve, for the
// default connection cap.
func newProxy(o proxyOptions, listeners int, logger *slog.Logger) (*proxy, error) {
	eng, err := epollnet.New(epollnet.Options{
		Loops:          o.loops,
		ReadBufferSize: readSize,
		WriteHighWater: o.buffer,
		WriteLowWater:  o.buffer / 4,
		// Pipe stops reading a side once the other's output is above
		// the high watermark, so output never grows past it by more
		// than one read; the cap is a safety net.
		MaxWriteBuffer: 2*o.buffer + 2*readSize,
		IdleTimeout:    o.idleTimeout,
		Logger:         logger,
	})
	if err != nil {
		return nil, err
	}
	p := onEngine(eng, o)
	if o.maxConns == 0 {
		p.maxConns = defaultMaxConns(eng.Loops(), listeners)
	}
	if o.checkInterval > 0 {
		for _, b := range p.bs {
			p.scheduleCheck(b, 0)
		}
	}
	return p, nil
}

// onEngine makes the relays' state for eng's loops: backends, pickers.
func onEngine(eng *epollnet.Engine, o proxyOptions) *proxy {
	p := &proxy{o: o, eng: eng, started: time.Now(), drained: make(chan struct{}), maxConns: o.maxConns,
		health: health{fails: int32(o.fails), downTime: o.downTime, checks: o.checkInterval > 0}}
	p.dialCfg = epollnet.DialConfig{Timeout: o.connectTimeout, Socket: o.socket}
	p.pipeCfg = epollnet.PipeConfig{OnDone: p.done, Splice: p.o.splice}
	for i, spec := range o.backends {
		p.bs = append(p.bs, &backend{backendSpec: spec, idx: i})
	}
	p.pickers = make([]picker, eng.Loops())
	for i := range p.pickers {
		p.pickers[i] = picker{bs: p.bs, leastConn: o.balance == balanceLeastConn, h: &p.health,
			current: make([]int, len(p.bs))}
	}
	p.scratch = make([]loopScratch, eng.Loops())
	return p
}

// Handler returns the relay of "epollnet proxy", with its default
// options, for listeners of eng: every client is relayed to backend
// (HOST:PORT or unix:/path), dialed on the client's loop. trace's proxy
// scenario runs it on its traced engine.
func Handler(eng *epollnet.Engine, backend string) (epollnet.Handler, error) {
	spec, err := parseBackend(backend)
	if err != nil {
		return nil, err
	}
	o := defaultProxyOptions()
	o.backends = []backendSpec{spec}
	return onEngine(eng, o).handler(), nil
}

// defaultMaxConns derives the client cap from RLIMIT_NOFILE: every client
// holds two descriptors, its own and its backend's, and the engine, the
// listeners, stdio and the checks need some.
func defaultMaxConns(loops, listeners int) int {
	limit, ok := cli.OpenFileLimit()
	if !ok || limit > 1<<30 {
		return 1 << 20
	}
	reserve := 3 + 2*loops + listeners + 2*maxBackends + 64
	return max((int(limit)-reserve)/2, 1)
}

// handler is every listener's: a relay per client.
func (p *proxy) handler() epollnet.Handler {
	return epollnet.PerConn(func(c *epollnet.Conn) epollnet.Handler { return &relay{p: p, down: c} })
}

// listenConfig is every listener's configuration: the cap is shared out,
// so that together they never hold more than maxConns clients.
func (p *proxy) listenConfig(listeners int) *epollnet.ListenConfig {
	cfg := &epollnet.ListenConfig{MaxConns: max(p.maxConns/max(listeners, 1), 1)}
	if p.o.acceptProxy {
		cfg.ProxyProtocol = &epollnet.ProxyConfig{Trusted: p.o.trusted}
	}
	return cfg
}

// openProxy starts a proxy on every --listen address (127.0.0.1:8080
// without one), its sockets inherited from the previous process after a
// restart (see daemon.Handover) on the epoll backend.
func openProxy(o proxyOptions, hv *daemon.Handover, logger *slog.Logger) (*proxy, error) {
	if len(o.listen) == 0 {
		o.listen = []string{defaultListen}
	}
	p, err := newProxy(o, len(o.listen), logger)
	if err != nil {
		return nil, err
	}
	cfg := p.listenConfig(len(o.listen))
	for _, a := range o.listen {
		if err = p.listen(a, hv, cfg); err != nil {
			err = fmt.Errorf("--listen %s: %w", a, err)
			break
		}
	}
	if err != nil {
		p.stopChecks()
		p.eng.Abort()
		p.paths.Remove()
		return nil, err
	}
	return p, nil
}

// opened and closed count the clients; closed ends a drain at the last.
func (p *proxy) opened() { p.open.Add(1) }

func (p *proxy) closed() {
	if p.open.Add(-1) == 0 && p.draining.Load() {
		p.drainOnce.Do(func() { close(p.drained) })
	}
}

// shutdown stops accepting and lets the relays finish for up to timeout,
// then closes the rest gracefully (a FIN each way, what was relayed is
// delivered) and stops the engine. It returns how many relays were cut.
func (p *proxy) shutdown(timeout time.Duration) (cut int64, err error) {
	for _, ln := range p.lns {
		ln.Close()
	}
	p.stopChecks()
	p.draining.Store(true)
	if p.open.Load() == 0 {
		p.drainOnce.Do(func() { close(p.drained) })
	}
	t := time.NewTimer(timeout)
	select {
	case <-p.drained:
	case <-t.C:
		cut = p.open.Load()
	}
	t.Stop()
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	err = p.eng.Shutdown(ctx)
	if errors.Is(err, context.DeadlineExceeded) {
		err = nil // reset after a second of graceful close: counted in cut
	}
	return cut, err
}

// scheduleCheck runs b's next active check after d.
func (p *proxy) scheduleCheck(b *backend, d time.Duration) {
	if p.stopping.Load() {
		return
	}
	b.check.Store(p.eng.AfterFunc(d, func() { p.runCheck(b) }))
}

// runCheck connects to b; the result counts as a connect's would.
// Loop goroutine.
func (p *proxy) runCheck(b *backend) {
	if p.stopping.Load() {
		return
	}
	cfg := p.dialCfg
	cfg.Timeout = min(p.o.connectTimeout, p.o.checkInterval)
	if _, err := p.eng.DialAsync(b.network, b.address, &checker{p: p, b: b}, &cfg); err != nil {
		return // the engine is shutting down
	}
}

// stopChecks ends the active checks.
func (p *proxy) stopChecks() {
	p.stopping.Store(true)
	for _, b := range p.bs {
		if t := b.check.Load(); t != nil {
			t.Stop()
		}
	}
}

// checker is one active check's handler: a TCP connect, reset at once so
// that checks leave no TIME_WAIT behind, as HAProxy's do.
type checker struct {
	epollnet.BaseHandler
	p      *proxy
	b      *backend
	opened bool
}

func (k *checker) OnOpen(c *epollnet.Conn) {
	k.opened = true
	k.b.checkOK.Add(1)
	k.b.connected()
	c.Abort()
}

func (k *checker) OnClose(c *epollnet.Conn, why error) {
	if !k.opened && !errors.Is(why, epollnet.ErrEngineShutdown) {
		k.b.checkKO.Add(1)
		k.b.failedConnect(time.Now().UnixNano(), &k.p.health)
	}
	k.p.scheduleCheck(k.b, k.p.o.checkInterval)
}

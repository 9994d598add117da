package serve

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"time"

	"github.com/epollnet/epollnet"
	"github.com/epollnet/epollnet/cmd/epollnet/internal/cli"
	"github.com/epollnet/epollnet/cmd/epollnet/internal/daemon"
)

// Run is "epollnet serve": args are the command's, without its name.
func Run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	o, err := parseServe(args, stdout, stderr)
	if code, exit := cli.ParseExit(err); exit {
		return code
	}
	if err := serve(ctx, o, stderr); err != nil {
		fmt.Fprintf(stderr, "epollnet serve: %v\n", err)
		return cli.ExitFail
	}
	return cli.ExitOK
}

// runningServer is a running "serve": an engine, its listeners and its handler's
// counters. The bench command starts one in-process when it has no target.
type runningServer struct {
	o       serveOptions
	eng     *epollnet.Engine
	h       epollnet.Handler
	http    *httpServer // --proto http: the handler, which drains by itself
	lns     []*epollnet.Listener
	origins []string // per listener: where its socket came from, "" for a new one
	paths   daemon.Paths
	st      *serveStats
	capPer  int         // --at-cap wait: each listener's ListenConfig.MaxConns
	tls     *tls.Config // --tls-cert: the listeners' TLS configuration, else nil
	started time.Time
}

// newServer starts an engine and o.proto's handler, listening on nothing
// yet; listeners is how many sockets it will serve, for the default
// connection cap. logger may be nil.
func newServer(o serveOptions, listeners int, logger *slog.Logger) (*runningServer, error) {
	tlsConfig, err := o.tlsConfig()
	if err != nil {
		return nil, err
	}
	high := o.maxWriteBuffer / 4
	eng, err := epollnet.New(epollnet.Options{
		Loops:          o.loops,
		ReadBufferSize: serveReadSize,
		MaxReadBuffer:  o.maxReadBuffer,
		MaxWriteBuffer: o.maxWriteBuffer,
		WriteHighWater: high,
		WriteLowWater:  high / 4,
		IdleTimeout:    o.idleTimeout,
		Logger:         logger,
	})
	if err != nil {
		return nil, err
	}
	maxConns := o.maxConns
	if maxConns == 0 {
		maxConns = defaultMaxConns(eng.Loops(), listeners)
	}
	st := newServeStats(eng.Loops(), int64(maxConns))
	s := &runningServer{o: o, eng: eng, st: st, tls: tlsConfig, started: time.Now()}
	if o.atCap == capWait {
		// The engine caps each listener (ListenConfig.MaxConns), so the cap
		// is shared out: together they never hold more than maxConns.
		st.resetOverCap = false
		s.capPer = max(maxConns/max(listeners, 1), 1)
	}
	switch o.proto {
	case cli.ProtoEcho:
		s.h = &echoServer{serveBase{st}}
	case cli.ProtoDiscard:
		s.h = &discardServer{serveBase{st}}
	default:
		s.http = newHTTPServer(st, eng.Loops(), o)
		s.h = s.http
	}
	return s, nil
}

// listenConfig is every listener's configuration.
func (s *runningServer) listenConfig() *epollnet.ListenConfig {
	return &epollnet.ListenConfig{ReusePort: s.o.reusePort, ProxyProtocol: s.o.proxyConfig(), MaxConns: s.capPer,
		TLSConfig: s.tls}
}

// startServer starts a server listening on every o.listen address with
// Engine.Listen: bench's in-process server, and tests.
func startServer(o serveOptions) (*runningServer, error) {
	s, err := newServer(o, len(o.listen), nil)
	if err != nil {
		return nil, err
	}
	for _, a := range o.listen {
		network, address, err := cli.SplitAddr(a)
		if err == nil {
			var ln *epollnet.Listener
			if ln, err = s.eng.Listen(network, address, s.h, s.listenConfig()); err == nil {
				s.lns, s.origins = append(s.lns, ln), append(s.origins, "")
			}
		}
		if err != nil {
			s.eng.Abort()
			return nil, err
		}
	}
	return s, nil
}

// addrs returns the listeners' addresses, with the ports the kernel chose.
func (s *runningServer) addrs() []net.Addr {
	var as []net.Addr
	for _, ln := range s.lns {
		as = append(as, ln.Addr())
	}
	return as
}

// shutdown stops accepting and lets the connections finish for up to
// timeout, then resets the rest. HTTP connections finish their request in
// progress and close after its response, which says Connection: close
// (see httpServer.drain); echo and discard connections are closed at once,
// their output flushed first.
func (s *runningServer) shutdown(timeout time.Duration) error {
	deadline := time.Now().Add(timeout)
	for _, ln := range s.lns {
		ln.Close()
	}
	if s.http != nil {
		s.http.drain()
		for s.st.open.Load() > 0 && time.Now().Before(deadline) {
			time.Sleep(10 * time.Millisecond)
		}
	}
	ctx, cancel := context.WithDeadline(context.Background(), deadline)
	defer cancel()
	err := s.eng.Shutdown(ctx)
	if errors.Is(err, context.DeadlineExceeded) {
		return fmt.Errorf("connections still open after --shutdown-timeout %v were reset", timeout)
	}
	return err
}

// serve runs the server until ctx ends (SIGINT, SIGTERM) or, after a
// SIGHUP, a new process took over its sockets; it prints where it listens,
// then a status line every o.statusInterval unless o.quiet.
func serve(ctx context.Context, o serveOptions, stderr io.Writer) error {
	hv, err := daemon.NewHandover("serve")
	if err != nil {
		return err
	}
	defer hv.Stop()
	s, err := openServer(o, hv, daemon.NewLogger(o.logLevel, stderr))
	if err != nil {
		return err
	}
	svc := daemon.Service{Handover: hv, Paths: &s.paths, Metrics: o.metrics, PIDFile: o.pidFile}
	metrics, err := svc.Start(s.metricFamilies)
	if err != nil {
		s.eng.Abort()
		s.paths.Remove()
		return err
	}
	// SIGHUP is caught since newHandover; from here on it restarts.
	hv.Watch(stderr)
	s.printStart(stderr, metrics, hv.Restarts())
	s.statusLoop(ctx, hv.TookOver(), stderr)
	hv.Stop()
	pid := os.Getpid()
	if hv.HandedOver() {
		fmt.Fprintf(stderr, "epollnet serve: pid %d: the new process serves the sockets; draining %s connections\n",
			pid, cli.Count(s.st.open.Load()))
	} else {
		fmt.Fprintf(stderr, "epollnet serve: pid %d: shutting down, %s connections open\n", pid, cli.Count(s.st.open.Load()))
	}
	metrics.Close()
	err = s.shutdown(o.shutdownTimeout)
	svc.Finish()
	total := s.eng.Stats().Total
	fmt.Fprintf(stderr, "epollnet serve: pid %d: %s connections served, %s refused; %s %s; %s in, %s out\n",
		pid, cli.Count(total.Opened), cli.Count(s.st.refused.Load()), cli.Count(s.st.ops()), s.opsName(),
		cli.MiB(total.BytesIn), cli.MiB(total.BytesOut))
	return err
}

// printStart prints where the server listens, where its metrics are, and
// that it is ready.
func (s *runningServer) printStart(w io.Writer, m *daemon.MetricsServer, restarts bool) {
	as := s.addrs()
	for i := 0; i < len(as); {
		// The sockets of a reuseport group share one line.
		n := 1
		for i+n < len(as) && as[i+n].String() == as[i].String() && s.origins[i+n] == s.origins[i] {
			n++
		}
		from := ""
		if s.origins[i] != "" {
			from = s.origins[i] + ", "
		}
		if n > 1 {
			from += fmt.Sprintf("%d SO_REUSEPORT sockets, ", n)
		}
		proto := s.o.proto
		if s.tls != nil {
			proto += " over TLS"
		}
		fmt.Fprintf(w, "epollnet serve: %s on %s %s (%s%s loops, max %s connections)\n",
			proto, as[i].Network(), as[i], from, cli.Count(s.eng.Loops()), cli.Count(s.st.maxConns))
		i += n
	}
	if m != nil {
		fmt.Fprintf(w, "epollnet serve: metrics on http://%s/metrics\n", m.Addr())
	}
	hup := ""
	if restarts {
		hup = "; SIGHUP starts a new process and hands it the sockets"
	}
	fmt.Fprintf(w, "epollnet serve: pid %d ready%s\n", os.Getpid(), hup)
}

// opsName names what stats.ops counts.
func (s *runningServer) opsName() string {
	if s.o.proto == cli.ProtoHTTP {
		return "requests"
	}
	return "reads"
}

// statusLoop prints a status line every interval until ctx ends or stop
// is closed.
func (s *runningServer) statusLoop(ctx context.Context, stop <-chan struct{}, w io.Writer) {
	if s.o.quiet {
		select {
		case <-ctx.Done():
		case <-stop:
		}
		return
	}
	t := time.NewTicker(s.o.statusInterval)
	defer t.Stop()
	prev, prevOps, prevAt := s.eng.Stats().Total, s.st.ops(), time.Now()
	for {
		select {
		case <-ctx.Done():
			return
		case <-stop:
			return
		case now := <-t.C:
			cur, ops := s.eng.Stats().Total, s.st.ops()
			secs := now.Sub(prevAt).Seconds()
			line := fmt.Sprintf("epollnet serve: %s conns %s | %s %s/s | in %s out %s",
				now.Format("15:04:05"), cli.Count(s.st.open.Load()), cli.Rate(float64(ops-prevOps)/secs), s.opsName(),
				cli.MiBPerSec(float64(cur.BytesIn-prev.BytesIn)/secs),
				cli.MiBPerSec(float64(cur.BytesOut-prev.BytesOut)/secs))
			if r := s.st.refused.Load(); r > 0 {
				line += " | refused " + cli.Count(r)
			}
			if s.o.proto == cli.ProtoHTTP {
				line += fmt.Sprintf(" | bad requests %s, timeouts %s", cli.Count(s.st.badReqs.Load()),
					cli.Count(s.st.timeouts.Load()))
			}
			fmt.Fprintln(w, line)
			prev, prevOps, prevAt = cur, ops, now
		}
	}
}

// Local is a quiet server running in this process: bench starts one when
// it is given no target.
type Local struct{ s *runningServer }

// StartLocal starts a server for proto (echo, discard or http) on
// 127.0.0.1 at a port the kernel picks, with loops event loops (0: one per
// CPU), serving TLS with tlsConfig if it is not nil.
func StartLocal(proto string, loops int, tlsConfig *tls.Config) (*Local, error) {
	o := defaultServeOptions()
	o.proto, o.listen, o.loops, o.quiet = proto, []string{"127.0.0.1:0"}, loops, true
	o.tlsPreset = tlsConfig
	s, err := startServer(o)
	if err != nil {
		return nil, err
	}
	return &Local{s}, nil
}

// Addr is the address the server listens on.
func (l *Local) Addr() net.Addr { return l.s.addrs()[0] }

// Close shuts the server down, giving its connections a second to finish.
func (l *Local) Close() error { return l.s.shutdown(time.Second) }

package proxy

import (
	"context"
	"fmt"
	"io"
	"os"
	"time"

	"github.com/epollnet/epollnet/cmd/epollnet/internal/cli"
	"github.com/epollnet/epollnet/cmd/epollnet/internal/daemon"
)

// Run is "epollnet proxy": args are the command's, without its name.
func Run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	o, err := parseProxy(args, stdout, stderr)
	if code, exit := cli.ParseExit(err); exit {
		return code
	}
	if err := run(ctx, o, stderr); err != nil {
		fmt.Fprintf(stderr, "epollnet proxy: %v\n", err)
		return cli.ExitFail
	}
	return cli.ExitOK
}

// run relays until ctx ends (SIGINT, SIGTERM) or, after a SIGHUP, a new
// process took over the sockets; then it lets the relays finish.
func run(ctx context.Context, o proxyOptions, stderr io.Writer) error {
	hv, err := daemon.NewHandover("proxy")
	if err != nil {
		return err
	}
	defer hv.Stop()
	p, err := openProxy(o, hv, daemon.NewLogger(o.logLevel, stderr))
	if err != nil {
		return err
	}
	svc := daemon.Service{Handover: hv, Paths: &p.paths, Metrics: o.metrics, PIDFile: o.pidFile}
	metrics, err := svc.Start(p.metricFamilies)
	if err != nil {
		p.stopChecks()
		p.eng.Abort()
		p.paths.Remove()
		return err
	}
	hv.Watch(stderr)
	p.printStart(stderr, metrics, hv.Restarts())
	p.statusLoop(ctx, hv.TookOver(), stderr)
	hv.Stop()
	pid := os.Getpid()
	if hv.HandedOver() {
		fmt.Fprintf(stderr, "epollnet proxy: pid %d: the new process serves the sockets; %s relays finishing\n",
			pid, cli.Count(p.open.Load()))
	} else {
		fmt.Fprintf(stderr, "epollnet proxy: pid %d: shutting down, %s relays finishing\n", pid, cli.Count(p.open.Load()))
	}
	metrics.Close()
	cut, err := p.shutdown(o.shutdownTimeout)
	if cut > 0 {
		fmt.Fprintf(stderr, "epollnet proxy: pid %d: %s relays still open after --shutdown-timeout %v were closed\n",
			pid, cli.Count(cut), o.shutdownTimeout)
	}
	svc.Finish()
	p.printSummary(stderr)
	return err
}

// printStart prints where the proxy listens, its backends, and that it is
// ready (and whether SIGHUP restarts: restarts).
func (p *proxy) printStart(w io.Writer, m *daemon.MetricsServer, restarts bool) {
	for i, ln := range p.lns {
		from := ""
		if p.origins[i] != "" {
			from = p.origins[i] + ", "
		}
		fmt.Fprintf(w, "epollnet proxy: on %s %s (%s%s loops, max %s connections)\n",
			ln.Addr().Network(), ln.Addr(), from, cli.Count(p.eng.Loops()), cli.Count(p.maxConns))
	}
	for _, b := range p.bs {
		fmt.Fprintf(w, "epollnet proxy: backend %s weight %d\n", b.arg, b.weight)
	}
	if m != nil {
		fmt.Fprintf(w, "epollnet proxy: metrics on http://%s/metrics\n", m.Addr())
	}
	hup := ""
	if restarts {
		hup = "; SIGHUP starts a new process and hands it the sockets"
	}
	fmt.Fprintf(w, "epollnet proxy: pid %d ready (%s)%s\n", os.Getpid(), p.o.balance, hup)
}

// statusLoop prints a status line every interval until ctx ends or stop
// is closed.
func (p *proxy) statusLoop(ctx context.Context, stop <-chan struct{}, w io.Writer) {
	var tick <-chan time.Time
	if !p.o.quiet {
		t := time.NewTicker(p.o.statusInterval)
		defer t.Stop()
		tick = t.C
	}
	prev, prevAt := p.eng.Stats().Total, time.Now()
	for {
		select {
		case <-ctx.Done():
			return
		case <-stop:
			return
		case now := <-tick:
			cur := p.eng.Stats().Total
			secs := now.Sub(prevAt).Seconds()
			up, failed := 0, uint64(0)
			for _, b := range p.bs {
				if !b.down.Load() {
					up++
				}
				failed += b.failures()
			}
			fmt.Fprintf(w, "epollnet proxy: %s relays %s | backends up %d/%d | in %s out %s | failed connects %s\n",
				now.Format("15:04:05"), cli.Count(p.open.Load()), up, len(p.bs),
				cli.MiBPerSec(float64(cur.BytesIn-prev.BytesIn)/secs),
				cli.MiBPerSec(float64(cur.BytesOut-prev.BytesOut)/secs), cli.Count(failed))
			prev, prevAt = cur, now
		}
	}
}

// printSummary prints the last line: clients, relays per backend, bytes.
func (p *proxy) printSummary(w io.Writer) {
	var total, failed uint64
	for _, b := range p.bs {
		total += b.total.Load()
		failed += b.failures()
	}
	fmt.Fprintf(w, "epollnet proxy: pid %d: %s connections relayed, %s not relayed, %s failed connects; %s to backends, %s from them\n",
		os.Getpid(), cli.Count(total), cli.Count(p.unrelayed.Load()), cli.Count(failed),
		cli.MiB(p.sum(func(b *backend) uint64 { return b.up.Load() })),
		cli.MiB(p.sum(func(b *backend) uint64 { return b.dn.Load() })))
}

func (p *proxy) sum(f func(*backend) uint64) uint64 {
	var n uint64
	for _, b := range p.bs {
		n += f(b)
	}
	return n
}

// failures returns b's failed connects, every class.
func (b *backend) failures() uint64 {
	var n uint64
	for i := range b.failed {
		n += b.failed[i].Load()
	}
	return n
}

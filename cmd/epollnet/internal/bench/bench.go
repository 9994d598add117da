package bench

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/netip"
	"sync"
	"sync/atomic"
	"time"

	"github.com/epollnet/epollnet"
	"github.com/epollnet/epollnet/cmd/epollnet/internal/cli"
	"github.com/epollnet/epollnet/cmd/epollnet/internal/hdr"
	"github.com/epollnet/epollnet/cmd/epollnet/internal/http1"
	"github.com/epollnet/epollnet/cmd/epollnet/internal/serve"
)

// Run is "epollnet bench": args are the command's, without its name.
func Run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	o, err := parseBench(args, stdout, stderr)
	if code, exit := cli.ParseExit(err); exit {
		return code
	}
	rep, err := bench(ctx, o, stderr)
	if err != nil {
		fmt.Fprintf(stderr, "epollnet bench: %v\n", err)
		return cli.ExitFail
	}
	if o.json {
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		err = enc.Encode(rep)
	} else {
		err = rep.writeText(stdout)
	}
	if err != nil {
		fmt.Fprintf(stderr, "epollnet bench: %v\n", err)
		return cli.ExitFail
	}
	if rep.ErrorTotal > o.maxErrors {
		fmt.Fprintf(stderr, "epollnet bench: %s errors, more than --max-errors %s\n", cli.Count(rep.ErrorTotal),
			cli.Count(o.maxErrors))
		return cli.ExitFail
	}
	return cli.ExitOK
}

// Client engine settings. Output above benchWriteHigh stops a raw sender
// until OnWritable; a response must fit in the read cap to be parsed.
const (
	benchWriteHigh = 64 << 10
	benchShutdown  = 500 * time.Millisecond
)

// responseLimits bound what the HTTP client accepts: larger than a
// server's request limits, since responses carry the payload.
var responseLimits = http1.Limits{MaxHeaderBytes: 64 << 10, MaxHeaders: 256, MaxBodyBytes: 4 << 20}

// bench runs one load test and returns its report. With no target it
// starts a server in this process first, and stops it after.
func bench(ctx context.Context, o benchOptions, stderr io.Writer) (*benchReport, error) {
	clientLoops, serverLoops := o.benchLoops()
	target := o.target
	var roots *x509.CertPool // trusts the in-process server's certificate
	if target == "" {
		var serverTLS *tls.Config
		if o.tls.on {
			var err error
			if serverTLS, roots, err = localCert(); err != nil {
				return nil, fmt.Errorf("in-process server's certificate: %w", err)
			}
		}
		srv, err := serve.StartLocal(serverProto(o.proto), serverLoops, serverTLS)
		if err != nil {
			return nil, fmt.Errorf("in-process server: %w", err)
		}
		defer srv.Close()
		target = srv.Addr().String()
	}
	o.tlsConfig = o.clientTLS(target, roots)
	network, address, err := cli.SplitAddr(target)
	if err != nil {
		return nil, err
	}
	if network == "tcp" {
		if address, err = resolveTarget(ctx, address, o.allowRemote, o.sources); err != nil {
			return nil, err
		}
	}
	if o.host == "" {
		o.host = hostOf(target)
	}
	r, err := newBenchRun(o, network, address, clientLoops)
	if err != nil {
		return nil, err
	}
	rep := r.run(ctx, stderr)
	rep.Target, rep.InProcess = target, o.target == ""
	return rep, nil
}

// serverProto is the in-process server for a client protocol.
func serverProto(p string) string {
	if p == cli.ProtoRaw {
		return cli.ProtoDiscard
	}
	return p
}

// resolveTarget resolves a TCP target once, so that connections do not
// each look the name up, and refuses addresses outside loopback unless
// allowed: a load generator pointed at the wrong host is an attack.
func resolveTarget(ctx context.Context, address string, allowRemote bool, sources []netip.Addr) (string, error) {
	host, port, err := net.SplitHostPort(address)
	if err != nil {
		return "", err
	}
	if host == "" {
		host = "127.0.0.1"
	}
	ip, err := netip.ParseAddr(host)
	if err != nil {
		ips, lerr := net.DefaultResolver.LookupNetIP(ctx, "ip", host)
		if lerr != nil || len(ips) == 0 {
			return "", fmt.Errorf("resolving %s: %v", host, lerr)
		}
		ip = ips[0]
		for _, a := range ips {
			if a.Unmap().Is4() {
				ip = a
				break
			}
		}
	}
	ip = ip.Unmap()
	if !allowRemote && !ip.IsLoopback() {
		return "", fmt.Errorf("refusing to load %s (%s): not a loopback address; "+
			"pass --allow-remote to load a server you own elsewhere", address, ip)
	}
	for _, s := range sources {
		if s.Is4() != ip.Is4() {
			return "", fmt.Errorf("--source %s and target %s are of different address families", s, ip)
		}
	}
	return net.JoinHostPort(ip.String(), port), nil
}

// benchRun is one load test in progress.
type benchRun struct {
	o                benchOptions
	network, address string
	eng              *epollnet.Engine
	loops            []benchLoop
	epoch            time.Time
	interval         int64 // --rate: nanoseconds between one connection's sends
	request          []byte
	requests         []byte // --pipeline copies of request
	closing          []byte // --requests-per-conn (http): the last request, with Connection: close
	pattern          pattern
	dialCfgs         []*epollnet.DialConfig // one per --source, used in turn

	seq      atomic.Uint64
	stopped  atomic.Bool
	issued   atomic.Int64 // requests started, against -n
	finished atomic.Int64 // responses, against -n
	done     chan struct{}
	doneOnce sync.Once

	mu       sync.Mutex
	errs     [numErrClasses]uint64
	samples  [numErrClasses]string
	errTotal atomic.Uint64
}

// benchLoop is what one event loop records; only that loop writes it
// (the counters are also read by the progress line).
type benchLoop struct {
	lat, connect *hdr.Histogram
	handshake    *hdr.Histogram // --tls: the TLS handshake, apart from connect
	status       [600]uint64    // responses by status code; 599 holds 599 and above
	sent, done   cli.PaddedCount
	opened       cli.PaddedCount // connections opened in the window
	lost         uint64          // requests in flight on connections that closed before the window ended
	tls          tlsCounts       // --tls: handshakes in the window
}

// histHighest bounds the histograms: an hour in nanoseconds.
const histHighest = int64(time.Hour)

func newBenchRun(o benchOptions, network, address string, loops int) (*benchRun, error) {
	r := &benchRun{o: o, network: network, address: address, done: make(chan struct{})}
	if o.rate > 0 {
		r.interval = max(int64(float64(o.conns)/o.rate*1e9), 1)
	}
	switch o.proto {
	case cli.ProtoHTTP:
		r.request = http1.AppendRequest(nil, o.method, o.path, o.host, o.headers, o.body)
		for range o.pipeline {
			r.requests = append(r.requests, r.request...)
		}
		if o.perConn > 0 {
			hs := append(o.headers[:len(o.headers):len(o.headers)],
				http1.Header{Name: []byte("Connection"), Value: []byte("close")})
			r.closing = http1.AppendRequest(nil, o.method, o.path, o.host, hs, o.body)
		}
	default:
		r.pattern = newPattern(uint64(time.Now().UnixNano()))
	}
	if len(o.sources) == 0 {
		r.dialCfgs = []*epollnet.DialConfig{{Timeout: o.connectTimeout, Socket: o.socket, TLSConfig: o.tlsConfig}}
	}
	for _, s := range o.sources {
		r.dialCfgs = append(r.dialCfgs, &epollnet.DialConfig{Timeout: o.connectTimeout, Socket: o.socket,
			LocalAddr: net.TCPAddrFromAddrPort(netip.AddrPortFrom(s, 0)), TLSConfig: o.tlsConfig})
	}
	eng, err := epollnet.New(epollnet.Options{Loops: loops, WriteHighWater: benchWriteHigh,
		WriteLowWater: benchWriteHigh / 4, MaxReadBuffer: 16 << 20, LingerTimeout: benchShutdown})
	if err != nil {
		return nil, err
	}
	r.eng = eng
	r.loops = make([]benchLoop, eng.Loops())
	for i := range r.loops {
		r.loops[i].lat, _ = hdr.New(histHighest, 3)
		r.loops[i].connect, _ = hdr.New(histHighest, 3)
		r.loops[i].handshake, _ = hdr.New(histHighest, 3)
	}
	return r, nil
}

// now is the run's clock: monotonic nanoseconds since it started.
func (r *benchRun) now() int64 { return int64(time.Since(r.epoch)) }

// take claims one request from the -n budget.
func (r *benchRun) take() bool {
	return r.o.requests == 0 || r.issued.Add(1) <= r.o.requests
}

// exhausted reports that the -n budget is spent.
func (r *benchRun) exhausted() bool {
	return r.o.requests > 0 && r.issued.Load() >= r.o.requests
}

// completed records a response: its latency from the scheduled send time
// at (none for raw, at < 0), on loop lp. It reports false, recording
// nothing, once the measured window has ended.
func (r *benchRun) completed(lp *benchLoop, now, at int64) bool {
	if r.stopped.Load() {
		return false
	}
	lp.done.Add(1)
	if at >= 0 {
		lp.lat.Record(now - at)
	}
	if r.o.requests > 0 && r.finished.Add(1) == r.o.requests {
		r.doneOnce.Do(func() { close(r.done) })
	}
	return true
}

// noSchedule tells dial that the new connection starts a --rate schedule
// of its own.
const noSchedule = -1

// dial opens one more connection; fails counts the failures before it.
// nextAt is the --rate schedule the connection takes over from the one it
// replaces (the next send, on the run's clock), or noSchedule.
func (r *benchRun) dial(fails int, nextAt int64) {
	if r.stopped.Load() {
		return
	}
	id := r.seq.Add(1) - 1
	window := r.o.pipeline // requests in flight at most
	if r.o.perConn > 0 {
		window = min(window, r.o.perConn)
	}
	b := &benchConn{r: r, id: id, fails: fails, ring: make([]int64, window),
		base: int64(id*7919) % patternPeriod, inherited: nextAt}
	b.tick = b.onTick
	b.p.Limits = responseLimits
	if r.interval > 0 && nextAt == noSchedule {
		// Spread the connections' schedules over one interval, so that a
		// fixed rate is not sent in bursts of one request per connection.
		b.phase = int64(id%uint64(r.o.conns)) * r.interval / int64(r.o.conns)
	}
	b.dialAt = r.now()
	cfg := r.dialCfgs[id%uint64(len(r.dialCfgs))]
	if _, err := r.eng.DialAsync(r.network, r.address, b, cfg); err != nil && !r.stopped.Load() {
		r.recordError(classOf(err), err)
	}
}

// run opens the connections, loads until -d, -n or ctx ends, and reports.
func (r *benchRun) run(ctx context.Context, stderr io.Writer) *benchReport {
	r.epoch = time.Now()
	stop := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(2)
	go func() { defer wg.Done(); r.rampUp(stop) }()
	go func() { defer wg.Done(); r.progress(stop, stderr) }()
	t := time.NewTimer(r.o.duration)
	select {
	case <-t.C:
	case <-r.done:
	case <-ctx.Done():
	}
	t.Stop()
	r.stopped.Store(true)
	elapsed := time.Duration(r.now())
	total := r.eng.Stats().Total
	close(stop)
	wg.Wait()
	sctx, cancel := context.WithTimeout(context.Background(), benchShutdown)
	r.eng.Shutdown(sctx) // in-flight requests are abandoned, as in wrk
	cancel()
	return r.report(elapsed, total)
}

// rampUp opens the -c connections, at --ramp per second if set.
func (r *benchRun) rampUp(stop <-chan struct{}) {
	var every time.Duration
	if r.o.ramp > 0 {
		every = time.Duration(float64(time.Second) / r.o.ramp)
	}
	for i := 0; i < r.o.conns; i++ {
		r.dial(0, noSchedule)
		if every == 0 {
			continue
		}
		t := time.NewTimer(every)
		select {
		case <-t.C:
		case <-stop:
			t.Stop()
			return
		}
	}
}

// recordError counts an error by class, keeping the first message of each.
func (r *benchRun) recordError(cls errClass, err error) {
	if r.stopped.Load() {
		return
	}
	r.errTotal.Add(1)
	r.mu.Lock()
	r.errs[cls]++
	if r.samples[cls] == "" {
		r.samples[cls] = err.Error()
	}
	r.mu.Unlock()
}

// errClass is how bench counts errors: epollnet.Classify's classes, and
// bad responses.
type errClass int

const (
	errRefused errClass = iota
	errTimeout
	errReset
	errUnreachable
	errNoLocalPorts
	errTLS
	errBadResponse
	errOther
	numErrClasses
)

var errClassNames = [numErrClasses]string{"refused", "timeout", "reset", "unreachable",
	"no-local-ports", "tls", "bad-response", "other"}

// classOf maps a dial error or close reason to its class.
func classOf(err error) errClass {
	switch epollnet.Classify(err) {
	case epollnet.ClassRefused:
		return errRefused
	case epollnet.ClassTimeout:
		return errTimeout
	case epollnet.ClassReset:
		return errReset
	case epollnet.ClassUnreachable:
		return errUnreachable
	case epollnet.ClassNoLocalPorts:
		return errNoLocalPorts
	case epollnet.ClassTLS:
		return errTLS
	}
	return errOther
}

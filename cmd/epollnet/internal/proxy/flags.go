package proxy

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/netip"
	"strconv"
	"strings"
	"time"

	"github.com/epollnet/epollnet"
	"github.com/epollnet/epollnet/cmd/epollnet/internal/cli"
	"github.com/epollnet/epollnet/cmd/epollnet/internal/daemon"
)

// proxyOptions is the parsed command line of "epollnet proxy".
type proxyOptions struct {
	listen          []string       // --listen, repeatable: host:port or unix:/path
	backends        []backendSpec  // --backend, repeatable
	balance         string         // --balance: roundrobin or leastconn
	connectTimeout  time.Duration  // --connect-timeout: one connect attempt's bound
	retries         int            // --retries: further backends tried after a failed connect
	fails           int            // --fails: consecutive connect failures that mark a backend down
	downTime        time.Duration  // --down-time: how long a backend stays down without active checks
	checkInterval   time.Duration  // --check-interval: active TCP connect checks, 0 for none
	proxyOut        int            // --proxy-protocol-out: 0 (none), 1 or 2
	acceptProxy     bool           // --accept-proxy: clients begin with a PROXY header
	trusted         []netip.Prefix // --trusted, repeatable: proxies allowed to send one
	idleTimeout     time.Duration  // --idle-timeout: close a side idle this long
	maxConns        int            // --max-conns: client connections at once, 0 for the default
	loops           int            // --loops: event loops, 0 for one per CPU
	buffer          int            // --buffer: pending output per side before the other pauses
	splice          bool           // --splice: relay TCP through kernel pipes (PipeConfig.Splice)
	metrics         string         // --metrics: HOST:PORT of the Prometheus endpoint
	logLevel        string         // --log-level
	pidFile         string         // --pid-file
	shutdownTimeout time.Duration  // --shutdown-timeout: how long relays may finish at SIGTERM
	statusInterval  time.Duration  // --status-interval
	quiet           bool           // --quiet: no status line

	// socket, when set, creates the upstream sockets (DialConfig.Socket):
	// tests dial inside a network namespace with it. Not a flag.
	socket func(family, sotype, proto int) (int, error)
	// onPipe, if set, sees every relay once joined, on its loop: tests
	// watch the buffered bytes with it. Not a flag.
	onPipe func(down, up *epollnet.Conn)
}

// backendSpec is one --backend: an address and its weight.
type backendSpec struct {
	arg              string // as given, for messages and the metrics' label
	network, address string
	weight           int
}

// Balancing methods.
const (
	balanceRoundRobin = "roundrobin"
	balanceLeastConn  = "leastconn"
)

func defaultProxyOptions() proxyOptions {
	return proxyOptions{
		balance:         balanceRoundRobin,
		connectTimeout:  3 * time.Second,
		retries:         2,
		fails:           3,
		downTime:        10 * time.Second,
		idleTimeout:     5 * time.Minute,
		buffer:          256 << 10,
		logLevel:        "warn",
		shutdownTimeout: 30 * time.Second,
		statusInterval:  5 * time.Second,
	}
}

// defaultListen is where proxy listens without --listen.
const defaultListen = "127.0.0.1:8080"

// maxWeight bounds --backend's weight, so that weighted sums never
// overflow however many backends there are.
const maxWeight = 1000

// parseProxy parses proxy's flags. It returns flag.ErrHelp for -h, and
// cli.ErrUsage, after printing why, for a bad command line.
func parseProxy(args []string, stdout, stderr io.Writer) (proxyOptions, error) {
	o := defaultProxyOptions()
	fs := cli.NewFlagSet("proxy")
	var listen, backends, trusted cli.StringList
	var proxyOut string
	fs.Var(&listen, "listen", "")
	fs.Var(&backends, "backend", "")
	fs.StringVar(&o.balance, "balance", o.balance, "")
	fs.DurationVar(&o.connectTimeout, "connect-timeout", o.connectTimeout, "")
	fs.IntVar(&o.retries, "retries", o.retries, "")
	fs.IntVar(&o.fails, "fails", o.fails, "")
	fs.DurationVar(&o.downTime, "down-time", o.downTime, "")
	fs.DurationVar(&o.checkInterval, "check-interval", 0, "")
	fs.StringVar(&proxyOut, "proxy-protocol-out", "", "")
	fs.BoolVar(&o.acceptProxy, "accept-proxy", false, "")
	fs.Var(&trusted, "trusted", "")
	fs.DurationVar(&o.idleTimeout, "idle-timeout", o.idleTimeout, "")
	fs.IntVar(&o.maxConns, "max-conns", 0, "")
	fs.IntVar(&o.loops, "loops", 0, "")
	fs.IntVar(&o.buffer, "buffer", o.buffer, "")
	fs.BoolVar(&o.splice, "splice", false, "")
	fs.StringVar(&o.metrics, "metrics", "", "")
	fs.StringVar(&o.logLevel, "log-level", o.logLevel, "")
	fs.StringVar(&o.pidFile, "pid-file", "", "")
	fs.DurationVar(&o.shutdownTimeout, "shutdown-timeout", o.shutdownTimeout, "")
	fs.DurationVar(&o.statusInterval, "status-interval", o.statusInterval, "")
	fs.BoolVar(&o.quiet, "quiet", false, "")
	if err := cli.Parse(fs, args, Usage, stdout, stderr); err != nil {
		return o, err
	}
	o.listen = listen
	err := o.parseValues(backends, trusted, proxyOut)
	if err == nil {
		err = o.validate(fs)
	}
	if err != nil {
		return o, cli.Usagef(fs, stderr, "%v", err)
	}
	return o, nil
}

// parseValues parses the flags with a syntax of their own.
func (o *proxyOptions) parseValues(backends, trusted []string, proxyOut string) error {
	for _, b := range backends {
		spec, err := parseBackend(b)
		if err != nil {
			return fmt.Errorf("--backend %q: %v", b, err)
		}
		o.backends = append(o.backends, spec)
	}
	switch proxyOut {
	case "":
	case "v1", "v2":
		o.proxyOut = int(proxyOut[1] - '0')
	default:
		return fmt.Errorf("--proxy-protocol-out %q: want v1 or v2", proxyOut)
	}
	var err error
	o.trusted, err = daemon.ParseTrusted(trusted)
	return err
}

// parseBackend parses ADDR[,weight=N].
func parseBackend(s string) (backendSpec, error) {
	addr, opts, _ := strings.Cut(s, ",")
	network, address, err := cli.SplitAddr(addr)
	if err != nil {
		return backendSpec{}, err
	}
	if network == "tcp" {
		if _, err := net.ResolveTCPAddr("tcp", address); err != nil {
			return backendSpec{}, err
		}
	}
	spec := backendSpec{arg: addr, network: network, address: address, weight: 1}
	if opts == "" {
		return spec, nil
	}
	w, ok := strings.CutPrefix(opts, "weight=")
	n, err := strconv.Atoi(w)
	if !ok || err != nil || n < 1 || n > maxWeight {
		return backendSpec{}, fmt.Errorf("want ADDR or ADDR,weight=N with N in [1, %d]", maxWeight)
	}
	spec.weight = n
	return spec, nil
}

// validate checks ranges and combinations the flag package cannot.
func (o *proxyOptions) validate(fs *flag.FlagSet) error {
	if fs.NArg() > 0 {
		return fmt.Errorf("unexpected argument %q (proxy takes flags only)", fs.Arg(0))
	}
	if len(o.backends) == 0 {
		return errors.New("no --backend: want at least one backend address")
	}
	seen := map[string]bool{}
	for _, b := range o.backends {
		if seen[b.arg] {
			return fmt.Errorf("--backend %q given twice (use weight=N)", b.arg)
		}
		seen[b.arg] = true
	}
	tcp := len(o.listen) == 0
	for _, a := range o.listen {
		network, _, err := cli.SplitAddr(a)
		if err != nil {
			return fmt.Errorf("--listen %q: %v", a, err)
		}
		tcp = tcp || network == "tcp"
	}
	if o.metrics != "" {
		if _, port, err := net.SplitHostPort(o.metrics); err != nil || port == "" {
			return fmt.Errorf("--metrics %q: want HOST:PORT", o.metrics)
		}
	}
	if _, err := daemon.ParseLogLevel(o.logLevel); err != nil {
		return err
	}
	if err := o.validateRanges(); err != nil {
		return err
	}
	switch {
	case len(o.trusted) > 0 && !o.acceptProxy:
		return errors.New("--trusted applies with --accept-proxy only")
	case o.acceptProxy && len(o.trusted) == 0 && tcp:
		return errors.New("--accept-proxy on TCP needs --trusted: the addresses of the proxies allowed to send the header")
	}
	return nil
}

// validateRanges checks the numbers and durations.
func (o *proxyOptions) validateRanges() error {
	switch {
	case o.balance != balanceRoundRobin && o.balance != balanceLeastConn:
		return fmt.Errorf("unknown --balance %q: want roundrobin or leastconn", o.balance)
	case o.connectTimeout <= 0:
		return errors.New("--connect-timeout must be positive")
	case o.retries < 0 || o.retries > 100:
		return fmt.Errorf("--retries %d out of range [0, 100]", o.retries)
	case o.fails < 1:
		return errors.New("--fails must be at least 1")
	case o.downTime <= 0:
		return errors.New("--down-time must be positive")
	case o.checkInterval < 0:
		return errors.New("--check-interval must not be negative (0 disables)")
	case o.checkInterval > 0 && o.checkInterval < 10*time.Millisecond:
		return errors.New("--check-interval must be at least 10ms")
	case o.idleTimeout < 0:
		return errors.New("--idle-timeout must not be negative (0 disables)")
	case o.maxConns < 0:
		return errors.New("--max-conns must not be negative")
	case o.loops < 0 || o.loops > 1024:
		return fmt.Errorf("--loops %d out of range [0, 1024]", o.loops)
	case o.buffer < minBuffer || o.buffer > maxBuffer:
		return fmt.Errorf("--buffer %d out of range [%d, %d]", o.buffer, minBuffer, maxBuffer)
	case o.shutdownTimeout <= 0 || o.statusInterval <= 0:
		return errors.New("--shutdown-timeout and --status-interval must be positive")
	}
	return nil
}

// Buffer sizing: the engine reads readSize at a time; each side's pending
// output may rise to --buffer before the other side's reads pause, plus
// the read that crossed it, so the hard cap (Options.MaxWriteBuffer) is
// never reached by a relay.
const (
	readSize  = 64 << 10
	minBuffer = 16 << 10
	maxBuffer = 64 << 20
)

// Usage prints the help of "epollnet proxy".
func Usage(w io.Writer) {
	fmt.Fprint(w, strings.TrimLeft(`
Usage: epollnet proxy --backend ADDR [--backend ADDR...] [flags]

Relays TCP (or Unix socket) connections to backends, on the epollnet
engine, until SIGINT or SIGTERM, then stops accepting and lets the relays
finish. Each client connection is relayed to one backend, chosen by
--balance among those that are up, both connections on one event loop:
bytes both ways, a half-close passed on, and a side that does not read
stops the other from being read (memory stays bounded by --buffer). A
failed connect tries the next backend, up to --retries times.

SIGHUP (or SIGUSR2) starts a new copy of the program that inherits the
listening sockets; once it is ready, this one stops accepting and lets
its relays finish: no connection is refused or reset meanwhile.

Flags:
  --listen ADDR        HOST:PORT or unix:/path; repeatable
                       (default 127.0.0.1:8080)
  --backend ADDR       HOST:PORT or unix:/path, optionally ",weight=N"
                       (1 to 1000, default 1); repeatable, at least one
  --balance B          roundrobin (default): in turn, in proportion to
                       the weights; leastconn: the backend with the fewest
                       connections for its weight
  --loops N            event loops (default: one per usable CPU)

Backends and health:
  --connect-timeout D  bound on one connect to a backend (default 3s)
  --retries N          after a failed connect, try up to N other backends
                       (default 2); the client waits, unread, meanwhile
  --fails N            N consecutive failed connects mark a backend down
                       (default 3)
  --down-time D        without --check-interval, a backend that is down
                       gets connections again after D (default 10s)
  --check-interval D   connect to every backend each D (a TCP connect,
                       closed at once): a failed check counts as a failed
                       connect, a successful one marks it up; a backend
                       that is down comes back only this way (default 0:
                       no checks)
  When every backend is down, each is tried anyway, in turn.

PROXY protocol:
  --proxy-protocol-out v1|v2
                       begin every backend connection with a PROXY header
                       carrying the client's address (default: none)
  --accept-proxy       every client connection begins with a PROXY header
                       (v1 or v2) from a load balancer in front; one
                       without is reset
  --trusted CIDR       a proxy allowed to send the header: a prefix or an
                       address, repeatable or comma-separated; required
                       with --accept-proxy on TCP; others are reset

Limits:
  --max-conns N        client connections at once; beyond it new clients
                       wait in the kernel's accept queue (default:
                       RLIMIT_NOFILE shared between clients and backends)
  --idle-timeout D     close a connection idle this long, either side
                       (default 5m0s; 0 disables)
  --buffer B           pending output per connection above which the
                       other side is not read (default 262144)
  --splice             move TCP bytes through kernel pipes with splice(2),
                       never through user space: less CPU for bulk
                       transfers (about 10% at 4 KiB messages), more for
                       small messages (15-26% at 64 B); off by default

Deployment and output:
  --metrics ADDR       serve Prometheus metrics at http://ADDR/metrics,
                       per backend: connections, connect failures by
                       class, bytes, health, retries (default: none)
  --log-level L        debug, info, warn (default), error or off: engine
                       events to stderr
  --pid-file PATH      write the pid to PATH once ready
  --shutdown-timeout D at SIGTERM, how long relays may go on before the
                       rest are closed (default 30s)
  --status-interval D  period of the status line (default 5s)
  --quiet              no status line

Examples:
  epollnet proxy --listen 127.0.0.1:8080 --backend 127.0.0.1:9001 --backend 127.0.0.1:9002
  epollnet proxy --loops 1 --listen 127.0.0.1:8080 --backend unix:/run/app.sock
  epollnet proxy --backend 10.0.0.1:80,weight=3 --backend 10.0.0.2:80 --balance leastconn --check-interval 2s
  epollnet proxy --accept-proxy --trusted 10.0.0.5 --backend 127.0.0.1:9001 --proxy-protocol-out v2
`, "\n"))
}

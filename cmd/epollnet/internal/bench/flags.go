package bench

import (
	"bytes"
	"crypto/tls"
	"errors"
	"flag"
	"fmt"
	"io"
	"math"
	"net"
	"net/netip"
	"runtime"
	"strconv"
	"strings"
	"time"

	"github.com/epollnet/epollnet/cmd/epollnet/internal/cli"
	"github.com/epollnet/epollnet/cmd/epollnet/internal/http1"
)

// benchOptions is the parsed command line of "epollnet bench".
type benchOptions struct {
	target         string         // --target: HOST:PORT or unix:/path; "" starts a server in-process
	proto          string         // --proto: echo, http or raw
	conns          int            // -c: connections
	ramp           float64        // --ramp: connects per second at the start; 0: all at once
	duration       time.Duration  // -d: how long to load
	requests       int64          // -n: stop after this many responses; 0: -d decides
	pipeline       int            // --pipeline: requests in flight per connection
	perConn        int            // --requests-per-conn: responses before a connection is replaced; 0: keep-alive
	size           int            // --size: echo and raw message size
	method, path   string         // --method, --path (http)
	host           string         // -H "Host: x"; "" for the target's host:port
	headers        []http1.Header // -H, repeatable (http), Host excluded
	body           []byte         // --body (http); nil: no body, no Content-Length
	rate           float64        // --rate: total requests per second; 0: closed loop
	sources        []netip.Addr   // --source, repeatable: local addresses to bind
	loops          int            // --loops: client event loops
	connectTimeout time.Duration  // --connect-timeout: dial deadline
	json           bool           // --json: the report as one JSON document
	quiet          bool           // --quiet: no progress line
	maxErrors      uint64         // --max-errors: more fail the run (exit 1)
	allowRemote    bool           // --allow-remote: targets outside loopback
	tls            tlsOptions     // --tls, --insecure, --sni, --alpn
	tlsConfig      *tls.Config    // the client's, from tls and the target (clientTLS)

	// Not flags: hooks for tests.

	// socket creates the client sockets (DialConfig.Socket), so that a test
	// can dial inside a private network namespace.
	socket func(family, sotype, proto int) (int, error)
	// progressEvery is the progress line's period.
	progressEvery time.Duration
}

func defaultBenchOptions() benchOptions {
	return benchOptions{proto: cli.ProtoEcho, conns: 50, duration: 5 * time.Second, pipeline: 1,
		size: 64, method: "GET", path: "/", connectTimeout: 5 * time.Second, progressEvery: time.Second}
}

// Bounds that keep a typo from exhausting the machine.
const (
	maxBenchConns = 1 << 20
	maxPipeline   = 1 << 16
	maxMsgSize    = 16 << 20
	maxPerConn    = 1 << 30
	// maxNDuration bounds a run given -n without -d: every load loop
	// stops by itself, even when the server stops answering.
	maxNDuration = 10 * time.Minute
)

// parseBench parses bench's flags. It returns flag.ErrHelp for -h, and
// cli.ErrUsage, after printing why, for a bad command line.
func parseBench(args []string, stdout, stderr io.Writer) (benchOptions, error) {
	o := defaultBenchOptions()
	fs := cli.NewFlagSet("bench")
	var headers, sources cli.StringList
	var body string
	var maxErrors int64
	fs.StringVar(&o.target, "target", "", "")
	fs.StringVar(&o.proto, "proto", o.proto, "")
	fs.IntVar(&o.conns, "c", o.conns, "")
	fs.Float64Var(&o.ramp, "ramp", 0, "")
	fs.DurationVar(&o.duration, "d", o.duration, "")
	fs.Int64Var(&o.requests, "n", 0, "")
	fs.IntVar(&o.pipeline, "pipeline", o.pipeline, "")
	fs.IntVar(&o.perConn, "requests-per-conn", 0, "")
	fs.IntVar(&o.size, "size", o.size, "")
	fs.StringVar(&o.method, "method", o.method, "")
	fs.StringVar(&o.path, "path", o.path, "")
	fs.Var(&headers, "H", "")
	fs.StringVar(&body, "body", "", "")
	fs.Float64Var(&o.rate, "rate", 0, "")
	fs.Var(&sources, "source", "")
	fs.IntVar(&o.loops, "loops", 0, "")
	fs.DurationVar(&o.connectTimeout, "connect-timeout", o.connectTimeout, "")
	fs.BoolVar(&o.json, "json", false, "")
	fs.BoolVar(&o.quiet, "quiet", false, "")
	fs.Int64Var(&maxErrors, "max-errors", 0, "")
	fs.BoolVar(&o.allowRemote, "allow-remote", false, "")
	var alpn string
	fs.BoolVar(&o.tls.on, "tls", false, "")
	fs.BoolVar(&o.tls.insecure, "insecure", false, "")
	fs.StringVar(&o.tls.sni, "sni", "", "")
	fs.StringVar(&alpn, "alpn", "", "")
	if err := cli.Parse(fs, args, Usage, stdout, stderr); err != nil {
		return o, err
	}
	set := map[string]bool{}
	fs.Visit(func(f *flag.Flag) { set[f.Name] = true })
	if set["body"] {
		o.body = []byte(body)
	}
	if set["n"] && !set["d"] {
		o.duration = maxNDuration
	}
	err := o.validate(fs, set, headers, sources)
	if err == nil {
		err = o.validateTLS(set, alpn)
	}
	if err == nil && maxErrors < 0 {
		err = errors.New("--max-errors must not be negative")
	}
	if err != nil {
		return o, cli.Usagef(fs, stderr, "%v", err)
	}
	o.maxErrors = uint64(maxErrors)
	return o, nil
}

// validate checks ranges and combinations, and parses -H and --source.
func (o *benchOptions) validate(fs *flag.FlagSet, set map[string]bool, headers, sources []string) error {
	if fs.NArg() > 0 {
		return fmt.Errorf("unexpected argument %q (bench takes flags only)", fs.Arg(0))
	}
	switch o.proto {
	case cli.ProtoEcho, cli.ProtoRaw, cli.ProtoHTTP:
	default:
		return fmt.Errorf("unknown --proto %q: want echo, http or raw", o.proto)
	}
	for _, name := range []string{"method", "path", "H", "body"} {
		if set[name] && o.proto != cli.ProtoHTTP {
			return fmt.Errorf("-%s applies to --proto http only", name)
		}
	}
	if set["size"] && o.proto == cli.ProtoHTTP {
		return errors.New("--size applies to --proto echo and raw only")
	}
	switch {
	case o.conns < 1 || o.conns > maxBenchConns:
		return fmt.Errorf("-c %d out of range [1, %d]", o.conns, maxBenchConns)
	case o.duration <= 0:
		return errors.New("-d must be positive")
	case o.requests < 0:
		return errors.New("-n must not be negative")
	case o.pipeline < 1 || o.pipeline > maxPipeline:
		return fmt.Errorf("--pipeline %d out of range [1, %d]", o.pipeline, maxPipeline)
	case o.perConn < 0 || o.perConn > maxPerConn:
		return fmt.Errorf("--requests-per-conn %d out of range [0, %d]", o.perConn, maxPerConn)
	case o.perConn > 0 && o.proto == cli.ProtoRaw:
		return errors.New("--requests-per-conn applies to --proto echo and http only")
	case o.size < 1 || o.size > maxMsgSize:
		return fmt.Errorf("--size %d out of range [1, %d]", o.size, maxMsgSize)
	case rateErr("--rate", o.rate) != nil:
		return rateErr("--rate", o.rate)
	case rateErr("--ramp", o.ramp) != nil:
		return rateErr("--ramp", o.ramp)
	case o.loops < 0 || o.loops > 1024:
		return fmt.Errorf("--loops %d out of range [0, 1024]", o.loops)
	case o.connectTimeout <= 0:
		return errors.New("--connect-timeout must be positive")
	case !http1.ValidFieldName([]byte(o.method)): // a method is a token, like a field name
		return fmt.Errorf("--method %q is not a valid HTTP method", o.method)
	case !validTarget(o.path):
		return fmt.Errorf("--path %q: want printable ASCII without spaces, such as /index.html", o.path)
	}
	if err := o.checkDescriptors(); err != nil {
		return err
	}
	network := "tcp"
	if o.target != "" {
		var err error
		var address string
		if network, address, err = cli.SplitAddr(o.target); err != nil {
			return fmt.Errorf("--target %q: %v", o.target, err)
		}
		if network == "tcp" {
			if err := checkTargetPort(address); err != nil {
				return fmt.Errorf("--target %q: %v", o.target, err)
			}
		}
	}
	for _, s := range sources {
		ip, err := netip.ParseAddr(s)
		if err != nil {
			return fmt.Errorf("--source %q: want an IP address", s)
		}
		o.sources = append(o.sources, ip.Unmap())
	}
	if len(o.sources) > 0 && network == "unix" {
		return errors.New("--source applies to TCP targets only")
	}
	for _, h := range headers {
		name, value, err := parseHeaderFlag(h)
		if err != nil {
			return fmt.Errorf("-H %q: %v", h, err)
		}
		if strings.EqualFold(name, "host") {
			o.host = value
			continue
		}
		if strings.EqualFold(name, "connection") && o.perConn > 0 {
			return fmt.Errorf("-H %q: with --requests-per-conn bench sets Connection itself (close on the last request)", h)
		}
		o.headers = append(o.headers, http1.Header{Name: []byte(name), Value: []byte(value)})
	}
	return nil
}

// Rates (--rate, --ramp) are per second: 0 means "no schedule", and the
// others must be finite and within these bounds, so that the interval
// between two events of one connection is a sane duration.
const (
	minRate = 0.01
	maxRate = 1e9
)

// rateErr says what is wrong with a --rate or --ramp value, if anything.
func rateErr(flag string, v float64) error {
	switch {
	case math.IsNaN(v) || math.IsInf(v, 0):
		return fmt.Errorf("%s %v: want a finite number per second", flag, v)
	case v < 0:
		return fmt.Errorf("%s must not be negative", flag)
	case v != 0 && (v < minRate || v > maxRate):
		return fmt.Errorf("%s %v out of range: want 0 (off) or [%v, %v] per second", flag, v, minRate, maxRate)
	}
	return nil
}

// checkTargetPort checks a TCP target's port: a number in [1, 65535] or a
// service name the resolver knows.
func checkTargetPort(address string) error {
	_, port, _ := net.SplitHostPort(address)
	n, err := strconv.Atoi(port)
	if err != nil {
		if _, err := net.LookupPort("tcp", port); err != nil {
			return fmt.Errorf("unknown port %q", port)
		}
		return nil
	}
	if n < 1 || n > 65535 {
		return fmt.Errorf("port %d out of range [1, 65535]", n)
	}
	return nil
}

// fdSlack is the descriptors bench needs besides its connections: stdio,
// each loop's epoll and eventfd, the in-process server's listener, the
// resolver's sockets.
const fdSlack = 64

// checkDescriptors refuses a -c that RLIMIT_NOFILE (whose soft limit Go
// raises to the hard one at start-up) cannot hold, before any connection
// is opened: otherwise the run would fail midway with EMFILE. Without
// --target the in-process server holds a descriptor per connection too.
func (o *benchOptions) checkDescriptors() error {
	limit, ok := cli.OpenFileLimit()
	if !ok {
		return nil // nothing to check against; the run will say if it runs out
	}
	need := uint64(o.conns) + fdSlack
	if o.target == "" {
		need += uint64(o.conns)
	}
	if need > limit {
		return fmt.Errorf("-c %d needs about %d descriptors, more than RLIMIT_NOFILE (%d) allows; raise it (ulimit -n) or lower -c",
			o.conns, need, limit)
	}
	return nil
}

// hostOf returns the Host field for target: its host:port, or "localhost"
// for Unix sockets and the in-process server's unknown port.
func hostOf(target string) string {
	if network, address, err := cli.SplitAddr(target); err == nil && network == "tcp" && validHost(address) {
		return address
	}
	return "localhost"
}

// parseHeaderFlag parses -H "Name: value". The value loses surrounding
// whitespace. Fields the request writer owns (Content-Length,
// Transfer-Encoding) are refused: --body sets the length, and bench sends
// no chunked bodies. Whatever it accepts, http1.AppendRequest accepts.
func parseHeaderFlag(s string) (name, value string, err error) {
	name, value, ok := strings.Cut(s, ":")
	if !ok {
		return "", "", errors.New(`want "Name: value"`)
	}
	value = strings.Trim(value, " \t")
	switch {
	case !http1.ValidFieldName([]byte(name)):
		return "", "", fmt.Errorf("invalid field name %q", name)
	case !http1.ValidFieldValue([]byte(value)):
		return "", "", fmt.Errorf("invalid characters in the value of %s", name)
	case strings.EqualFold(name, "content-length"), strings.EqualFold(name, "transfer-encoding"):
		return "", "", fmt.Errorf("%s is set by bench (use --body)", name)
	case strings.EqualFold(name, "host") && !validHost(value):
		return "", "", fmt.Errorf("invalid Host %q", value)
	}
	return name, value, nil
}

// validTarget mirrors http1's request-target check: printable ASCII
// without SP (the URI characters RFC 9112 allows in a request-target).
func validTarget(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < 0x21 || s[i] > 0x7e {
			return false
		}
	}
	return s != ""
}

// validHost mirrors http1's Host check: the characters of uri-host and
// port (the URI authority of RFC 3986).
func validHost(s string) bool {
	for i := 0; i < len(s); i++ {
		c := s[i]
		alnum := 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9'
		if !alnum && !bytes.ContainsRune([]byte("-._~!$&'()*+,;=:[]%"), rune(c)) {
			return false
		}
	}
	return true
}

// benchLoops returns the client's loops and the in-process server's: with
// a server in the process the CPUs are split between the two.
func (o *benchOptions) benchLoops() (client, server int) {
	procs := runtime.GOMAXPROCS(0)
	server = max(procs/2, 1)
	client = o.loops
	if client == 0 {
		client = procs
		if o.target == "" {
			client = max(procs-server, 1)
		}
	}
	return client, server
}

// Usage prints the help of "epollnet bench".
func Usage(w io.Writer) {
	fmt.Fprint(w, strings.TrimLeft(`
Usage: epollnet bench [flags]

Loads a server with many connections on the epollnet engine's client side,
checks every reply, and reports throughput, latency percentiles (p50, p90,
p99, p99.9, max), connections opened per second, the connect-time
distribution, HTTP status codes and errors by class. Without --target it starts an echo server (http with
--proto http, discard with --proto raw) in-process on loopback and loads
that. A progress line goes to stderr every second.

Target and protocol:
  --target ADDR      HOST:PORT or unix:/path (default: in-process server)
  --proto P          echo (default): messages echoed back, compared byte by
                     byte; http: HTTP/1.1 requests, responses parsed;
                     raw: messages sent, nothing expected back
  --allow-remote     allow a target outside loopback (a server you own)
  --tls              speak TLS (1.2 or 1.3, Go's crypto/tls on the loop);
                     without --target the in-process server does too, with
                     a throwaway certificate bench trusts. New connections
                     resume sessions (tickets); the report counts full and
                     resumed handshakes, and the handshake's time apart
                     from connect time
  --insecure         with --tls: do not verify the server's certificate
  --sni NAME         with --tls: the server name to send and verify
                     (default: the target's host)
  --alpn LIST        with --tls: protocols to offer, comma-separated
                     (default: http/1.1 for --proto http, none otherwise)

Load:
  -c N               connections (default 50)
  --ramp R           open R connections per second at the start (default:
                     all at once)
  -d D               load for D (default 5s; with -n alone, at most 10m)
  -n N               stop after N responses
  --pipeline K       requests in flight per connection (default 1)
  --requests-per-conn N
                     close each connection after N responses and open a
                     new one (1: a connection per request, like ab without
                     -k); http sends Connection: close on the last request
                     (default 0: keep connections open)
  --rate R           R requests per second in total, on a fixed schedule;
                     latency counts from each request's scheduled time, so
                     a stalled server cannot hide it (no coordinated omission)
  --size B           echo and raw message size (default 64)
  --source IP        bind connections to IP (port chosen per destination);
                     repeatable: connections rotate over them, to go past
                     the 64k ports one source address has
  --loops N          client event loops (default: one per CPU, half when
                     the server runs in-process)
  --connect-timeout D
                     dial deadline (default 5s)

HTTP:
  --method M         request method (default GET)
  --path P           request target (default /)
  -H "Name: value"   request header; repeatable; "Host: x" replaces Host
  --body S           request body, sent with Content-Length

Output:
  --json             print the report as one JSON document (docs/cli.md)
  --quiet            no progress line
  --max-errors N     exit 1 when more than N errors occurred (default 0:
                     any failed connect, reset, timeout or bad reply fails)

Examples:
  epollnet bench
  epollnet bench --proto http -c 100 -d 10s --target 127.0.0.1:8080
  epollnet bench --proto http --pipeline 16 --target 127.0.0.1:8080
  epollnet bench --requests-per-conn 1 -c 100 --target 127.0.0.1:7000 \
      --source 127.0.0.2 --source 127.0.0.3
  epollnet bench --proto echo --rate 20000 -c 200 --target unix:/tmp/echo.sock
`, "\n"))
}

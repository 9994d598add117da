package serve

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/epollnet/epollnet/cmd/epollnet/internal/cli"
	"github.com/epollnet/epollnet/cmd/epollnet/internal/daemon"
)

// serveOptions is the parsed command line of "epollnet serve".
type serveOptions struct {
	proto           string        // --proto: echo, discard or http
	listen          []string      // --listen, repeatable: host:port or unix:/path
	loops           int           // --loops: event loops, 0 for one per CPU
	reusePort       bool          // --reuseport: one SO_REUSEPORT listener per loop
	maxConns        int           // --max-conns: the cap on open connections
	atCap           string        // --at-cap: capReset or capWait
	maxReadBuffer   int           // --max-read-buffer: unconsumed input per connection
	maxWriteBuffer  int           // --max-write-buffer: pending output per connection
	idleTimeout     time.Duration // --idle-timeout: close after this long without traffic
	headerTimeout   time.Duration // --header-timeout: http: a request must arrive within it
	maxHeaderBytes  int           // --max-header-bytes: http: request head limit (431)
	maxBodyBytes    int           // --max-body-bytes: http: request body limit (413)
	shutdownTimeout time.Duration // --shutdown-timeout: graceful shutdown bound
	statusInterval  time.Duration // --status-interval: period of the status line
	quiet           bool          // --quiet: no status line
	deployOptions
}

// defaultServeOptions are the defaults the usage text states. maxConns 0
// means "derive from RLIMIT_NOFILE" (defaultMaxConns).
func defaultServeOptions() serveOptions {
	return serveOptions{
		proto:           cli.ProtoEcho,
		atCap:           capReset,
		maxReadBuffer:   512 << 10,
		maxWriteBuffer:  4 << 20,
		idleTimeout:     60 * time.Second,
		headerTimeout:   10 * time.Second,
		maxHeaderBytes:  8 << 10,
		maxBodyBytes:    64 << 10,
		shutdownTimeout: 5 * time.Second,
		statusInterval:  5 * time.Second,
		deployOptions:   deployOptions{logLevel: "warn"},
	}
}

// defaultListen is where serve listens without --listen, unless systemd
// passed it sockets.
const defaultListen = "127.0.0.1:8080"

// What --at-cap does with a connection beyond --max-conns.
const (
	capReset = "reset" // accept it and reset it at once: the client knows
	capWait  = "wait"  // leave it in the accept queue until one closes
)

// parseServe parses serve's flags. It returns flag.ErrHelp for -h, and
// cli.ErrUsage, after printing why, for a bad command line.
func parseServe(args []string, stdout, stderr io.Writer) (serveOptions, error) {
	o := defaultServeOptions()
	fs := cli.NewFlagSet("serve")
	var listen, trusted cli.StringList
	fs.StringVar(&o.proto, "proto", o.proto, "")
	fs.Var(&listen, "listen", "")
	fs.IntVar(&o.loops, "loops", 0, "")
	fs.BoolVar(&o.reusePort, "reuseport", false, "")
	fs.IntVar(&o.maxConns, "max-conns", 0, "")
	fs.StringVar(&o.atCap, "at-cap", o.atCap, "")
	fs.IntVar(&o.maxReadBuffer, "max-read-buffer", o.maxReadBuffer, "")
	fs.IntVar(&o.maxWriteBuffer, "max-write-buffer", o.maxWriteBuffer, "")
	fs.DurationVar(&o.idleTimeout, "idle-timeout", o.idleTimeout, "")
	fs.DurationVar(&o.headerTimeout, "header-timeout", o.headerTimeout, "")
	fs.IntVar(&o.maxHeaderBytes, "max-header-bytes", o.maxHeaderBytes, "")
	fs.IntVar(&o.maxBodyBytes, "max-body-bytes", o.maxBodyBytes, "")
	fs.DurationVar(&o.shutdownTimeout, "shutdown-timeout", o.shutdownTimeout, "")
	fs.DurationVar(&o.statusInterval, "status-interval", o.statusInterval, "")
	fs.BoolVar(&o.quiet, "quiet", false, "")
	fs.StringVar(&o.metrics, "metrics", "", "")
	fs.StringVar(&o.logLevel, "log-level", o.logLevel, "")
	fs.BoolVar(&o.proxyProtocol, "proxy-protocol", false, "")
	fs.Var(&trusted, "trusted", "")
	fs.StringVar(&o.pidFile, "pid-file", "", "")
	fs.StringVar(&o.tlsCert, "tls-cert", "", "")
	fs.StringVar(&o.tlsKey, "tls-key", "", "")
	if err := cli.Parse(fs, args, Usage, stdout, stderr); err != nil {
		return o, err
	}
	o.listen = listen
	var err error
	o.trusted, err = daemon.ParseTrusted(trusted)
	if err == nil {
		err = o.validate(fs)
	}
	if err == nil {
		err = o.validateDeploy()
	}
	if err != nil {
		return o, cli.Usagef(fs, stderr, "%v", err)
	}
	return o, nil
}

// validate checks ranges and combinations the flag package cannot.
func (o *serveOptions) validate(fs *flag.FlagSet) error {
	if fs.NArg() > 0 {
		return fmt.Errorf("unexpected argument %q (serve takes flags only)", fs.Arg(0))
	}
	switch o.proto {
	case cli.ProtoEcho, cli.ProtoDiscard, cli.ProtoHTTP:
	default:
		return fmt.Errorf("unknown --proto %q: want echo, discard or http", o.proto)
	}
	for _, a := range o.listen {
		network, _, err := cli.SplitAddr(a)
		if err != nil {
			return fmt.Errorf("--listen %q: %v", a, err)
		}
		if network == "unix" && o.reusePort {
			return errors.New("--reuseport applies to TCP listeners only")
		}
	}
	switch {
	case o.loops < 0 || o.loops > 1024:
		return fmt.Errorf("--loops %d out of range [0, 1024]", o.loops)
	case o.maxConns < 0:
		return errors.New("--max-conns must not be negative")
	case o.atCap != capReset && o.atCap != capWait:
		return fmt.Errorf("--at-cap %q: want reset or wait", o.atCap)
	case o.maxReadBuffer < minReadBuffer:
		return fmt.Errorf("--max-read-buffer must be at least %d", minReadBuffer)
	case o.maxWriteBuffer < minWriteBuffer:
		return fmt.Errorf("--max-write-buffer must be at least %d", minWriteBuffer)
	case o.idleTimeout < 0 || o.headerTimeout < 0:
		return errors.New("timeouts must not be negative (0 disables)")
	case o.shutdownTimeout <= 0 || o.statusInterval <= 0:
		return errors.New("--shutdown-timeout and --status-interval must be positive")
	case o.maxHeaderBytes < 256 || o.maxBodyBytes < 0:
		return errors.New("--max-header-bytes must be at least 256 and --max-body-bytes not negative")
	}
	// A request is parsed whole from the connection's unconsumed input, so
	// the read cap must hold the largest acceptable one, chunked framing
	// included (at most twice the data plus 16 KiB, see internal/http1),
	// and the reads that may follow while reading pauses (see flow):
	// otherwise the engine would close the connection where the parser
	// would have answered 413.
	need := o.maxHeaderBytes + 3*o.maxBodyBytes + 16<<10 + pauseSlack
	if o.proto == cli.ProtoHTTP && o.maxReadBuffer < need {
		return fmt.Errorf("--max-read-buffer %d cannot hold a request of --max-header-bytes %d and --max-body-bytes %d: want at least %d",
			o.maxReadBuffer, o.maxHeaderBytes, o.maxBodyBytes, need)
	}
	return nil
}

// Buffer sizing. The engine reads serveReadSize at a time, and up to
// pauseSlack more after a handler asked it to pause (see flow). Output
// pauses at a quarter of the write cap; the cap must also hold the output
// of one read, which for HTTP is up to six times its size (minimal
// pipelined requests), hence minWriteBuffer.
const (
	serveReadSize  = 64 << 10
	pauseSlack     = 3 * serveReadSize
	minReadBuffer  = pauseSlack + serveReadSize
	minWriteBuffer = 512 << 10
)

// defaultMaxConns derives the connection cap from RLIMIT_NOFILE (whose soft
// limit Go raises to the hard one at start-up), keeping descriptors for the
// engine (an epoll and an eventfd per loop), the listeners, stdio, and the
// connections accepted beyond the cap only to be reset: without that slack
// accept4 would fail with EMFILE and the refused connection would wait in
// the backlog instead of being told.
func defaultMaxConns(loops, listeners int) int {
	limit, ok := cli.OpenFileLimit()
	if !ok || limit > 1<<30 {
		return 1 << 20 // unknown or unlimited: the engine's own limits apply
	}
	reserve := 3 + 2*loops + listeners*loops + 64
	return max(int(limit)-reserve, 1)
}

// Usage prints the help of "epollnet serve".
func Usage(w io.Writer) {
	fmt.Fprint(w, strings.TrimLeft(`
Usage: epollnet serve [flags]

Serves echo, discard or HTTP/1.1 on the epollnet engine until SIGINT or
SIGTERM, then shuts down gracefully. A status line goes to stderr every
few seconds: open connections, requests (http) or reads (echo, discard)
per second, and bytes in and out.

Started by systemd socket activation (LISTEN_FDS), it serves the sockets
systemd passed, and --listen adds more. SIGHUP (or SIGUSR2) starts a new
copy of the program that inherits the listening sockets; once it is
ready, this one stops accepting and drains: no connection is refused or
reset meanwhile.

Flags:
  --proto P            echo (default), discard, or http: an HTTP/1.1
                       server answering every request with a 13-byte
                       "Hello, World!", keep-alive and pipelining
  --listen ADDR        HOST:PORT or unix:/path; repeatable
                       (default 127.0.0.1:8080, none when systemd passed
                       sockets)
  --loops N            event loops (default: one per usable CPU)
  --reuseport          one SO_REUSEPORT listener per loop instead of one
                       shared listener

Limits:
  --max-conns N        the cap on open connections (default: RLIMIT_NOFILE
                       minus a reserve)
  --at-cap reset|wait  beyond the cap: reset, accept a connection and reset
                       it at once, counted as refused (default); wait, stop
                       accepting, so new clients wait in the kernel's accept
                       queue until a connection closes (each of N listening
                       sockets then holds at most max-conns/N)
  --max-read-buffer B  unconsumed input per connection (default 524288)
  --max-write-buffer B pending output per connection (default 4194304);
                       past a quarter of it, a client that does not read
                       its replies is not read from until it does
  --idle-timeout D     close a connection idle this long (default 1m0s;
                       0 disables)
  --header-timeout D   http: a request must arrive whole within D of its
                       first byte, or of the connection opening; else 408
                       and close (default 10s; 0 disables)
  --max-header-bytes B http: request head limit, 431 beyond (default 8192)
  --max-body-bytes B   http: request body limit, 413 beyond (default 65536)

Deployment:
  --proxy-protocol     every connection starts with a PROXY protocol
                       header (v1 or v2, as HAProxy's send-proxy and
                       nginx's proxy_protocol send it) giving the client's
                       address; a connection without one is reset
  --trusted CIDR       a proxy allowed to send the header: a prefix or an
                       address, repeatable or comma-separated; required
                       with --proxy-protocol on TCP; others are reset
  --metrics ADDR       serve Prometheus metrics at http://ADDR/metrics, on
                       a listener of its own (default: none)
  --log-level L        debug, info, warn (default), error or off: engine
                       events to stderr, such as a listener paused because
                       accept4 ran out of descriptors (EMFILE)
  --pid-file PATH      write the pid to PATH once ready, for systemd's
                       PIDFile= (a restart changes the main process)
  --tls-cert FILE      serve TLS (1.2 and 1.3) with this PEM certificate
                       chain, for every --proto; http announces http/1.1
                       with ALPN; read at start, so a restart (SIGHUP)
                       picks up a renewed certificate
  --tls-key FILE       the certificate's PEM private key

Output and shutdown:
  --status-interval D  period of the status line (default 5s)
  --quiet              no status line
  --shutdown-timeout D how long shutdown waits for connections to finish
                       and close before resetting them (default 5s); http
                       connections finish their request and are closed
                       after its response (Connection: close)

Examples:
  epollnet serve --proto http --listen 127.0.0.1:8080
  epollnet serve --proto http --metrics 127.0.0.1:9100 --pid-file /run/epollnet.pid
  epollnet serve --proto http --proxy-protocol --trusted 10.0.0.5
  epollnet serve --proto http --tls-cert cert.pem --tls-key key.pem
  epollnet serve --proto echo --listen unix:/tmp/echo.sock --loops 1
  epollnet bench --proto http --target 127.0.0.1:8080 -c 100 -d 10s
`, "\n"))
}

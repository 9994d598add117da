// Command tlschurn is the HTTPS connection-churn client of the comparison
// suite (see benchmarks/README.md): -c goroutines, each in a loop of
// connect, TLS 1.3 handshake, one "GET /" with "Connection: close", its
// response read and checked (200 and the 13-byte body), Close (a
// close_notify, then the socket's close). Without -resume every handshake is
// a full one: the client keeps no session. With -resume the goroutines
// share one session cache, so that every connection after the first resumes
// with the last ticket the server sent (TLS 1.3 PSK with a fresh key
// exchange, what Go's client offers). It speaks loadgen's churn protocol:
// "start" after -w seconds, "result ..." after -d more (msgs= and rate=
// count requests answered in the window, full= and resumed= the
// handshakes behind them) as the window closes, then, once the
// connections under way have finished, "verify ok" or "verify FAILED".
//
//	tlschurn -a 127.0.0.1:7443 -c 100 -d 5 [-w 1] [-b 8] [-resume]
//
// The client offers one key exchange, X25519 (-groups), which every server
// of the suite supports, so that each negotiates the same; it verifies no
// certificate (the suite's is self-signed) but checks the server's
// signature, as every TLS client does. -b K binds the connections to
// 127.0.0.2 … 127.0.0.(1+K) as dialchurn does. Every connection has a 5 s
// deadline and the run ends by itself.
package main

import (
	"bufio"
	"crypto/tls"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/netip"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/epollnet/epollnet/benchmarks/internal/sockopt"
)

// Phases of the run: the counters count completions in window only.
const (
	warming int32 = iota
	window
	draining
)

// slot is one goroutine's counts, padded so that goroutines on other CPUs
// never share a cache line.
type slot struct {
	inWindow, resumed uint64
	_                 [48]byte
}

type run struct {
	addr    string
	cfg     *tls.Config
	sources []netip.Addr
	phase   atomic.Int32
	seq     atomic.Uint64
	errs    atomic.Int64
	noport  atomic.Int64
	slots   []slot
	req     []byte

	mu       sync.Mutex
	firstErr []string
	state    atomic.Pointer[tls.ConnectionState] // the first handshake's
}

const request = "GET / HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n"

func main() { os.Exit(mainErr(os.Args[1:], os.Stdout, os.Stderr)) }

func mainErr(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("tlschurn", flag.ContinueOnError)
	fs.SetOutput(stderr)
	addr := fs.String("a", "127.0.0.1:7443", "HTTPS server (loopback)")
	conns := fs.Int("c", 100, "connections at a time")
	dur := fs.Float64("d", 5, "measured seconds")
	warm := fs.Float64("w", 1, "warm-up seconds")
	nsrc := fs.Int("b", 0, "source addresses 127.0.0.2 and up; 0: the kernel picks")
	resume := fs.Bool("resume", false, "share a session cache: resume every handshake after the first")
	groups := fs.String("groups", "x25519", "key exchanges to offer: x25519, p256, or both comma-separated")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	ap, err := netip.ParseAddrPort(*addr)
	curves, cerr := parseGroups(*groups)
	if err != nil || cerr != nil || !ap.Addr().IsLoopback() || *conns < 1 || *conns > 100_000 ||
		*dur <= 0 || *dur > 3600 || *warm < 0 || *warm > 60 || *nsrc < 0 || *nsrc > 200 {
		fmt.Fprintln(stderr, "tlschurn: need a loopback -a, 1 ≤ -c ≤ 100000, 0 < -d ≤ 3600, 0 ≤ -w ≤ 60, "+
			"0 ≤ -b ≤ 200, -groups of x25519 and p256")
		return 2
	}
	cfg := &tls.Config{InsecureSkipVerify: true, MinVersion: tls.VersionTLS13, CurvePreferences: curves}
	if *resume {
		cfg.ClientSessionCache = tls.NewLRUClientSessionCache(64)
	}
	r := &run{addr: *addr, cfg: cfg, slots: make([]slot, *conns), req: []byte(request)}
	for i := 0; i < *nsrc; i++ {
		r.sources = append(r.sources, netip.AddrFrom4([4]byte{127, 0, 0, byte(2 + i)}))
	}
	var wg sync.WaitGroup
	for i := range r.slots {
		wg.Add(1)
		go func() { defer wg.Done(); r.loop(&r.slots[i]) }()
	}
	time.Sleep(time.Duration(*warm * float64(time.Second)))
	r.phase.Store(window)
	fmt.Fprintln(stdout, "start")
	start := time.Now()
	time.Sleep(time.Duration(*dur * float64(time.Second)))
	r.phase.Store(draining)
	secs := time.Since(start).Seconds()
	var total, resumed, lo, hi uint64 = 0, 0, ^uint64(0), 0
	for i := range r.slots {
		n := atomic.LoadUint64(&r.slots[i].inWindow)
		total += n
		resumed += atomic.LoadUint64(&r.slots[i].resumed)
		lo, hi = min(lo, n), max(hi, n)
	}
	// The result comes as the window closes, before the connections under
	// way finish, so that the runner reads the CPU times at the window's
	// end, while this process still runs.
	fmt.Fprintf(stdout, "result tlschurn conns=%d secs=%.3f msgs=%d rate=%.1f min_conn=%d max_conn=%d "+
		"full=%d resumed=%d errors=%d noport=%d %s\n",
		*conns, secs, total, float64(total)/secs, lo, hi, total-resumed, resumed, r.errs.Load(), r.noport.Load(),
		describe(r.state.Load()))
	wg.Wait() // each goroutine finishes its connection, within its deadline
	for _, e := range r.firstErr {
		fmt.Fprintln(stderr, "tlschurn:", e)
	}
	if r.errs.Load() > 0 {
		fmt.Fprintf(stdout, "verify FAILED errors=%d\n", r.errs.Load())
		return 1
	}
	fmt.Fprintf(stdout, "verify ok conns=%d\n", *conns)
	return 0
}

func parseGroups(list string) ([]tls.CurveID, error) {
	var ids []tls.CurveID
	for _, g := range strings.Split(list, ",") {
		switch strings.ToLower(strings.TrimSpace(g)) {
		case "x25519":
			ids = append(ids, tls.X25519)
		case "p256", "p-256":
			ids = append(ids, tls.CurveP256)
		default:
			return nil, fmt.Errorf("unknown group %q", g)
		}
	}
	return ids, nil
}

// describe is what the first handshake negotiated, as key=value fields.
func describe(st *tls.ConnectionState) string {
	if st == nil {
		return "version=none"
	}
	return fmt.Sprintf("version=%s suite=%s group=%s", strings.ReplaceAll(tls.VersionName(st.Version), " ", ""),
		tls.CipherSuiteName(st.CipherSuite), st.CurveID)
}

// loop opens one connection after another until the window ends. A failed
// connection waits a millisecond, so a refusing server is not hammered.
func (r *run) loop(s *slot) {
	br := bufio.NewReaderSize(nil, 4096)
	for r.phase.Load() != draining {
		didResume, err := r.once(br)
		if err != nil {
			r.fail(err)
			time.Sleep(time.Millisecond)
			continue
		}
		if r.phase.Load() == window {
			atomic.AddUint64(&s.inWindow, 1)
			if didResume {
				atomic.AddUint64(&s.resumed, 1)
			}
		}
	}
}

// once is one connection's life: dial, handshake, request, response, close.
func (r *run) once(br *bufio.Reader) (didResume bool, err error) {
	d := net.Dialer{Timeout: 5 * time.Second}
	if len(r.sources) > 0 {
		src := r.sources[r.seq.Add(1)%uint64(len(r.sources))]
		d.LocalAddr = net.TCPAddrFromAddrPort(netip.AddrPortFrom(src, 0))
		d.Control = sockopt.BindAddressNoPort
	}
	raw, err := d.Dial("tcp", r.addr)
	if err != nil {
		return false, err
	}
	c := tls.Client(raw, r.cfg)
	defer c.Close()
	c.SetDeadline(time.Now().Add(5 * time.Second))
	if err := c.Handshake(); err != nil {
		return false, err
	}
	if _, err := c.Write(r.req); err != nil {
		return false, err
	}
	br.Reset(c)
	resp, err := http.ReadResponse(br, nil)
	if err != nil {
		return false, err
	}
	body, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	if err != nil {
		return false, err
	}
	if resp.StatusCode != 200 || string(body) != "Hello, World!" {
		return false, fmt.Errorf("got %d, %q", resp.StatusCode, body)
	}
	st := c.ConnectionState()
	r.state.CompareAndSwap(nil, &st)
	return st.DidResume, nil
}

func (r *run) fail(err error) {
	r.errs.Add(1)
	if errors.Is(err, syscall.EADDRNOTAVAIL) {
		r.noport.Add(1)
	}
	r.mu.Lock()
	if len(r.firstErr) < 5 {
		r.firstErr = append(r.firstErr, err.Error())
	}
	r.mu.Unlock()
}

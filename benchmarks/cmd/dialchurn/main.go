// Command dialchurn is the Go net.Dial client of the comparison suite's
// client-side churn scenario (see benchmarks/README.md): -c goroutines,
// each in a loop of net.Dialer.Dial, one -s byte message written, its echo
// read and compared, Close. It speaks loadgen's churn protocol: "start"
// after -w seconds, "result churn ..." after -d more (msgs= and rate=
// count connections completed in the window), then, once the connections
// under way have finished, "verify ok" or "verify FAILED".
//
//	dialchurn -a 127.0.0.1:7000 -c 100 -s 64 -d 5 [-w 1] [-b 8]
//
// -b K binds the i-th connection to 127.0.0.(2 + i%K) with
// IP_BIND_ADDRESS_NO_PORT, as loadgen -b and epollnet's DialConfig.LocalAddr
// do: the port is chosen at connect time, per destination, so each source
// address brings its own ephemeral port range. Every connection has a 5 s
// deadline and the run ends by itself.
package main

import (
	"bytes"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/netip"
	"os"
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
	inWindow uint64
	_        [56]byte
}

type run struct {
	addr    string
	size    int
	sources []netip.Addr
	phase   atomic.Int32
	seq     atomic.Uint64
	errs    atomic.Int64
	noport  atomic.Int64
	slots   []slot
	msg     []byte

	mu       sync.Mutex
	firstErr []string
}

func main() { os.Exit(mainErr(os.Args[1:], os.Stdout, os.Stderr)) }

func mainErr(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("dialchurn", flag.ContinueOnError)
	fs.SetOutput(stderr)
	addr := fs.String("a", "127.0.0.1:7000", "echo server (loopback)")
	conns := fs.Int("c", 100, "connections at a time")
	size := fs.Int("s", 64, "message size")
	dur := fs.Float64("d", 5, "measured seconds")
	warm := fs.Float64("w", 1, "warm-up seconds")
	nsrc := fs.Int("b", 0, "source addresses 127.0.0.2 and up; 0: the kernel picks")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	ap, err := netip.ParseAddrPort(*addr)
	if err != nil || !ap.Addr().IsLoopback() || *conns < 1 || *conns > 100_000 || *size < 1 || *size > 1<<20 ||
		*dur <= 0 || *dur > 3600 || *warm < 0 || *warm > 60 || *nsrc < 0 || *nsrc > 200 {
		fmt.Fprintln(stderr, "dialchurn: need a loopback -a, 1 ≤ -c ≤ 100000, 1 ≤ -s ≤ 1 MiB, 0 < -d ≤ 3600, 0 ≤ -w ≤ 60, 0 ≤ -b ≤ 200")
		return 2
	}
	r := &run{addr: *addr, size: *size, slots: make([]slot, *conns), msg: make([]byte, *size)}
	for i := range r.msg {
		r.msg[i] = byte('a' + i%26)
	}
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
	wg.Wait() // each goroutine finishes its connection, within its deadline
	var total, lo, hi uint64 = 0, ^uint64(0), 0
	for i := range r.slots {
		n := atomic.LoadUint64(&r.slots[i].inWindow)
		total += n
		lo, hi = min(lo, n), max(hi, n)
	}
	fmt.Fprintf(stdout, "result churn conns=%d size=%d secs=%.3f msgs=%d rate=%.1f min_conn=%d max_conn=%d errors=%d noport=%d\n",
		*conns, *size, secs, total, float64(total)/secs, lo, hi, r.errs.Load(), r.noport.Load())
	for _, e := range r.firstErr {
		fmt.Fprintln(stderr, "dialchurn:", e)
	}
	if r.errs.Load() > 0 {
		fmt.Fprintf(stdout, "verify FAILED errors=%d missing_echo=0\n", r.errs.Load())
		return 1
	}
	fmt.Fprintf(stdout, "verify ok conns=%d\n", *conns)
	return 0
}

// loop opens one connection after another until the window ends. A failed
// connection waits a millisecond, so a refusing server is not hammered.
func (r *run) loop(s *slot) {
	buf := make([]byte, r.size)
	for r.phase.Load() != draining {
		if err := r.once(buf); err != nil {
			r.fail(err)
			time.Sleep(time.Millisecond)
			continue
		}
		if r.phase.Load() == window {
			atomic.AddUint64(&s.inWindow, 1)
		}
	}
}

// once is one connection's life: dial, write, read the echo, close.
func (r *run) once(buf []byte) error {
	d := net.Dialer{Timeout: 5 * time.Second}
	if len(r.sources) > 0 {
		src := r.sources[r.seq.Add(1)%uint64(len(r.sources))]
		d.LocalAddr = net.TCPAddrFromAddrPort(netip.AddrPortFrom(src, 0))
		d.Control = sockopt.BindAddressNoPort
	}
	c, err := d.Dial("tcp", r.addr)
	if err != nil {
		return err
	}
	defer c.Close() // first, with nothing unread: a FIN, and TIME_WAIT here
	c.SetDeadline(time.Now().Add(5 * time.Second))
	if _, err := c.Write(r.msg); err != nil {
		return err
	}
	if _, err := io.ReadFull(c, buf); err != nil {
		return err
	}
	if !bytes.Equal(buf, r.msg) {
		return errors.New("echoed bytes differ from those sent")
	}
	return nil
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

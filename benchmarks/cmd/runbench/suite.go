package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// suite runs the selected scenarios and returns their tables.
func suite(ctx context.Context, o *options, w io.Writer) []*table {
	var tables []*table
	checked := map[string]checkResult{} // proto/impl -> its check
	port := o.port
	nextAddr := func() string {
		for i := 0; i < 2000; i++ {
			if port++; port >= o.port+2000 {
				port = o.port
			}
			if portUnused(port) {
				break
			}
		}
		return "127.0.0.1:" + strconv.Itoa(port)
	}
	for _, sc := range scenarios {
		if o.scenarios != nil && !o.scenarios[sc.name] {
			continue
		}
		t := &table{sc: sc, corun: o.corun}
		tables = append(tables, t)
		for _, im := range sc.impls() {
			if (o.impls == nil || o.impls[im.name]) && !(o.corun && im.name == sc.reference().name) {
				t.rows = append(t.rows, &result{im: im, skip: missing(im.name)})
			}
		}
		so, done := o, func() {}
		_, wrkErr := exec.LookPath("wrk")
		switch {
		case (sc.kind == httpLoad || sc.kind == httpsLoad) && wrkErr != nil:
			t.skip = "wrk not found (Debian: apt-get install wrk)"
		case sc.kind == idleConns && o.corun:
			t.skip = "same-window runs compare CPU per op under load; run the idle scenarios without -corun"
		case sc.kind == idleConns:
			t.skip = idleFeasible(o, sc.conns)
		case sc.scale != split:
			so, done, t.skip = scaleOptions(o, sc)
		}
		if t.skip != "" {
			fmt.Fprintf(w, "%s: skipped: %s\n", sc.name, t.skip)
			continue
		}
		runTable(ctx, so, t, checked, nextAddr, w)
		done()
	}
	return tables
}

// runTable checks the servers of t's scenario and runs its rounds.
func runTable(ctx context.Context, o *options, t *table, checked map[string]checkResult, nextAddr func() string, w io.Writer) {
	sc := t.sc
	if sc.isProxy() {
		proxyRounds(ctx, o, t, checked, nextAddr, w)
		return
	}
	if o.check {
		checkServers(o, t, checked, nextAddr, w)
	}
	if o.corun {
		corunRounds(ctx, o, t, nextAddr, w)
		return
	}
	for round := 1; round <= o.rounds && ctx.Err() == nil; round++ {
		for _, r := range t.rows {
			if ctx.Err() != nil {
				break
			}
			if r.skip != "" {
				continue
			}
			s, err := runOnce(ctx, o, sc, r.im, nextAddr())
			if err != nil {
				r.fails = append(r.fails, err.Error())
				fmt.Fprintf(w, "[%s %d/%d] %-10s FAILED: %v\n", sc.name, round, o.rounds, rowName(r.im), err)
				continue
			}
			s.round = round
			r.samples = append(r.samples, s)
			fmt.Fprintf(w, "[%s %d/%d] %-10s %s\n", sc.name, round, o.rounds, rowName(r.im), progress(sc, s))
		}
	}
}

// runOnce starts the server, runs one measurement and stops the server.
// im is the server, or the client in churnClient scenarios.
func runOnce(ctx context.Context, o *options, sc scenario, im impl, addr string) (sample, error) {
	srv, err := startServer(o, sc.server(im), sc.proto(), addr)
	if err != nil {
		return sample{}, err
	}
	defer srv.stop()
	before := readNetCounters()
	s, err := runLoad(ctx, o, sc, im, addr, srv)
	s.net = readNetCounters().sub(before)
	if s.net.drops > 0 {
		s.problem = strings.TrimSpace(fmt.Sprintf("%s loopback dropped %d packets (netdev_max_backlog), "+
			"%d TCP retransmits: the run waited on retransmit timers", s.problem, s.net.drops, s.net.retrans))
	}
	if dead, why := srv.exited(); dead {
		return s, fmt.Errorf("server exited during the run: %s", why)
	}
	return s, err
}

// checkResult is one implementation's behaviour check: its failure or "",
// and for HTTPS what the handshake negotiated.
type checkResult struct{ failure, tls string }

// checkServers checks each implementation's behaviour once per protocol;
// a failure is reported with the scenario but the runs go on.
func checkServers(o *options, t *table, checked map[string]checkResult, nextAddr func() string, w io.Writer) {
	for _, r := range t.rows {
		if r.skip != "" {
			fmt.Fprintf(w, "%s: %s not run: %s\n", t.sc.name, r.im.name, r.skip)
			continue
		}
		im := t.sc.server(r.im)
		key := fmt.Sprintf("%s/%s", t.sc.proto(), im.name)
		if im.loops > 1 {
			key += fmt.Sprintf("/%d loops, one listener %v", im.loops, im.oneListener)
		}
		c, done := checked[key]
		if !done {
			c = checkOne(o, im, t.sc.proto(), nextAddr())
			checked[key] = c
			status := "ok"
			if c.failure != "" {
				status = "FAILED: " + c.failure
			}
			if c.tls != "" {
				status += " (" + c.tls + ")"
			}
			fmt.Fprintf(w, "check %-14s %s\n", key, status)
		}
		r.tls = c.tls
		if c.failure != "" {
			r.fails = append(r.fails, "behaviour check: "+c.failure)
		}
	}
}

func checkOne(o *options, im impl, proto, addr string) checkResult {
	srv, err := startServer(o, im, proto, addr)
	if err != nil {
		return checkResult{failure: err.Error()}
	}
	defer srv.stop()
	var c checkResult
	switch proto {
	case "https":
		c.tls, err = checkHTTPS(o, addr)
	case "http":
		err = checkHTTP(addr)
	default:
		err = checkEcho(addr)
	}
	if err != nil {
		c.failure = err.Error()
	}
	return c
}

// idleFeasible returns why n idle connections cannot be opened here, or "".
// The server and the load generator each need n descriptors: the runner
// raises RLIMIT_NOFILE (inherited by both) if the hard limit allows or if
// it may raise the hard limit (root); and each source address has one
// ephemeral port range.
func idleFeasible(o *options, n int) string {
	need := uint64(n) + 256
	var rl syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &rl); err != nil {
		return err.Error()
	}
	if rl.Cur < need {
		want := syscall.Rlimit{Cur: need, Max: max(rl.Max, need)}
		if err := syscall.Setrlimit(syscall.RLIMIT_NOFILE, &want); err != nil {
			return fmt.Sprintf("the server and the load generator each need %d descriptors, "+
				"but RLIMIT_NOFILE's hard limit is %d and raising it failed (%v)", need, rl.Max, err)
		}
	}
	if lo, hi, err := portRange(); err == nil && n > o.sources*(hi-lo+1) {
		return fmt.Sprintf("%d source addresses × %d ephemeral ports hold fewer than %d connections; raise -sources",
			o.sources, hi-lo+1, n)
	}
	return ""
}

// portUnused reports whether 127.0.0.1:port can be bound without
// SO_REUSEADDR, that is, no socket holds it, not even in TIME_WAIT: a
// server that does not set SO_REUSEADDR itself (gnet) could not bind a port
// whose previous server's connections linger in TIME_WAIT.
func portUnused(port int) bool {
	fd, err := syscall.Socket(syscall.AF_INET, syscall.SOCK_STREAM|syscall.SOCK_CLOEXEC, 0)
	if err != nil {
		return false
	}
	defer syscall.Close(fd)
	return syscall.Bind(fd, &syscall.SockaddrInet4{Port: port, Addr: [4]byte{127, 0, 0, 1}}) == nil
}

func portRange() (lo, hi int, err error) {
	b, err := os.ReadFile(filepath.Join("/proc/sys/net/ipv4/ip_local_port_range"))
	if err != nil {
		return 0, 0, err
	}
	f := strings.Fields(string(b))
	if len(f) != 2 {
		return 0, 0, fmt.Errorf("bad ip_local_port_range %q", b)
	}
	lo, err1 := strconv.Atoi(f[0])
	hi, err2 := strconv.Atoi(f[1])
	if err1 != nil || err2 != nil {
		return 0, 0, fmt.Errorf("bad ip_local_port_range %q", b)
	}
	return lo, hi, nil
}

// progress is one run's line on the terminal.
func progress(sc scenario, s sample) string {
	p := ""
	if s.problem != "" {
		p = "  PROBLEM: " + s.problem
	}
	if sc.kind == idleConns {
		return fmt.Sprintf("%s B/conn RSS growth, %.1f ms/s idle CPU, ready in %.2fs%s",
			thousands(rssPer(s)), idleCPUms(s), s.readySecs, p)
	}
	if sc.kind == churnServer || sc.kind == churnClient {
		p = fmt.Sprintf("  TIME_WAIT at start %s%s", thousands(float64(s.timeWait)), p)
	}
	return fmt.Sprintf("%12s %s  %6.2f µs CPU/op  server %3.0f%%  client %3.0f%%%s",
		thousands(s.rate), sc.unit(), s.cpuPerOp(), s.srvCPU(), s.cliPct(), p)
}

// writeReport writes the Markdown report and prints it.
func writeReport(o *options, m machine, start time.Time, tables []*table, w io.Writer) error {
	var b strings.Builder
	kind := "full run"
	if o.quick {
		kind = "QUICK SMOKE RUN: 1 round of 1 s, numbers are noise, not results"
	}
	fmt.Fprintf(&b, "# epollnet comparison suite, %s\n\n", start.Format("2006-01-02 15:04 MST"))
	fmt.Fprintf(&b, "%s. Each run: %s measured after %s warm-up, %d interleaved round(s); idle window %s.\n",
		kind, o.dur, o.warm, o.rounds, o.idle)
	fmt.Fprintf(&b, "Server on CPU %s (GOMAXPROCS=%d, %d event loop(s)), load generator on CPU %s. "+
		"Loopback only.\n\n", o.serverCPU, o.procs, o.loops, o.clientCPU)
	if o.quota > 0 {
		fmt.Fprintf(&b, "SERVERS HELD TO %d%% OF ONE CPU (-server-quota: a cgroup CFS quota, %d µs per %d µs), "+
			"so that the server, not the load generator, is the bottleneck: throughput is each server's "+
			"capacity at that CPU budget.\n\n", o.quota, quotaPeriodUs*o.quota/100, quotaPeriodUs)
	}
	fmt.Fprintf(&b, "Machine: %s CPUs, %s, Linux %s, net.core.netdev_max_backlog %s. "+
		"Load average at start %s, at end %s.\n\n", m.cpus, m.model, m.kernel, m.backlog, m.loadStart, m.loadEnd)
	fmt.Fprintln(&b, "| component | version |\n|---|---|")
	for _, v := range m.versions {
		fmt.Fprintf(&b, "| %s | %s |\n", v[0], v[1])
	}
	legend := "Medians over the rounds; min–max is the spread of the rounds. \"vs C\" divides by the C " +
		"reference's median: above 1.00× is faster for throughput, and costlier for CPU and memory. " +
		"\"paired\" is the median, over the rounds, of the ratio to the C run of the same round: runs of one " +
		"round are minutes apart at most, so it cancels much of a shared machine's drift."
	if o.corun {
		legend = "SAME-WINDOW RUNS (-corun): each implementation ran at the same time as the scenario's reference " +
			"(the C server; Go's net/http over crypto/tls in the TLS scenarios), both servers on the server CPU, " +
			"each with its own load generator on the client CPU, so that both measured windows saw the same " +
			"machine. The ratio is the implementation's server CPU time per op over the reference's in the same " +
			"window; the median and min–max are over the rounds. Throughput is shown for completeness only: the " +
			"two servers share one CPU and the two load generators another."
	}
	fmt.Fprintf(&b, "\n%s Server CPU is the sum of the threads' se.sum_exec_runtime (/proc/PID/task/*/sched; "+
		"utime+stime in 10 ms ticks where the kernel lacks it) over the measured window.\n\n", legend)
	for _, t := range tables {
		t.markdown(&b, o)
	}
	fmt.Fprint(w, "\n", b.String())
	if err := os.MkdirAll(filepath.Dir(o.out), 0o755); err != nil {
		return err
	}
	if err := os.WriteFile(o.out, []byte(b.String()), 0o644); err != nil {
		return err
	}
	fmt.Fprintf(w, "report written to %s\n", o.out)
	return nil
}

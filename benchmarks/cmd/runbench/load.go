package main

import (
	"bufio"
	"context"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"time"
)

// sample is the outcome of one run of one implementation.
type sample struct {
	round      int     // the interleaved round it was measured in, from 1
	rate       float64 // messages, requests or connections per second
	count      int64   // messages, requests or connections in the window
	secs       float64 // the window
	srvNs      int64   // server CPU time over the window (cpuNs)
	cliNs      int64   // load generator CPU time over the window
	clientCost bool    // the client's CPU is the cost per op (churnClient), not the server's
	problem    string  // errors the load generator saw; empty if none
	net        netCounters
	timeWait   int64   // sockets in TIME_WAIT when the run started (churn scenarios), -1 if unknown
	tls        string  // TLS churn: what the first handshake negotiated
	p50, p99   float64 // echo: loadgen's message round trip percentiles, µs (0: not reported)

	// idle scenarios
	rss0, rss1 int64 // server VmRSS before connecting and after the idle window, KiB
	idleNs     int64 // server CPU over the idle window
	readySecs  float64
}

// cpuPerOp is the CPU time per message, request or connection, in µs:
// the server's, or the client's in churnClient scenarios.
func (s sample) cpuPerOp() float64 {
	if s.count == 0 {
		return math.NaN()
	}
	ns := s.srvNs
	if s.clientCost {
		ns = s.cliNs
	}
	return float64(ns) / 1e3 / float64(s.count)
}

// srvCPU and cliPct are CPU utilisations over the window, in percent.
func (s sample) srvCPU() float64 { return 100 * float64(s.srvNs) / 1e9 / s.secs }
func (s sample) cliPct() float64 {
	if s.cliNs < 0 {
		return math.NaN()
	}
	return 100 * float64(s.cliNs) / 1e9 / s.secs
}

// runLoad runs the load of scenario sc, with client im in churnClient
// scenarios, against the server srv listening on addr.
func runLoad(ctx context.Context, o *options, sc scenario, im impl, addr string, srv *server) (s sample, err error) {
	tw := timeWaitCount()
	switch sc.kind {
	case echoLoad, churnServer:
		s, err = runEcho(ctx, o, sc, addr, srv)
	case httpLoad, httpsLoad:
		s, err = runHTTP(ctx, o, sc, addr, srv)
	case tlsFull, tlsResume:
		s, err = runTLSChurn(ctx, o, sc, addr, srv)
	case churnClient:
		s, err = runClientChurn(ctx, o, sc, im, addr, srv)
	default:
		s, err = runIdle(ctx, o, sc, addr, srv)
	}
	s.timeWait = tw
	return s, err
}

// runEcho drives an echo server with the C load generator: a steady load
// of messages, or (churnServer) of connections, each used for one message,
// from -sources source addresses so that its TIME_WAITs (loadgen closes
// first) do not run the ports out.
func runEcho(ctx context.Context, o *options, sc scenario, addr string, srv *server) (sample, error) {
	ctx, cancel := context.WithTimeout(ctx, o.dur+o.warm+90*time.Second)
	defer cancel()
	argv := []string{o.bin("loadgen"), "-a", addr, "-c", strconv.Itoa(sc.conns),
		"-s", strconv.Itoa(sc.size), "-P", strconv.Itoa(sc.depth),
		"-d", secs(o.dur), "-w", secs(o.warm)}
	if sc.kind == churnServer {
		argv = append(argv, "-C", "-b", strconv.Itoa(o.sources))
	}
	return runMarked(ctx, o, argv, srv, nil)
}

// runMarked runs a load generator that speaks loadgen's protocol ("start"
// when the window opens, "result k=v ..." when it closes, then "verify
// ok" or "verify ...") and reads the server's and its own CPU at the two
// marks. onResult, if not nil, reads more of the result line.
func runMarked(ctx context.Context, o *options, argv []string, srv *server, onResult func(kv, *sample)) (sample, error) {
	cmd := command(ctx, o, argv...)
	stderr := &syncBuffer{}
	cmd.Stderr = stderr
	out, err := cmd.StdoutPipe()
	if err != nil {
		return sample{}, err
	}
	if err := cmd.Start(); err != nil {
		return sample{}, err
	}
	var s sample
	var srv0, cli0 int64
	verified := false
	lines := bufio.NewScanner(out)
	for lines.Scan() {
		line := lines.Text()
		switch {
		case line == "start":
			srv0, _ = srv.cpu()
			cli0, _ = cpuNs(cmd.Process.Pid)
		case strings.HasPrefix(line, "result "):
			srv1, _ := srv.cpu()
			cli1, cerr := cpuNs(cmd.Process.Pid)
			kv := keyValues(line)
			s.rate, s.secs = kv.float("rate"), kv.float("secs")
			s.count = int64(kv.float("msgs"))
			s.srvNs, s.cliNs = srv1-srv0, cli1-cli0
			if cerr != nil {
				s.cliNs = -1 // it exited already: unknown
			}
			s.problem = loadgenErrors(kv)
			s.p50, s.p99 = kv.float("p50_us"), kv.float("p99_us")
			if lo, hi := kv.float("min_conn"), kv.float("max_conn"); lo == 0 && hi > 0 {
				s.problem = strings.TrimSpace(s.problem + " a connection starved (min_conn=0)")
			}
			if onResult != nil {
				onResult(kv, &s)
			}
		case strings.HasPrefix(line, "verify "):
			verified = strings.HasPrefix(line, "verify ok")
			if !verified {
				s.problem = strings.TrimSpace(s.problem + " " + line)
			}
		}
	}
	werr := cmd.Wait()
	if s.secs == 0 {
		return s, fmt.Errorf("%s: %v: %s", filepath.Base(argv[0]), werr, stderr.tail())
	}
	if !verified && s.problem == "" {
		s.problem = fmt.Sprintf("no verification (%v) %s", werr, stderr.tail())
	}
	return s, nil
}

var (
	wrkCount  = regexp.MustCompile(`(\d+) requests in ([\d.]+)(ms|s|m)\b`)
	wrkRate   = regexp.MustCompile(`Requests/sec:\s+([\d.]+)`)
	wrkErrors = regexp.MustCompile(`Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)`)
	wrkNon2xx = regexp.MustCompile(`Non-2xx or 3xx responses: (\d+)`)
)

// runHTTP drives an HTTP server with wrk, one thread: a warm-up run, then
// the measured run, with the server's CPU read just before and after it.
func runHTTP(ctx context.Context, o *options, sc scenario, addr string, srv *server) (sample, error) {
	url := "http://" + addr + "/"
	if sc.kind == httpsLoad {
		url = "https://" + addr + "/"
	}
	wrk := func(d time.Duration) ([]string, string, float64, error) {
		argv := []string{"wrk", "-t1", "-c" + strconv.Itoa(sc.conns),
			"-d" + strconv.Itoa(int(math.Ceil(d.Seconds()))) + "s", "--timeout", "2s"}
		if sc.depth > 1 {
			argv = append(argv, "-s", o.path("wrk/pipeline.lua"), url, "--", strconv.Itoa(sc.depth))
		} else {
			argv = append(argv, url)
		}
		cctx, cancel := context.WithTimeout(ctx, d+60*time.Second)
		defer cancel()
		cmd := command(cctx, o, argv...)
		if sc.kind == httpsLoad {
			// wrk's OpenSSL offers what the suite's TLS clients offer (tls.go).
			cmd.Env = append(os.Environ(), "OPENSSL_CONF="+o.tls.clientConf)
		}
		b, err := cmd.CombinedOutput()
		cpu := 0.0
		if ps := cmd.ProcessState; ps != nil {
			cpu = (ps.UserTime() + ps.SystemTime()).Seconds()
		}
		return argv, string(b), cpu, err
	}
	if o.warm >= time.Second {
		if _, outp, _, err := wrk(o.warm); err != nil {
			return sample{}, fmt.Errorf("wrk warm-up: %v: %s", err, outp)
		}
	}
	srv0, _ := srv.cpu()
	argv, outp, cli, err := wrk(o.dur)
	srv1, _ := srv.cpu()
	s, ok := parseWrk(outp)
	if err != nil || !ok {
		return sample{}, fmt.Errorf("%s: %v: %s", strings.Join(argv, " "), err, outp)
	}
	s.srvNs, s.cliNs = srv1-srv0, int64(cli*1e9)
	if s.count == 0 {
		s.problem = strings.TrimSpace(s.problem + " no request was answered in the measured window")
	}
	return s, nil
}

// parseWrk reads the request count, duration, rate and errors from wrk's
// report.
func parseWrk(outp string) (s sample, ok bool) {
	m, r := wrkCount.FindStringSubmatch(outp), wrkRate.FindStringSubmatch(outp)
	if m == nil || r == nil {
		return s, false
	}
	s.count, _ = strconv.ParseInt(m[1], 10, 64)
	s.secs, _ = strconv.ParseFloat(m[2], 64)
	switch m[3] {
	case "ms":
		s.secs /= 1000
	case "m":
		s.secs *= 60
	}
	s.rate, _ = strconv.ParseFloat(r[1], 64)
	if e := wrkErrors.FindStringSubmatch(outp); e != nil {
		s.problem = "socket errors: " + strings.Join(e[1:], "/") + " (connect/read/write/timeout)"
	}
	if e := wrkNon2xx.FindStringSubmatch(outp); e != nil {
		s.problem = strings.TrimSpace(s.problem + " non-2xx: " + e[1])
	}
	return s, true
}

// runIdle opens sc.conns connections from several source addresses, each
// served once (one byte echoed), and measures the server's RSS growth and
// its CPU over the idle window.
func runIdle(ctx context.Context, o *options, sc scenario, addr string, srv *server) (sample, error) {
	ctx, cancel := context.WithTimeout(ctx, o.idle+3*time.Minute)
	defer cancel()
	var s sample
	s.rss0, _ = rssKiB(srv.pid)
	cmd := command(ctx, o, o.bin("loadgen"), "-i", "-q", "-a", addr, "-c", strconv.Itoa(sc.conns),
		"-b", strconv.Itoa(o.sources), "-d", secs(o.idle+2*time.Minute))
	stderr := &syncBuffer{}
	cmd.Stderr = stderr
	in, err := cmd.StdinPipe()
	if err != nil {
		return s, err
	}
	out, err := cmd.StdoutPipe()
	if err != nil {
		return s, err
	}
	t0 := time.Now()
	if err := cmd.Start(); err != nil {
		return s, err
	}
	defer in.Close()
	lines := bufio.NewScanner(out)
	for lines.Scan() {
		line := lines.Text()
		if strings.HasPrefix(line, "ready ") {
			s.readySecs = time.Since(t0).Seconds()
			t1, _ := srv.cpu()
			select {
			case <-time.After(o.idle):
			case <-ctx.Done():
			}
			t2, _ := srv.cpu()
			s.rss1, _ = rssKiB(srv.pid)
			s.idleNs, s.secs = t2-t1, o.idle.Seconds()
			s.count = int64(sc.conns)
			in.Close() // loadgen closes its connections and exits
		}
		if strings.HasPrefix(line, "result ") && keyValues(line)["errors"] != "0" {
			s.problem = line
		}
	}
	werr := cmd.Wait()
	if s.secs == 0 {
		return s, fmt.Errorf("loadgen -i: %v: %s", werr, stderr.tail())
	}
	return s, nil
}

// loadgenErrors describes the errors of a loadgen or dialchurn result
// line, or returns "".
func loadgenErrors(kv kv) string {
	if e := kv["errors"]; e != "0" {
		p := "loadgen errors=" + e
		if n := kv["noport"]; n != "" && n != "0" {
			p += " (" + n + " of them EADDRNOTAVAIL: out of local ports; raise -sources)"
		}
		return p
	}
	return ""
}

// kv holds a load generator's key=value fields.
type kv map[string]string

func keyValues(line string) kv {
	m := kv{}
	for _, f := range strings.Fields(line) {
		if k, v, ok := strings.Cut(f, "="); ok {
			m[k] = v
		}
	}
	return m
}

func (m kv) float(k string) float64 {
	v, _ := strconv.ParseFloat(m[k], 64)
	return v
}

func secs(d time.Duration) string { return strconv.FormatFloat(d.Seconds(), 'f', 3, 64) }

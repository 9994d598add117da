package main

import (
	"context"
	"fmt"
	"io"
	"strings"
	"sync"
	"time"
)

// The proxy scenarios put a proxy between the load generator and the C echo
// server: the proxy is the process under test, alone on the server CPU; the
// C server (its backend) and the load generator share the client CPU. A
// message is one echo round trip: the proxy reads it from the client,
// writes it to the backend, reads the echo and writes it back, so "proxy
// CPU per message" is the proxy's CPU time over the window divided by the
// round trips completed in it (per connection in proxy-churn-100: an
// accept, a dial, 64 bytes each way, both closes).
//
// Each round runs every row alone, interleaved (throughput, latency, CPU per
// message), then epollnet at the same time as each other row (same-window
// pairs, as -corun does with the C server): both proxies on the server CPU,
// each with its own backend and load generator on the client CPU, so the
// ratio of their CPU per message holds however the shared machine drifts.

// direct is the row without a proxy: the load generator straight to the C
// server, placed as it is behind the proxies, for the latency baseline.
const direct = "direct"

// pairRef is the row every other proxy is paired with.
const pairRef = "epollnet"

// proxyImpls are the rows of the proxy scenarios.
func proxyImpls() []impl {
	return []impl{
		{name: direct, label: "direct to the C server, no proxy"},
		{name: "epollnet", label: "epollnet Pipe"},
		{name: "epollnet-splice", label: "epollnet Pipe, PipeConfig.Splice"},
		{name: "net", label: "Go net, io.Copy (splices)"},
		{name: "haproxy", label: "HAProxy tcp mode"},
		{name: "haproxy-splice", label: "HAProxy tcp mode, option splice-auto"},
		{name: "nginx", label: "nginx stream"},
	}
}

func (s scenario) isProxy() bool { return s.kind == proxyEcho || s.kind == proxyChurn }

// loadScenario is the load generator's view of a proxy scenario.
func (s scenario) loadScenario() scenario {
	if s.kind == proxyChurn {
		s.kind = churnServer
	} else {
		s.kind = echoLoad
	}
	return s
}

// proxyTable holds what a proxy scenario measures besides the rows' solo
// samples.
type proxyTable struct {
	skip      map[string]string    // row name: why it did not run
	cpu1      map[string][]float64 // row name: the backend's CPU %, one per solo run
	pairs     map[string][]pairRun // row name: its same-window runs with pairRef
	pairFails map[string][]string
}

// pairRun is one same-window run of pairRef (ref) and another row (peer).
type pairRun struct {
	round     int
	ref, peer sample
}

// ratio is pairRef's CPU per op over the peer's in the same window.
func (p pairRun) ratio() float64 { return p.ref.cpuPerOp() / p.peer.cpuPerOp() }

// proxyRounds checks the proxies and runs the rounds of a proxy scenario.
func proxyRounds(ctx context.Context, o *options, t *table, checked map[string]checkResult, nextAddr func() string, w io.Writer) {
	pt := &proxyTable{skip: map[string]string{}, cpu1: map[string][]float64{},
		pairs: map[string][]pairRun{}, pairFails: map[string][]string{}}
	t.proxy = pt
	var live []*result
	for _, r := range t.rows {
		if why := proxyMissing(r.im.name); why != "" {
			pt.skip[r.im.name] = why
			fmt.Fprintf(w, "%s: %s skipped: %s\n", t.sc.name, r.im.name, why)
			continue
		}
		live = append(live, r)
	}
	if o.check {
		for _, r := range live {
			checkProxy(o, r, checked, nextAddr, w)
		}
	}
	var ref *result
	for _, r := range live {
		if r.im.name == pairRef {
			ref = r
		}
	}
	for round := 1; round <= o.rounds && ctx.Err() == nil; round++ {
		for _, r := range live {
			if ctx.Err() == nil {
				soloRun(ctx, o, t, r, round, nextAddr, w)
			}
		}
		for _, r := range live {
			if ref != nil && r != ref && r.im.name != direct && ctx.Err() == nil {
				pairedRun(ctx, o, t, ref.im, r.im, round, nextAddr, w)
			}
		}
	}
}

func soloRun(ctx context.Context, o *options, t *table, r *result, round int, nextAddr func() string, w io.Writer) {
	sc := t.sc
	s, cpu1, err := proxyOnce(ctx, o, sc, r.im, nextAddr(), nextAddr())
	if err != nil {
		r.fails = append(r.fails, err.Error())
		fmt.Fprintf(w, "[%s %d/%d] %-14s FAILED: %v\n", sc.name, round, o.rounds, r.im.name, err)
		return
	}
	s.round = round
	r.samples = append(r.samples, s)
	t.proxy.cpu1[r.im.name] = append(t.proxy.cpu1[r.im.name], cpu1)
	lat := ""
	if sc.kind == proxyEcho {
		lat = fmt.Sprintf("  p50 %s µs  p99 %s µs", thousands(s.p50), thousands(s.p99))
	}
	who := "proxy"
	if r.im.name == direct {
		who = "C server"
	}
	p := ""
	if s.problem != "" {
		p = "  PROBLEM: " + s.problem
	}
	fmt.Fprintf(w, "[%s %d/%d] %-14s %10s %s  %6.2f µs %s CPU/op%s  %s %3.0f%%  loadgen %3.0f%%  backend %3.0f%%%s\n",
		sc.name, round, o.rounds, r.im.name, thousands(s.rate), sc.unit(), s.cpuPerOp(), who, lat,
		who, s.srvCPU(), s.cliPct(), cpu1, p)
}

func pairedRun(ctx context.Context, o *options, t *table, ref, peer impl, round int, nextAddr func() string, w io.Writer) {
	sc, pt := t.sc, t.proxy
	a, b, err := proxyPair(ctx, o, sc, ref, peer, round%2 == 1, nextAddr)
	if err != nil {
		pt.pairFails[peer.name] = append(pt.pairFails[peer.name], err.Error())
		fmt.Fprintf(w, "[%s %d/%d] %s with %s, same window: FAILED: %v\n", sc.name, round, o.rounds, ref.name, peer.name, err)
		return
	}
	a.round, b.round = round, round
	pr := pairRun{round: round, ref: a, peer: b}
	pt.pairs[peer.name] = append(pt.pairs[peer.name], pr)
	fmt.Fprintf(w, "[%s %d/%d] %s ÷ %s, same window: %.3f× CPU per op (%.2f vs %.2f µs), %s vs %s %s%s\n",
		sc.name, round, o.rounds, ref.name, peer.name, pr.ratio(), a.cpuPerOp(), b.cpuPerOp(),
		thousands(a.rate), thousands(b.rate), sc.unit(), pairNote(a, b))
}

func pairNote(a, b sample) string {
	p := ""
	if a.problem != "" {
		p += "  " + pairRef + " PROBLEM: " + a.problem
	}
	if b.problem != "" {
		p += "  PROBLEM: " + b.problem
	}
	return p
}

// proxyOnce starts the C server on the client CPU and, unless im is the
// direct row, the proxy in front of it on the server CPU, and runs the
// scenario's load through it. cpu1 is the backend's CPU use over the run
// (warm-up and final drain included), in percent.
func proxyOnce(ctx context.Context, o *options, sc scenario, im impl, addr, backAddr string) (s sample, cpu1 float64, err error) {
	be, err := startBackend(o, backAddr)
	if err != nil {
		return s, 0, fmt.Errorf("backend (the C echo server): %v", err)
	}
	defer be.stop()
	target, srv := backAddr, be
	if im.name != direct {
		px, err := startProxy(o, im, addr, backAddr)
		if err != nil {
			return s, 0, err
		}
		defer px.stop()
		target, srv = addr, px
	}
	before := readNetCounters()
	tw := timeWaitCount()
	b0, _ := cpuNs(be.pid)
	t0 := time.Now()
	s, err = runEcho(ctx, o, sc.loadScenario(), target, srv)
	b1, _ := cpuNs(be.pid)
	cpu1 = 100 * float64(b1-b0) / float64(time.Since(t0).Nanoseconds())
	s.timeWait = tw
	s.net = readNetCounters().sub(before)
	if s.net.drops > 0 {
		s.problem = strings.TrimSpace(fmt.Sprintf("%s loopback dropped %d packets (netdev_max_backlog), "+
			"%d TCP retransmits: the run waited on retransmit timers", s.problem, s.net.drops, s.net.retrans))
	}
	for _, p := range []*server{srv, be} {
		if dead, why := p.exited(); dead {
			return s, cpu1, fmt.Errorf("%s exited during the run: %s", p.cmd.Path, why)
		}
	}
	return s, cpu1, err
}

// proxyPair runs proxies a and b at the same time, each in front of its
// own C server, each loaded by its own load generator; aFirst says whose
// processes start first.
func proxyPair(ctx context.Context, o *options, sc scenario, a, b impl, aFirst bool,
	nextAddr func() string) (sa, sb sample, err error) {
	type side struct {
		im       impl
		be, px   *server
		addr, ba string
		s        sample
		err      error
	}
	sides := []*side{{im: a}, {im: b}}
	if !aFirst {
		sides[0], sides[1] = sides[1], sides[0]
	}
	for _, sd := range sides {
		sd.addr, sd.ba = nextAddr(), nextAddr()
		if sd.be, err = startBackend(o, sd.ba); err != nil {
			return sa, sb, fmt.Errorf("backend (the C echo server): %v", err)
		}
		defer sd.be.stop()
		if sd.px, err = startProxy(o, sd.im, sd.addr, sd.ba); err != nil {
			return sa, sb, err
		}
		defer sd.px.stop()
	}
	var wg sync.WaitGroup
	for _, sd := range sides {
		wg.Add(1)
		go func() {
			defer wg.Done()
			sd.s, sd.err = runEcho(ctx, o, sc.loadScenario(), sd.addr, sd.px)
		}()
	}
	wg.Wait()
	for _, sd := range sides {
		for _, p := range []*server{sd.px, sd.be} {
			if dead, why := p.exited(); dead {
				return sa, sb, fmt.Errorf("%s: %s exited during the run: %s", sd.im.name, p.cmd.Path, why)
			}
		}
		if sd.err != nil {
			return sa, sb, fmt.Errorf("%s: %v", sd.im.name, sd.err)
		}
	}
	if !aFirst {
		sides[0], sides[1] = sides[1], sides[0]
	}
	return sides[0].s, sides[1].s, nil
}

// checkProxy checks a proxy once per run of the suite: 200 KiB echoed
// through it, and a half-close passed on both ways.
func checkProxy(o *options, r *result, checked map[string]checkResult, nextAddr func() string, w io.Writer) {
	key := "proxy/" + r.im.name
	c, done := checked[key]
	failure := c.failure
	if !done {
		failure = checkProxyOnce(o, r.im, nextAddr(), nextAddr())
		checked[key] = checkResult{failure: failure}
		status := "ok"
		if failure != "" {
			status = "FAILED: " + failure
		}
		fmt.Fprintf(w, "check %-14s %s\n", key, status)
	}
	if failure != "" {
		r.fails = append(r.fails, "behaviour check: "+failure)
	}
}

func checkProxyOnce(o *options, im impl, addr, backAddr string) string {
	be, err := startBackend(o, backAddr)
	if err != nil {
		return "backend (the C echo server): " + err.Error()
	}
	defer be.stop()
	if im.name == direct {
		addr = backAddr
	} else {
		px, err := startProxy(o, im, addr, backAddr)
		if err != nil {
			return err.Error()
		}
		defer px.stop()
	}
	if err := checkEcho(addr); err != nil {
		return err.Error()
	}
	if err := checkHalfClose(addr); err != nil {
		return err.Error()
	}
	return ""
}

package main

import (
	"fmt"
	"io"
	"math"
	"os"
	"runtime"
	"strings"
)

// Event-loop scaling on a small machine. The question is what a second
// (third, …) loop buys: throughput per added core. Measuring it needs a
// load generator that is not the bottleneck, on CPUs the server does not
// use, and the 2-CPU development machine has none: the load generator
// needs most of a CPU to load one loop (echo-100: loadgen at 98% for the C
// server's 95%). What can be measured, in three scenarios:
//
//   - echo-100-loops: every loop on the server CPU, the load generator on
//     the other, as in echo-100. Deterministic, and no gain is possible:
//     it measures what more loops cost on one core (smaller batches per
//     wake-up, the hand-off of accepted connections, more threads).
//   - echo-100-loops-2cpu: the server and the load generator share both
//     CPUs, without limit. What more loops give on this machine as it is,
//     at most the CPU the load generator leaves. Where the scheduler puts
//     the load generator matters more than the loops: with the server on
//     the same CPU a message costs about half the CPU it costs across two
//     CPUs (no cross-CPU wake-up), and placement changes from run to run,
//     so the table shows the spread of CPU per op too.
//   - echo-100-loops-quota: the same, with the server held to -loop-quota
//     percent of a CPU per loop (a cgroup CFS quota set before each server
//     starts: 35% for one loop, 70% for two), so that the load generator
//     has CPU to spare. The gain per added loop is capacity at an equal
//     budget per loop, if the server used its budget: the table shows how
//     much of it the server used, and below about 90% the server was not
//     the bottleneck (throttled loops stall their connections, and 100
//     connections with one message each in flight leave little queued
//     work), so the gain is a lower bound.
//
// None of them is the gain of a second core's hardware for a server whose
// load comes from elsewhere.

// scaleOptions returns the options of a scaling scenario: the placement of
// its processes, and for the quota scenario a cgroup whose quota
// startServer sets for each server's loops. skip says why the scenario
// cannot run; done removes the cgroup.
func scaleOptions(o *options, sc scenario) (so *options, done func(), skip string) {
	done = func() {}
	if o.corun {
		return o, done, "same-window runs compare implementations against C on one CPU; " +
			"the loop scenarios compare configurations of epollnet: run them without -corun"
	}
	c := *o
	so = &c
	if sc.scale == scaleOneCPU {
		return so, done, ""
	}
	cpus := o.scaleCPUs
	if cpus == "" {
		cpus = fmt.Sprintf("0-%d", runtime.NumCPU()-1)
	}
	so.serverCPU, so.clientCPU = cpus, cpus
	if sc.scale == scaleQuota {
		if os.Geteuid() != 0 {
			return o, done, "needs root for the cgroup that holds the server to -loop-quota per loop"
		}
		q, err := newCPUQuota("loop-quota", o.loopQuotaPct)
		if err != nil {
			if q != nil {
				q.remove()
			}
			return o, done, "-loop-quota: " + err.Error()
		}
		so.cgroup, so.loopQuota = q, o.loopQuotaPct
		done = func() { q.remove() }
	}
	return so, done, ""
}

// rowName is a row's name on progress lines: the implementation's, with
// its loops and listener where the row sets them.
func rowName(im impl) string {
	if im.loops == 0 {
		return im.name
	}
	n := fmt.Sprintf("%s-%dL", im.name, im.loops)
	if im.oneListener {
		n += "-1ln"
	}
	return n
}

// scaleRef returns the scaling table's reference row: epollnet with one
// loop.
func (t *table) scaleRef() *result {
	for _, r := range t.rows {
		if r.im.name == "epollnet" && r.im.loops == 1 {
			return r
		}
	}
	return nil
}

// perAddedLoop is the gain per loop added to one loop: (ratio − 1) / (n − 1)
// for a throughput ratio to one loop, as "+0.35" (1.35× with two loops).
func perAddedLoop(r, ref *result) string {
	if ref == nil || r.im.name == cref || r.im.loops < 2 {
		return "–"
	}
	a, _, _ := r.stat(rate)
	b, _, _ := ref.stat(rate)
	if math.IsNaN(a) || math.IsNaN(b) || b == 0 {
		return "–"
	}
	return fmt.Sprintf("%+.2f", (a/b-1)/float64(r.im.loops-1))
}

// budgetUsed is the median share of its CPU quota a row's server used, in
// percent, or "–" without a quota.
func budgetUsed(r *result, pct int) string {
	if pct == 0 {
		return "–"
	}
	loops := max(r.im.loops, 1)
	used, _, _ := r.stat(func(s sample) float64 { return s.srvCPU() / float64(pct*loops) * 100 })
	return fixed(used, 0)
}

func (t *table) scaleMarkdown(w io.Writer, o *options) {
	var where string
	quota := 0
	switch t.sc.scale {
	case scaleOneCPU:
		where = fmt.Sprintf("Every loop on CPU %s, the load generator on CPU %s.", o.serverCPU, o.clientCPU)
	case scaleShared:
		where = "The server and the load generator share every CPU."
	case scaleQuota:
		quota = o.loopQuotaPct
		where = fmt.Sprintf("The server and the load generator share every CPU; the server is held to %d%% of a CPU "+
			"per loop (the C server, one thread, to %d%%); \"budget used\" is the server's CPU over that quota.",
			quota, quota)
	}
	fmt.Fprintf(w, "%s Ratios are to epollnet with one loop. Server CPU %% is of one CPU (up to %d00%%).\n\n",
		where, runtime.NumCPU())
	fmt.Fprintf(w, "| configuration | msg/s (median) | min–max | vs 1 loop | paired | gain per added loop | "+
		"server CPU µs per op | min–max | CPU/op vs 1 loop | server CPU %% | budget used %% | client CPU %% | runs |\n")
	fmt.Fprintln(w, "|---|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|")
	ref := t.scaleRef()
	for _, r := range t.rows {
		med, lo, hi := r.stat(rate)
		cpu, clo, chi := r.stat(cpuPerOp)
		s, _, _ := r.stat(srvCPU)
		cl, _, _ := r.stat(cliCPU)
		fmt.Fprintf(w, "| %s | %s | %s–%s | %s | %s | %s | %s | %s–%s | %s | %s | %s | %s | %s |\n", r.im.label,
			thousands(med), thousands(lo), thousands(hi), ratio(r, ref, rate), paired(r, ref, rate),
			perAddedLoop(r, ref), fixed(cpu, 2), fixed(clo, 2), fixed(chi, 2), ratio(r, ref, cpuPerOp),
			fixed(s, 0), budgetUsed(r, quota), fixed(cl, 0), r.runs())
	}
	fmt.Fprintln(w)
	if runtime.NumCPU() <= 2 {
		fmt.Fprintln(w, strings.TrimSpace(`
This machine has `+fmt.Sprint(runtime.NumCPU())+` CPUs, so N = 2 is the most loops measured, and the load
generator needs one of the two CPUs the loops would use: no number here is the gain of a second
core for a server whose load comes from elsewhere (benchmarks/README.md, "Event-loop scaling").`))
		fmt.Fprintln(w)
	}
}

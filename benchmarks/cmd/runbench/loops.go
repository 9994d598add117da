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
// use, and on the 2-CPU development machine there are none: the load
// generator needs most of a CPU to load one loop (echo-100: loadgen at
// 98% for the C server's 95%). So two scenarios, both with the server and
// the load generator sharing every CPU (-scale-cpus), and neither of them
// "scaling" in the usual sense:
//
//   - echo-100-loops: no limit. It shows what more loops give on this
//     machine as it is: at most the CPU the load generator leaves, and the
//     CPU per message each configuration costs (cross-loop hand-off,
//     smaller batches per wake-up).
//   - echo-100-loops-quota: the server held to -loop-quota percent of a CPU
//     per loop (a cgroup CFS quota, set before each server starts: 35% for
//     one loop, 70% for two), so that the server, not the load generator,
//     is the bottleneck and the load generator has CPU to spare. The gain
//     per added loop is then capacity at an equal CPU budget per loop: 1.00
//     means a second loop, given its own share, adds as much as the first.
//     It does not measure a second core's hardware (caches, memory
//     bandwidth): the two loops' shares, the load generator and the
//     softirq work are spread over the same two CPUs.

// scaleOptions returns the options of a scaling scenario: every CPU (or
// -scale-cpus) for the server and the load generator, and for the quota
// scenario a cgroup whose quota startServer sets for each server's loops.
// skip says why the scenario cannot run; done removes the cgroup.
func scaleOptions(o *options, sc scenario) (so *options, done func(), skip string) {
	done = func() {}
	if o.corun {
		return o, done, "same-window runs share one CPU between two servers; the scaling scenarios need every CPU: run them without -corun"
	}
	c := *o
	so = &c
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

func (t *table) scaleMarkdown(w io.Writer, o *options) {
	where := "The server and the load generator share every CPU."
	if t.sc.scale == scaleQuota {
		where = fmt.Sprintf("The server and the load generator share every CPU; the server is held to %d%% of a CPU "+
			"per loop (the C server, one thread, to %d%%).", o.loopQuotaPct, o.loopQuotaPct)
	}
	fmt.Fprintf(w, "%s Ratios are to epollnet with one loop. Server CPU %% is of one CPU (up to %d00%%).\n\n",
		where, runtime.NumCPU())
	fmt.Fprintf(w, "| configuration | msg/s (median) | min–max | vs 1 loop | paired | gain per added loop | "+
		"server CPU µs per op | CPU/op vs 1 loop | server CPU %% | client CPU %% | runs |\n")
	fmt.Fprintln(w, "|---|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|")
	ref := t.scaleRef()
	for _, r := range t.rows {
		med, lo, hi := r.stat(rate)
		cpu, _, _ := r.stat(cpuPerOp)
		s, _, _ := r.stat(srvCPU)
		cl, _, _ := r.stat(cliCPU)
		fmt.Fprintf(w, "| %s | %s | %s–%s | %s | %s | %s | %s | %s | %s | %s | %s |\n", r.im.label,
			thousands(med), thousands(lo), thousands(hi), ratio(r, ref, rate), paired(r, ref, rate),
			perAddedLoop(r, ref), fixed(cpu, 2), ratio(r, ref, cpuPerOp), fixed(s, 0), fixed(cl, 0), r.runs())
	}
	fmt.Fprintln(w)
	if runtime.NumCPU() <= 2 {
		fmt.Fprintln(w, strings.TrimSpace(`
This machine has `+fmt.Sprint(runtime.NumCPU())+` CPUs, so N = 2 is the most loops measured, and the load
generator needs one of the two CPUs the loops would use: no number here is the gain of a second
core for a server whose load comes from elsewhere.`))
		fmt.Fprintln(w)
	}
}

package main

import (
	"fmt"
	"io"
	"math"
	"strings"
)

// proxyMarkdown writes a proxy scenario's two tables: the solo runs
// (throughput, latency, CPU per op), and the same-window pairs with
// epollnet; then the reading against the best peer.
func (t *table) proxyMarkdown(w io.Writer) {
	pt := t.proxy
	if pt == nil {
		fmt.Fprintln(w, "Not run.")
		return
	}
	echo := t.sc.kind == proxyEcho
	ref, dir := t.row(pairRef), t.row(direct)
	fmt.Fprintf(w, "Each row alone, interleaved; \"%s ÷ this\" is the median over the rounds of epollnet's "+
		"proxy CPU per op over this row's in the same round.\n\n", pairRef)
	head := fmt.Sprintf("| proxy | %s (median) | min–max | %s (median) | min–max | %s ÷ this, per round |",
		t.sc.unit(), t.sc.cost(), pairRef)
	if echo {
		head += " p50 µs | p99 µs | p99 added vs direct, µs |"
	}
	fmt.Fprintln(w, head+" proxy CPU % | loadgen CPU % | backend CPU % | retransmits | runs |")
	fmt.Fprintln(w, "|---|"+strings.Repeat("--:|", strings.Count(head, "|")-2+5))
	for _, r := range t.rows {
		if why := pt.skip[r.im.name]; why != "" {
			fmt.Fprintf(w, "| %s | not run: %s |\n", r.im.label, why)
			continue
		}
		fmt.Fprintln(w, proxyRow(t, r, ref, dir, echo))
	}
	fmt.Fprintln(w)
	t.pairsMarkdown(w)
	if s := t.bestPeerReading(); s != "" {
		fmt.Fprintln(w, s)
		fmt.Fprintln(w)
	}
	for _, r := range t.rows {
		name := r.im.name
		for _, f := range dedup(pt.pairFails[name]) {
			fmt.Fprintf(w, "- same window with %s: run failed: %s\n", name, f)
		}
		var ps []string
		for _, p := range pt.pairs[name] {
			if n := pairNote(p.ref, p.peer); n != "" {
				ps = append(ps, strings.TrimSpace(n))
			}
		}
		for _, p := range dedup(ps) {
			fmt.Fprintf(w, "- same window with %s: %s\n", name, p)
		}
	}
	if t.sc.kind == proxyChurn {
		tw := func(s sample) float64 { return float64(s.timeWait) }
		all := &result{}
		for _, r := range t.rows {
			all.samples = append(all.samples, r.samples...)
		}
		if _, lo, hi := all.stat(tw); !math.IsNaN(lo) {
			fmt.Fprintf(w, "- Sockets in TIME_WAIT when the solo runs started: %s–%s (at most net.ipv4.tcp_max_tw_buckets "+
				"= %s; loadgen closes first towards the proxy, the proxy towards the C server).\n",
				thousands(lo), thousands(hi), maxTWBuckets())
		}
	}
}

// proxyRow is one row of the solo table.
func proxyRow(t *table, r, ref, dir *result, echo bool) string {
	med, lo, hi := r.stat(rate)
	cpu, clo, chi := r.stat(cpuPerOp)
	s, _, _ := r.stat(srvCPU)
	cl, _, _ := r.stat(cliCPU)
	rx, _, _ := r.stat(retrans)
	b := median(t.proxy.cpu1[r.im.name])
	cost, spread, vs := fixed(cpu, 2), fixed(clo, 2)+"–"+fixed(chi, 2), "–"
	if r.im.name == direct {
		cost, spread, s = "–", "–", math.NaN()
	} else if ref != nil {
		vs = paired(ref, r, cpuPerOp)
		if r == ref {
			vs = "1.00×"
		}
	}
	line := fmt.Sprintf("| %s | %s | %s–%s | %s | %s | %s |", r.im.label,
		thousands(med), thousands(lo), thousands(hi), cost, spread, vs)
	if echo {
		p50, _, _ := r.stat(func(s sample) float64 { return s.p50 })
		p99, _, _ := r.stat(func(s sample) float64 { return s.p99 })
		line += fmt.Sprintf(" %s | %s | %s |", thousands(p50), thousands(p99), addedP99(r, dir))
	}
	return line + fmt.Sprintf(" %s | %s | %s | %s | %s |", fixed(s, 0), fixed(cl, 0), fixed(b, 0), fixed(rx, 0), r.runs())
}

// addedP99 is the median over the rounds of r's p99 minus the direct run's
// of the same round.
func addedP99(r, dir *result) string {
	if dir == nil || r == dir {
		return "–"
	}
	var d []float64
	for _, s := range r.samples {
		for _, ds := range dir.samples {
			if ds.round == s.round && s.p99 > 0 && ds.p99 > 0 {
				d = append(d, s.p99-ds.p99)
			}
		}
	}
	return thousands(median(d))
}

// pairsMarkdown writes the same-window table.
func (t *table) pairsMarkdown(w io.Writer) {
	pt := t.proxy
	if len(pt.pairs) == 0 {
		return
	}
	fmt.Fprintf(w, "Same window: %s and the row's proxy at the same time, both on the server CPU, each in front of "+
		"its own C server and loaded by its own load generator on the client CPU. The ratio is %s's proxy CPU per "+
		"op over the row's in the same window (below 1.00×: %s costs less).\n\n", pairRef, pairRef, pairRef)
	fmt.Fprintf(w, "| with | %s ÷ this, same window (median) | min–max | %s's µs per op | this µs per op | "+
		"%s's %s (sharing) | this %s (sharing) | runs |\n", pairRef, pairRef, pairRef, t.sc.unit(), t.sc.unit())
	fmt.Fprintln(w, "|---|--:|--:|--:|--:|--:|--:|--:|")
	for _, r := range t.rows {
		prs := pt.pairs[r.im.name]
		if len(prs) == 0 && len(pt.pairFails[r.im.name]) == 0 {
			continue
		}
		var q, a, b, ar, br []float64
		for _, p := range prs {
			q = append(q, p.ratio())
			a, b = append(a, p.ref.cpuPerOp()), append(b, p.peer.cpuPerOp())
			ar, br = append(ar, p.ref.rate), append(br, p.peer.rate)
		}
		lo, hi := minMax(q)
		runs := fmt.Sprint(len(prs))
		if n := len(pt.pairFails[r.im.name]); n > 0 {
			runs += fmt.Sprintf(" (+%d failed)", n)
		}
		fmt.Fprintf(w, "| %s | %s | %s–%s | %s | %s | %s | %s | %s |\n", r.im.label, times(median(q)),
			times(lo), times(hi), fixed(median(a), 2), fixed(median(b), 2),
			thousands(median(ar)), thousands(median(br)), runs)
	}
	fmt.Fprintln(w)
}

// bestPeerReading names the peer epollnet compares worst with in the same
// window (the cheapest per op) and epollnet's ratio to it, and the same
// from the solo rounds: epollnet over the cheapest peer of each round.
func (t *table) bestPeerReading() string {
	pt := t.proxy
	best, bestQ := "", math.NaN()
	for _, r := range t.rows {
		if !isPeer(r.im.name) {
			continue
		}
		var q []float64
		for _, p := range pt.pairs[r.im.name] {
			q = append(q, p.ratio())
		}
		if m := median(q); !math.IsNaN(m) && (math.IsNaN(bestQ) || m > bestQ) {
			best, bestQ = r.im.label, m
		}
	}
	var out []string
	if best != "" {
		out = append(out, fmt.Sprintf("**%s vs the best peer, same window: %s** (%s: the peer with the highest "+
			"ratio, that is the lowest CPU per op next to %s).", pairRef, times(bestQ), best, pairRef))
	}
	if ref := t.row(pairRef); ref != nil {
		var q []float64
		for _, s := range ref.samples {
			cheapest := math.NaN()
			for _, r := range t.rows {
				for _, ps := range r.samples {
					if isPeer(r.im.name) && ps.round == s.round && !(ps.cpuPerOp() >= cheapest) {
						cheapest = ps.cpuPerOp()
					}
				}
			}
			if v := s.cpuPerOp() / cheapest; !math.IsNaN(v) && !math.IsInf(v, 0) {
				q = append(q, v)
			}
		}
		if len(q) > 0 {
			lo, hi := minMax(q)
			out = append(out, fmt.Sprintf("Solo rounds: %s over the cheapest peer of each round: %s (%s–%s).",
				pairRef, times(median(q)), times(lo), times(hi)))
		}
	}
	return strings.Join(out, " ")
}

// isPeer reports whether row name is another proxy than epollnet's.
func isPeer(name string) bool { return name != direct && !strings.HasPrefix(name, "epollnet") }

func median(xs []float64) float64 {
	r := &result{}
	for _, x := range xs {
		r.samples = append(r.samples, sample{rate: x})
	}
	m, _, _ := r.stat(rate)
	return m
}

func minMax(xs []float64) (lo, hi float64) {
	r := &result{}
	for _, x := range xs {
		r.samples = append(r.samples, sample{rate: x})
	}
	_, lo, hi = r.stat(rate)
	return lo, hi
}

func dedup(xs []string) []string {
	seen := map[string]bool{}
	var out []string
	for _, x := range xs {
		if !seen[x] {
			seen[x] = true
			out = append(out, x)
		}
	}
	return out
}

package main

import (
	"fmt"
	"io"
	"math"
	"sort"
	"strings"
)

// result collects one implementation's runs in one scenario.
type result struct {
	im      impl
	samples []sample
	partner []sample // -corun: the C reference's sample from the same window as each of samples
	fails   []string // runs that produced no sample, and why
	skip    string   // why the implementation was not run (a program missing), or ""
	tls     string   // HTTPS: what the behaviour check's handshake negotiated
}

// table is one scenario's results, in implementation order.
type table struct {
	sc    scenario
	rows  []*result
	skip  string // why the scenario did not run
	corun bool   // same-window runs against the C reference (corun.go)
	proxy *proxyTable
}

func (t *table) row(name string) *result {
	for _, r := range t.rows {
		if r.im.name == name {
			return r
		}
	}
	return nil
}

// stat returns the median, minimum and maximum of f over the samples.
func (r *result) stat(f func(sample) float64) (med, lo, hi float64) {
	var xs []float64
	for _, s := range r.samples {
		if v := f(s); !math.IsNaN(v) {
			xs = append(xs, v)
		}
	}
	if len(xs) == 0 {
		return math.NaN(), math.NaN(), math.NaN()
	}
	sort.Float64s(xs)
	med = xs[len(xs)/2]
	if len(xs)%2 == 0 {
		med = (xs[len(xs)/2-1] + xs[len(xs)/2]) / 2
	}
	return med, xs[0], xs[len(xs)-1]
}

var (
	rate      = func(s sample) float64 { return s.rate }
	cpuPerOp  = func(s sample) float64 { return s.cpuPerOp() }
	srvCPU    = func(s sample) float64 { return s.srvCPU() }
	cliCPU    = func(s sample) float64 { return s.cliPct() }
	rssPer    = func(s sample) float64 { return float64(s.rss1-s.rss0) * 1024 / float64(s.count) }
	rssAt     = func(s sample) float64 { return float64(s.rss1) / 1024 }
	idleCPUms = func(s sample) float64 { return float64(s.idleNs) / 1e6 / s.secs }
	ready     = func(s sample) float64 { return s.readySecs }
	retrans   = func(s sample) float64 { return float64(s.net.retrans) }
)

// markdown writes the scenario's table.
func (t *table) markdown(w io.Writer, o *options) {
	fmt.Fprintf(w, "### %s\n\n%s.\n\n", t.sc.name, t.sc.what)
	if t.skip != "" {
		fmt.Fprintf(w, "Not run: %s\n\n", t.skip)
		return
	}
	switch {
	case t.sc.isProxy():
		t.proxyMarkdown(w)
	case t.corun && t.sc.tls():
		t.tlsCorunMarkdown(w)
	case t.corun:
		t.corunMarkdown(w)
	case t.sc.tls():
		t.tlsMarkdown(w)
	case t.sc.kind == idleConns:
		t.idleMarkdown(w)
	case t.sc.scale != split:
		t.scaleMarkdown(w, o)
	default:
		t.loadMarkdown(w)
	}
	for _, r := range t.rows {
		for _, p := range r.problems() {
			fmt.Fprintf(w, "- %s: %s\n", r.im.label, p)
		}
	}
	if t.sc.kind == churnServer || t.sc.kind == churnClient {
		var all result
		for _, r := range t.rows {
			all.samples = append(all.samples, r.samples...)
			all.samples = append(all.samples, r.partner...)
		}
		tw := func(s sample) float64 {
			if s.timeWait < 0 {
				return math.NaN()
			}
			return float64(s.timeWait)
		}
		if _, lo, hi := all.stat(tw); !math.IsNaN(lo) {
			fmt.Fprintf(w, "- Sockets in TIME_WAIT when the runs started: %s–%s (the machine holds at most "+
				"net.ipv4.tcp_max_tw_buckets = %s; loadgen and the clients close first).\n",
				thousands(lo), thousands(hi), maxTWBuckets())
		}
	}
	fmt.Fprintln(w)
}

func (t *table) loadMarkdown(w io.Writer) {
	who := "server"
	if t.sc.kind == churnClient {
		who = "client"
	}
	fmt.Fprintf(w, "| %s | %s (median) | min–max | vs C | paired | %s | CPU/op vs C | paired | server CPU %% | client CPU %% | retransmits | runs |\n",
		who, t.sc.unit(), t.sc.cost())
	fmt.Fprintln(w, "|---|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|")
	c := t.row(cref)
	for _, r := range t.rows {
		med, lo, hi := r.stat(rate)
		cpu, _, _ := r.stat(cpuPerOp)
		s, _, _ := r.stat(srvCPU)
		cl, _, _ := r.stat(cliCPU)
		rx, _, _ := r.stat(retrans)
		fmt.Fprintf(w, "| %s | %s | %s–%s | %s | %s | %s | %s | %s | %s | %s | %s | %s |\n", r.im.label,
			thousands(med), thousands(lo), thousands(hi), ratio(r, c, rate), paired(r, c, rate),
			fixed(cpu, 2), ratio(r, c, cpuPerOp), paired(r, c, cpuPerOp),
			fixed(s, 0), fixed(cl, 0), fixed(rx, 0), r.runs())
	}
	fmt.Fprintln(w)
}

func (t *table) idleMarkdown(w io.Writer) {
	fmt.Fprintln(w, "| server | RSS growth per conn, bytes (median) | min–max | vs C | RSS with all open, MiB | idle CPU, ms per s | connect + first echo, s | runs |")
	fmt.Fprintln(w, "|---|--:|--:|--:|--:|--:|--:|--:|")
	c := t.row(cref)
	for _, r := range t.rows {
		med, lo, hi := r.stat(rssPer)
		at, _, _ := r.stat(rssAt)
		idle, _, _ := r.stat(idleCPUms)
		rd, _, _ := r.stat(ready)
		fmt.Fprintf(w, "| %s | %s | %s–%s | %s | %s | %s | %s | %s |\n", r.im.label,
			thousands(med), thousands(lo), thousands(hi), ratio(r, c, rssPer),
			fixed(at, 1), fixed(idle, 1), fixed(rd, 2), r.runs())
	}
	fmt.Fprintln(w)
}

// problems lists failed runs and the errors runs reported, deduplicated.
func (r *result) problems() []string {
	seen := map[string]bool{}
	var ps []string
	if r.skip != "" {
		ps = append(ps, "not run: "+r.skip)
	}
	for _, p := range r.fails {
		p = "run failed: " + p
		if !seen[p] {
			seen[p] = true
			ps = append(ps, p)
		}
	}
	for _, s := range r.samples {
		if s.problem != "" && !seen[s.problem] {
			seen[s.problem] = true
			ps = append(ps, s.problem)
		}
	}
	for _, s := range r.partner {
		if p := "the reference in the same window: " + s.problem; s.problem != "" && !seen[p] {
			seen[p] = true
			ps = append(ps, p)
		}
	}
	return ps
}

func (r *result) runs() string {
	if len(r.fails) == 0 {
		return fmt.Sprint(len(r.samples))
	}
	return fmt.Sprintf("%d (+%d failed)", len(r.samples), len(r.fails))
}

// ratio is r's median of f over the C reference's, "×" formatted.
func ratio(r, c *result, f func(sample) float64) string {
	if c == nil {
		return "–"
	}
	if r == c {
		return "1.00×"
	}
	a, _, _ := r.stat(f)
	b, _, _ := c.stat(f)
	if math.IsNaN(a) || math.IsNaN(b) || b == 0 {
		return "–"
	}
	return fmt.Sprintf("%.2f×", a/b)
}

// paired returns the median over the rounds of r's value divided by the C
// reference's in the same round, or "–" when no round has both.
func paired(r, c *result, f func(sample) float64) string {
	if c == nil {
		return "–"
	}
	if r == c {
		return "1.00×"
	}
	var q result
	for _, s := range r.samples {
		for _, cs := range c.samples {
			if cs.round == s.round {
				if a, b := f(s), f(cs); b != 0 && !math.IsNaN(a) && !math.IsNaN(b) {
					q.samples = append(q.samples, sample{rate: a / b})
				}
			}
		}
	}
	m, _, _ := q.stat(rate)
	if math.IsNaN(m) {
		return "–"
	}
	return fmt.Sprintf("%.2f×", m)
}

func fixed(v float64, prec int) string {
	if math.IsNaN(v) {
		return "–"
	}
	return fmt.Sprintf("%.*f", prec, v)
}

// thousands formats v rounded, with thousands separators.
func thousands(v float64) string {
	if math.IsNaN(v) {
		return "–"
	}
	s := fmt.Sprintf("%.0f", math.Abs(v))
	var b strings.Builder
	for i, ch := range s {
		if i > 0 && (len(s)-i)%3 == 0 {
			b.WriteByte(',')
		}
		b.WriteRune(ch)
	}
	if v < 0 && s != "0" {
		return "-" + b.String()
	}
	return b.String()
}

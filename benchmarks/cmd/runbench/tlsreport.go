package main

import (
	"fmt"
	"io"
	"math"
)

// The TLS tables compare every server with two: epollnet, and Go's
// net/http over crypto/tls, the bare crypto/tls server (the reference, and
// -corun's partner). Ratios are of server CPU per request or handshake.

// tlsMarkdown writes a TLS scenario's table of interleaved runs.
func (t *table) tlsMarkdown(w io.Writer) {
	fmt.Fprintf(w, "| server | %s (median) | min–max | %s | min–max | vs epollnet | paired | vs net/http | paired | "+
		"server CPU %% | client CPU %% | negotiated | runs |\n", t.sc.unit(), t.sc.cost())
	fmt.Fprintln(w, "|---|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|---|--:|")
	e, g := t.row("epollnet"), t.row("nethttp")
	for _, r := range t.rows {
		med, lo, hi := r.stat(rate)
		cpu, clo, chi := r.stat(cpuPerOp)
		s, _, _ := r.stat(srvCPU)
		cl, _, _ := r.stat(cliCPU)
		fmt.Fprintf(w, "| %s | %s | %s–%s | %s | %s–%s | %s | %s | %s | %s | %s | %s | %s | %s |\n", r.im.label,
			thousands(med), thousands(lo), thousands(hi), fixed(cpu, 2), fixed(clo, 2), fixed(chi, 2),
			ratio(r, e, cpuPerOp), paired(r, e, cpuPerOp), ratio(r, g, cpuPerOp), paired(r, g, cpuPerOp),
			fixed(s, 0), fixed(cl, 0), dash(r.tls), r.runs())
	}
	fmt.Fprintln(w)
}

// tlsCorunMarkdown writes a TLS scenario's table of same-window runs:
// each server against net/http, and against epollnet through net/http
// (its ratio over epollnet's, each measured in windows of its own).
func (t *table) tlsCorunMarkdown(w io.Writer) {
	fmt.Fprintf(w, "| server | CPU per op vs net/http, same window (median) | min–max | vs epollnet, through net/http | "+
		"%s | net/http's, same windows | %s (sharing) | net/http's %s (sharing) | negotiated | runs |\n",
		t.sc.cost(), t.sc.unit(), t.sc.unit())
	fmt.Fprintln(w, "|---|--:|--:|--:|--:|--:|--:|--:|---|--:|")
	eMed := math.NaN()
	if e := t.row("epollnet"); e != nil {
		eMed, _, _ = e.corunRatios().stat(rate)
	}
	for _, r := range t.rows {
		med, lo, hi := r.corunRatios().stat(rate)
		cpu, _, _ := r.stat(cpuPerOp)
		g := &result{samples: r.partner}
		gcpu, _, _ := g.stat(cpuPerOp)
		rt, _, _ := r.stat(rate)
		grt, _, _ := g.stat(rate)
		spread := "–"
		if !math.IsNaN(lo) {
			spread = times(lo) + "–" + times(hi)
		}
		fmt.Fprintf(w, "| %s | %s | %s | %s | %s | %s | %s | %s | %s | %s |\n", r.im.label,
			times(med), spread, times(med/eMed), fixed(cpu, 2), fixed(gcpu, 2),
			thousands(rt), thousands(grt), dash(r.tls), r.runs())
	}
	fmt.Fprintln(w)
}

func dash(s string) string {
	if s == "" {
		return "–"
	}
	return s
}

package main

import (
	"context"
	"fmt"
	"io"
	"math"
	"sync"
)

// Same-window runs (-corun). On a shared machine the CPU a server needs per
// message drifts by 10-15% from one run to the next, with the host rather
// than the server, so even interleaved solo runs resolve a few percent only
// over many rounds. Here an implementation and the C reference run at the
// same time: both servers on the server CPU, each loaded by its own load
// generator on the client CPU, both started together. Whatever the host
// does during the window, both see it, and the ratio of their CPU per
// message holds to about ±1% from round to round (two copies of one server
// measure 0.997-1.004). Throughput means little here, as the two share
// one CPU and one load-generator CPU; CPU per op is the measure.

// corunOnce runs im and the scenario's reference (the C server, or in the
// TLS scenarios Go's net/http) together and returns both samples, the
// reference's first. cFirst says which server starts first; the suite
// alternates it.
func corunOnce(ctx context.Context, o *options, sc scenario, im impl, addrC, addrX string,
	cFirst bool) (c, x sample, err error) {
	type side struct {
		im   impl
		addr string
		srv  *server
		s    sample
		err  error
	}
	sides := []*side{{im: sc.reference(), addr: addrC}, {im: im, addr: addrX}}
	if !cFirst {
		sides[0], sides[1] = sides[1], sides[0]
	}
	for _, sd := range sides {
		if sd.srv, err = startServer(o, sc.server(sd.im), sc.proto(), sd.addr); err != nil {
			break
		}
		defer sd.srv.stop()
	}
	if err != nil {
		return c, x, err
	}
	var wg sync.WaitGroup
	for _, sd := range sides {
		wg.Add(1)
		go func() {
			defer wg.Done()
			sd.s, sd.err = runLoad(ctx, o, sc, sd.im, sd.addr, sd.srv)
		}()
	}
	wg.Wait()
	for _, sd := range sides {
		if dead, why := sd.srv.exited(); dead {
			return c, x, fmt.Errorf("%s exited during the run: %s", sd.im.name, why)
		}
		if sd.err != nil {
			return c, x, fmt.Errorf("%s: %v", sd.im.name, sd.err)
		}
	}
	if !cFirst {
		sides[0], sides[1] = sides[1], sides[0]
	}
	return sides[0].s, sides[1].s, nil
}

// corunRounds runs every implementation of t but the reference against
// it, o.rounds times, alternating which server starts first.
func corunRounds(ctx context.Context, o *options, t *table, nextAddr func() string, w io.Writer) {
	for round := 1; round <= o.rounds && ctx.Err() == nil; round++ {
		for _, r := range t.rows {
			if ctx.Err() != nil {
				break
			}
			if r.skip != "" {
				continue
			}
			c, x, err := corunOnce(ctx, o, t.sc, r.im, nextAddr(), nextAddr(), round%2 == 1)
			if err != nil {
				r.fails = append(r.fails, err.Error())
				fmt.Fprintf(w, "[%s %d/%d] %-10s FAILED: %v\n", t.sc.name, round, o.rounds, r.im.name, err)
				continue
			}
			c.round, x.round = round, round
			r.samples, r.partner = append(r.samples, x), append(r.partner, c)
			fmt.Fprintf(w, "[%s %d/%d] %-10s %.3f× %s's CPU per op (%.2f vs %.2f µs), %s vs %s %s%s\n",
				t.sc.name, round, o.rounds, r.im.name, x.cpuPerOp()/c.cpuPerOp(), t.sc.reference().name,
				x.cpuPerOp(), c.cpuPerOp(),
				thousands(x.rate), thousands(c.rate), t.sc.unit(), problemNote(c, x))
		}
	}
}

func problemNote(c, x sample) string {
	p := ""
	if c.problem != "" {
		p += "  REFERENCE PROBLEM: " + c.problem
	}
	if x.problem != "" {
		p += "  PROBLEM: " + x.problem
	}
	return p
}

// corunRatios returns, for each same-window run of r, its CPU per op over
// the reference's in that window.
func (r *result) corunRatios() *result {
	q := &result{}
	for i, s := range r.samples {
		if i < len(r.partner) {
			if v := s.cpuPerOp() / r.partner[i].cpuPerOp(); !math.IsNaN(v) && !math.IsInf(v, 0) {
				q.samples = append(q.samples, sample{rate: v})
			}
		}
	}
	return q
}

func (t *table) corunMarkdown(w io.Writer) {
	who := "server"
	if t.sc.kind == churnClient {
		who = "client"
	}
	fmt.Fprintf(w, "| %s | CPU per op vs C, same window (median) | min–max | %s | "+
		"C's, same windows | %s (sharing) | C's %s (sharing) | runs |\n", who, t.sc.cost(), t.sc.unit(), t.sc.unit())
	fmt.Fprintln(w, "|---|--:|--:|--:|--:|--:|--:|--:|")
	for _, r := range t.rows {
		q := r.corunRatios()
		med, lo, hi := q.stat(rate)
		cpu, _, _ := r.stat(cpuPerOp)
		c := &result{samples: r.partner}
		ccpu, _, _ := c.stat(cpuPerOp)
		rt, _, _ := r.stat(rate)
		crt, _, _ := c.stat(rate)
		spread := "–"
		if !math.IsNaN(lo) {
			spread = times(lo) + "–" + times(hi)
		}
		fmt.Fprintf(w, "| %s | %s | %s | %s | %s | %s | %s | %s |\n", r.im.label,
			times(med), spread, fixed(cpu, 2), fixed(ccpu, 2),
			thousands(rt), thousands(crt), r.runs())
	}
	fmt.Fprintln(w)
}

func times(v float64) string {
	if math.IsNaN(v) {
		return "–"
	}
	return fmt.Sprintf("%.3f×", v)
}

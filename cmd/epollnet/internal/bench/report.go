package bench

import (
	"fmt"
	"io"
	"math"
	"os"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/epollnet/epollnet"
	"github.com/epollnet/epollnet/cmd/epollnet/internal/cli"
	"github.com/epollnet/epollnet/cmd/epollnet/internal/hdr"
)

// benchReport is the result of a run; its JSON form is documented field by
// field in docs/cli.md (a test keeps the two in step).
type benchReport struct {
	Target       string            `json:"target"`
	Network      string            `json:"network"`
	Proto        string            `json:"proto"`
	InProcess    bool              `json:"in_process_server"`
	Connections  int               `json:"connections"`
	Pipeline     int               `json:"pipeline"`
	PerConn      int               `json:"requests_per_conn"`
	Size         int               `json:"size"`
	Rate         float64           `json:"rate"`
	DurationS    float64           `json:"duration_s"`
	Sent         uint64            `json:"sent"`
	Requests     uint64            `json:"requests"`
	Unanswered   uint64            `json:"unanswered"`
	Lost         uint64            `json:"lost"`
	InFlight     uint64            `json:"in_flight"`
	RequestsPerS float64           `json:"requests_per_s"`
	BytesIn      uint64            `json:"bytes_in"`
	BytesOut     uint64            `json:"bytes_out"`
	MiBPerSIn    float64           `json:"mib_per_s_in"`
	MiBPerSOut   float64           `json:"mib_per_s_out"`
	Latency      *distribution     `json:"latency_us"`
	Connects     uint64            `json:"connects"`
	ConnectsPerS float64           `json:"connects_per_s"`
	TimeWait     *int              `json:"time_wait"`
	TLS          *tlsReport        `json:"tls,omitempty"`
	Handshake    *distribution     `json:"handshake_us,omitempty"`
	Connect      distribution      `json:"connect_us"`
	Status       map[string]uint64 `json:"status"`
	Errors       map[string]uint64 `json:"errors"`
	ErrorTotal   uint64            `json:"error_total"`
	ErrorSamples map[string]string `json:"error_samples"`
	Advice       []string          `json:"advice"`
}

// distribution summarises a histogram of durations, in microseconds.
type distribution struct {
	Count uint64  `json:"count"`
	Min   float64 `json:"min"`
	Mean  float64 `json:"mean"`
	P50   float64 `json:"p50"`
	P90   float64 `json:"p90"`
	P99   float64 `json:"p99"`
	P999  float64 `json:"p99_9"`
	Max   float64 `json:"max"`
}

func distOf(h *hdr.Histogram) distribution {
	us := func(ns int64) float64 { return float64(ns) / 1e3 }
	return distribution{Count: h.Count(), Min: us(h.Min()), Mean: h.Mean() / 1e3,
		P50: us(h.Quantile(0.5)), P90: us(h.Quantile(0.9)), P99: us(h.Quantile(0.99)),
		P999: us(h.Quantile(0.999)), Max: us(h.Max())}
}

// report assembles the results once the loops have stopped, so that their
// histograms and counters can be read without synchronisation. total is
// the engine's counters at the end of the measured window.
func (r *benchRun) report(elapsed time.Duration, total epollnet.LoopStats) *benchReport {
	lat, _ := hdr.New(histHighest, 3)
	conn, _ := hdr.New(histHighest, 3)
	hs, _ := hdr.New(histHighest, 3)
	rep := &benchReport{Network: r.network, Proto: r.o.proto, Connections: r.o.conns,
		Pipeline: r.o.pipeline, PerConn: r.o.perConn, Rate: r.o.rate, DurationS: elapsed.Seconds(),
		BytesIn: total.BytesIn, BytesOut: total.BytesOut,
		Status: map[string]uint64{}, Errors: map[string]uint64{}, ErrorSamples: map[string]string{},
		Advice: []string{}}
	if r.o.proto != cli.ProtoHTTP {
		rep.Size = r.o.size
	}
	var tlsSum tlsCounts
	for i := range r.loops {
		lp := &r.loops[i]
		lat.Merge(lp.lat)
		conn.Merge(lp.connect)
		hs.Merge(lp.handshake)
		rep.Requests += lp.done.Load()
		rep.Sent += lp.sent.Load()
		rep.Lost += lp.lost
		rep.Connects += lp.opened.Load()
		tlsSum.add(lp.tls)
		for code, n := range lp.status {
			if n > 0 {
				rep.Status[strconv.Itoa(code)] += n
			}
		}
	}
	if r.o.tls.on {
		d := distOf(hs)
		rep.Handshake = &d
		rep.TLS = &tlsReport{Version: tlsSum.version, ALPN: tlsSum.alpn, Full: tlsSum.full, Resumed: tlsSum.resumed}
	}
	// Every request sent was answered in the window, lost with its
	// connection, or still in flight when the window closed.
	rep.Unanswered = rep.Sent - rep.Requests
	rep.InFlight = rep.Unanswered - rep.Lost
	if secs := elapsed.Seconds(); secs > 0 {
		rep.RequestsPerS = float64(rep.Requests) / secs
		rep.ConnectsPerS = float64(rep.Connects) / secs
		rep.MiBPerSIn = float64(rep.BytesIn) / (1 << 20) / secs
		rep.MiBPerSOut = float64(rep.BytesOut) / (1 << 20) / secs
	}
	if r.o.proto != cli.ProtoRaw {
		d := distOf(lat)
		rep.Latency = &d
	}
	rep.Connect = distOf(conn)
	r.mu.Lock()
	for c, name := range errClassNames {
		rep.Errors[name] = r.errs[c]
		rep.ErrorTotal += r.errs[c]
		if r.samples[c] != "" {
			rep.ErrorSamples[name] = r.samples[c]
		}
	}
	r.mu.Unlock()
	if r.network == "tcp" {
		if n, ok := timeWaitSockets(); ok {
			rep.TimeWait = &n
		}
	}
	if n := rep.Errors[errClassNames[errNoLocalPorts]]; n > 0 {
		rep.Advice = append(rep.Advice, noLocalPortsAdvice(r.address, len(r.o.sources), rep.TimeWait))
	}
	return rep
}

// noLocalPortsAdvice explains EADDRNOTAVAIL from connect and what to do.
func noLocalPortsAdvice(target string, sources int, timeWait *int) string {
	var b strings.Builder
	fmt.Fprintf(&b, "no-local-ports: connect failed with EADDRNOTAVAIL: no local port was free for %s", target)
	if lo, hi, ok := localPortRange(); ok {
		fmt.Fprintf(&b, " (ip_local_port_range %d-%d: %s ports per source address)", lo, hi, cli.Count(hi-lo+1))
	}
	b.WriteString(". Closed connections hold their port in TIME_WAIT for 60 s on the side that closed first")
	if timeWait != nil && *timeWait > 0 {
		fmt.Fprintf(&b, " (%s sockets at the end)", cli.Count(*timeWait))
	}
	b.WriteString("; with --requests-per-conn and echo, that side is bench. ")
	if sources > 0 {
		fmt.Fprintf(&b, "Add more --source addresses (%d now; each has its own port range; "+
			"a --source that is no address of this host fails the same way)", sources)
	} else {
		b.WriteString("Rotate over more source addresses: --source 127.0.0.2 --source 127.0.0.3 ... " +
			"(each has its own port range)")
	}
	b.WriteString(", or open fewer connections per second.")
	return b.String()
}

// progress prints a line every progressEvery until stop: elapsed time (or
// responses, with -n), the rate over the last period, open connections and
// errors. On a terminal the line is rewritten in place.
func (r *benchRun) progress(stop <-chan struct{}, w io.Writer) {
	if r.o.quiet {
		return
	}
	tty := isTerminal(w)
	t := time.NewTicker(r.o.progressEvery)
	defer t.Stop()
	var prev, prevOpened uint64
	prevAt := time.Now()
	for {
		select {
		case <-stop:
			if tty {
				fmt.Fprintln(w)
			}
			return
		case now := <-t.C:
			var done, opened uint64
			for i := range r.loops {
				done += r.loops[i].done.Load()
				opened += r.loops[i].opened.Load()
			}
			where := cli.Duration(time.Duration(r.now())) + "/" + cli.Duration(r.o.duration)
			if r.o.requests > 0 {
				where = fmt.Sprintf("%s/%s requests", cli.Count(done), cli.Count(r.o.requests))
			}
			secs := now.Sub(prevAt).Seconds()
			churn := ""
			if r.o.perConn > 0 {
				churn = "  " + cli.Rate(float64(opened-prevOpened)/secs) + " conn/s"
			}
			line := fmt.Sprintf("bench: %s  %s req/s%s  %s conns  %s errors", where,
				cli.Rate(float64(done-prev)/secs), churn,
				cli.Count(r.eng.Stats().Total.Conns), cli.Count(r.errTotal.Load()))
			if tty {
				fmt.Fprintf(w, "\r%-78s", line)
			} else {
				fmt.Fprintln(w, line)
			}
			prev, prevOpened, prevAt = done, opened, now
		}
	}
}

// isTerminal reports whether w is a terminal.
func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	if !ok {
		return false
	}
	st, err := f.Stat()
	return err == nil && st.Mode()&os.ModeCharDevice != 0
}

// writeText prints the report for people.
func (rep *benchReport) writeText(w io.Writer) error {
	var b strings.Builder
	server := ""
	if rep.InProcess {
		server = " (in-process server)"
	}
	fmt.Fprintf(&b, "epollnet bench: %s to %s%s, %s connections, pipeline %s", rep.Proto, rep.Target, server,
		cli.Count(rep.Connections), cli.Count(rep.Pipeline))
	if rep.Size > 0 {
		fmt.Fprintf(&b, ", %s-byte messages", cli.Count(rep.Size))
	}
	if rep.Rate > 0 {
		fmt.Fprintf(&b, ", %s req/s scheduled", cli.Rate(rep.Rate))
	}
	fmt.Fprintf(&b, "\n  requests    %s in %s: %s req/s", cli.Count(rep.Requests),
		cli.Duration(time.Duration(rep.DurationS*float64(time.Second))), cli.Rate(rep.RequestsPerS))
	switch {
	case rep.Lost > 0:
		fmt.Fprintf(&b, "\n              %s sent: %s lost with their connections, %s still in flight at the end",
			cli.Count(rep.Sent), cli.Count(rep.Lost), cli.Count(rep.InFlight))
	case rep.InFlight > 0:
		fmt.Fprintf(&b, " (%s still in flight at the end)", cli.Count(rep.InFlight))
	}
	if rep.PerConn > 0 || rep.Connects > uint64(rep.Connections) {
		fmt.Fprintf(&b, "\n  connections %s opened: %s conn/s", cli.Count(rep.Connects), cli.Rate(rep.ConnectsPerS))
		switch {
		case rep.PerConn == 1:
			b.WriteString(", 1 request each")
		case rep.PerConn > 1:
			fmt.Fprintf(&b, ", %s requests each", cli.Count(rep.PerConn))
		}
		if rep.TimeWait != nil {
			fmt.Fprintf(&b, "; %s sockets in TIME_WAIT at the end", cli.Count(*rep.TimeWait))
			if limit, ok := readSysctlInt("tcp_max_tw_buckets"); ok && *rep.TimeWait >= limit {
				b.WriteString(" (the most net.ipv4.tcp_max_tw_buckets allows: later closes skipped TIME_WAIT)")
			}
		}
	}
	fmt.Fprintf(&b, "\n  throughput  %s in, %s out\n", cli.MiBPerSec(rep.MiBPerSIn*(1<<20)),
		cli.MiBPerSec(rep.MiBPerSOut*(1<<20)))
	if rep.Latency != nil {
		fmt.Fprintf(&b, "  latency     %s\n", rep.Latency.text())
	}
	fmt.Fprintf(&b, "  connect     %s\n", rep.Connect.text())
	if rep.Handshake != nil {
		fmt.Fprintf(&b, "  handshake   %s\n", rep.Handshake.text())
	}
	if rep.TLS != nil {
		fmt.Fprintf(&b, "  tls         %s\n", tlsCounts{rep.TLS.Full, rep.TLS.Resumed, rep.TLS.Version, rep.TLS.ALPN}.text())
	}
	if len(rep.Status) > 0 {
		fmt.Fprintf(&b, "  status      %s\n", countsText(rep.Status))
	}
	if rep.ErrorTotal == 0 {
		b.WriteString("  errors      none\n")
	} else {
		nonzero := map[string]uint64{}
		for k, v := range rep.Errors {
			if v > 0 {
				nonzero[k] = v
			}
		}
		fmt.Fprintf(&b, "  errors      %s\n", countsText(nonzero))
		for _, k := range sortedKeys(rep.ErrorSamples) {
			fmt.Fprintf(&b, "    first %-12s %s\n", k+":", rep.ErrorSamples[k])
		}
	}
	for _, a := range rep.Advice {
		fmt.Fprintf(&b, "  advice      %s\n", a)
	}
	_, err := io.WriteString(w, b.String())
	return err
}

// text is a distribution on one line.
func (d distribution) text() string {
	if d.Count == 0 {
		return "none measured"
	}
	return fmt.Sprintf("p50 %s  p90 %s  p99 %s  p99.9 %s  max %s  (mean %s, n=%s)",
		usText(d.P50), usText(d.P90), usText(d.P99), usText(d.P999), usText(d.Max), usText(d.Mean),
		cli.Count(d.Count))
}

// usText formats microseconds as every report's durations are.
func usText(us float64) string { return cli.Duration(time.Duration(math.Round(us * 1e3))) }

// countsText prints "k1: n1, k2: n2" in key order.
func countsText(m map[string]uint64) string {
	var parts []string
	for _, k := range sortedKeys(m) {
		parts = append(parts, k+" "+cli.Count(m[k]))
	}
	return strings.Join(parts, ", ")
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

package serve

import (
	"bytes"
	"io"
	"log"
	"net"
	"net/http"
	"strconv"
	"time"

	"github.com/epollnet/epollnet"
	"github.com/epollnet/epollnet/cmd/epollnet/internal/cli"
	"github.com/epollnet/epollnet/cmd/epollnet/internal/promtext"
)

// metricsServer serves GET /metrics in the Prometheus text format over
// net/http, on a listener of its own: an admin endpoint, kept off the
// engine so that it answers even when the served port is saturated, and
// can be bound to an admin network only.
type metricsServer struct {
	srv  *http.Server
	ln   net.Listener
	done chan struct{}
}

// startMetrics starts the endpoint on --metrics, on a listener inherited
// from the previous process after a restart (the address is the same).
func (s *runningServer) startMetrics(hv *handover) (*metricsServer, error) {
	ln, err := hv.listen("tcp", s.o.metrics)
	if err != nil {
		return nil, err
	}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /metrics", s.serveMetrics)
	m := &metricsServer{ln: ln, done: make(chan struct{}), srv: &http.Server{
		Handler:           mux,
		ReadHeaderTimeout: 5 * time.Second,
		WriteTimeout:      10 * time.Second,
		IdleTimeout:       time.Minute,
		ErrorLog:          log.New(io.Discard, "", 0),
	}}
	go func() {
		defer close(m.done)
		m.srv.Serve(ln)
	}()
	return m, nil
}

// addr returns the endpoint's address, with the port the kernel chose.
func (m *metricsServer) addr() net.Addr { return m.ln.Addr() }

// close stops the endpoint; m may be nil.
func (m *metricsServer) close() {
	if m != nil {
		m.srv.Close()
		<-m.done
	}
}

// serveMetrics answers a scrape.
func (s *runningServer) serveMetrics(w http.ResponseWriter, r *http.Request) {
	var b bytes.Buffer
	if err := promtext.Write(&b, s.metricFamilies()); err != nil {
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", promtext.ContentType)
	w.Header().Set("Content-Length", strconv.Itoa(b.Len()))
	w.Write(b.Bytes())
}

// loopMetric is one per-loop engine counter or gauge.
type loopMetric struct {
	name, help string
	typ        promtext.Type
	value      func(*epollnet.LoopStats) uint64
}

// loopMetrics are Engine.Stats' per-loop fields, under their Prometheus
// names. Rates come from the counters: events per wake-up is
// rate(epollnet_epoll_events_total) / rate(epollnet_epoll_wakeups_total).
var loopMetrics = []loopMetric{
	{"epollnet_connections_open", "Connections open now, accepted or dialed.", promtext.Gauge,
		func(s *epollnet.LoopStats) uint64 { return uint64(max(s.Conns, 0)) }},
	{"epollnet_registered_descriptors", "Descriptors registered in the loop's epoll instance now: connections and listening sockets.", promtext.Gauge,
		func(s *epollnet.LoopStats) uint64 { return uint64(max(s.Registered, 0)) }},
	{"epollnet_connections_opened_total", "Connections opened, accepted or dialed.", promtext.Counter,
		func(s *epollnet.LoopStats) uint64 { return s.Opened }},
	{"epollnet_connections_closed_total", "Connections closed.", promtext.Counter,
		func(s *epollnet.LoopStats) uint64 { return s.Closed }},
	{"epollnet_accepted_total", "Connections accepted: successful accept4 calls.", promtext.Counter,
		func(s *epollnet.LoopStats) uint64 { return s.Accepted }},
	{"epollnet_accept_errors_total", "accept4 errors other than EAGAIN.", promtext.Counter,
		func(s *epollnet.LoopStats) uint64 { return s.AcceptErrors }},
	{"epollnet_accept_pauses_total", "Listener pauses because accept4 ran out of descriptors or memory (EMFILE, ENFILE, ENOBUFS, ENOMEM); the connections wait in the backlog meanwhile.", promtext.Counter,
		func(s *epollnet.LoopStats) uint64 { return s.AcceptPauses }},
	{"epollnet_cap_pauses_total", "Times a listener stopped accepting at its connection cap (ListenConfig.MaxConns); the connections wait in the backlog meanwhile.", promtext.Counter,
		func(s *epollnet.LoopStats) uint64 { return s.CapPauses }},
	{"epollnet_tls_handshakes_total", "TLS handshakes completed, accepted or dialed.", promtext.Counter,
		func(s *epollnet.LoopStats) uint64 { return s.TLSHandshakes }},
	{"epollnet_tls_handshake_errors_total", "TLS handshakes that failed: bad input, an unverified certificate, a timeout, a peer that left.", promtext.Counter,
		func(s *epollnet.LoopStats) uint64 { return s.TLSHandshakeErrors }},
	{"epollnet_dialed_total", "Dials that connected.", promtext.Counter,
		func(s *epollnet.LoopStats) uint64 { return s.Dialed }},
	{"epollnet_read_bytes_total", "Bytes read from connections.", promtext.Counter,
		func(s *epollnet.LoopStats) uint64 { return s.BytesIn }},
	{"epollnet_written_bytes_total", "Bytes written to connections.", promtext.Counter,
		func(s *epollnet.LoopStats) uint64 { return s.BytesOut }},
	{"epollnet_read_eagain_total", "Reads that found the socket empty (EAGAIN).", promtext.Counter,
		func(s *epollnet.LoopStats) uint64 { return s.ReadEAGAIN }},
	{"epollnet_write_eagain_total", "Writes the kernel refused in part or whole (EAGAIN), whose rest was buffered: clients reading slower than the server writes.", promtext.Counter,
		func(s *epollnet.LoopStats) uint64 { return s.WriteEAGAIN }},
	{"epollnet_epoll_wakeups_total", "Returns from epoll_wait.", promtext.Counter,
		func(s *epollnet.LoopStats) uint64 { return s.Wakeups }},
	{"epollnet_epoll_events_total", "Events returned by epoll_wait.", promtext.Counter,
		func(s *epollnet.LoopStats) uint64 { return s.Events }},
	{"epollnet_stale_events_total", "Events dropped because their descriptor had been closed or reused.", promtext.Counter,
		func(s *epollnet.LoopStats) uint64 { return s.StaleEvents }},
	{"epollnet_timers_fired_total", "Timer expirations handled by the loop.", promtext.Counter,
		func(s *epollnet.LoopStats) uint64 { return s.TimersFired }},
	{"epollnet_write_high_water_total", "Times a connection's pending output rose above the high-water mark.", promtext.Counter,
		func(s *epollnet.LoopStats) uint64 { return s.HighWater }},
	{"epollnet_proxy_rejected_total", "Connections closed for want of a valid PROXY protocol header: untrusted source, malformed header, timeout.", promtext.Counter,
		func(s *epollnet.LoopStats) uint64 { return s.ProxyRejected }},
}

// metricFamilies snapshots the engine's and serve's counters.
func (s *runningServer) metricFamilies() []promtext.Family {
	stats := s.eng.Stats()
	fams := make([]promtext.Family, 0, len(loopMetrics)+8)
	for _, m := range loopMetrics {
		f := promtext.Family{Name: m.name, Help: m.help, Type: m.typ}
		for i := range stats.Loops {
			f.Samples = append(f.Samples, loopSample(i, float64(m.value(&stats.Loops[i]))))
		}
		fams = append(fams, f)
	}
	fams = append(fams, dialFailures(stats.Loops))
	return append(fams, s.serveFamilies()...)
}

// dialFailures is the failed dials by loop and error class.
func dialFailures(loops []epollnet.LoopStats) promtext.Family {
	f := promtext.Family{Name: "epollnet_dial_failures_total", Type: promtext.Counter,
		Help: "Dials that failed, by error class (epollnet.ErrorClass)."}
	for i := range loops {
		for c, n := range loops[i].DialFailedBy {
			if epollnet.ErrorClass(c) == epollnet.ClassNone {
				continue
			}
			smp := loopSample(i, float64(n))
			smp.Labels = append(smp.Labels, promtext.Label{Name: "class", Value: epollnet.ErrorClass(c).String()})
			f.Samples = append(f.Samples, smp)
		}
	}
	return f
}

// serveFamilies are serve's own counters, beside the engine's.
func (s *runningServer) serveFamilies() []promtext.Family {
	ops := promtext.Family{Name: "epollnet_serve_reads_total", Type: promtext.Counter,
		Help: "Reads handled (echo, discard)."}
	if s.o.proto == cli.ProtoHTTP {
		ops.Name, ops.Help = "epollnet_serve_requests_total", "HTTP requests answered."
	}
	for i := range s.st.perLoop {
		ops.Samples = append(ops.Samples, loopSample(i, float64(s.st.perLoop[i].Load())))
	}
	one := func(name, help string, typ promtext.Type, v float64) promtext.Family {
		return promtext.Family{Name: name, Help: help, Type: typ, Samples: []promtext.Sample{{Value: v}}}
	}
	fams := []promtext.Family{ops,
		one("epollnet_serve_refused_total", "Connections reset at once for exceeding --max-conns.",
			promtext.Counter, float64(s.st.refused.Load())),
		one("epollnet_serve_max_connections", "The --max-conns cap.", promtext.Gauge, float64(s.st.maxConns)),
		one("epollnet_serve_start_time_seconds", "When this process started serving, in Unix seconds: it changes with each restart.",
			promtext.Gauge, float64(s.started.UnixMilli())/1000),
	}
	if s.o.proto == cli.ProtoHTTP {
		fams = append(fams,
			one("epollnet_serve_bad_requests_total", "HTTP requests refused by the parser (400, 413, 414, 431, 501, 505).",
				promtext.Counter, float64(s.st.badReqs.Load())),
			one("epollnet_serve_header_timeouts_total", "HTTP requests not received whole within --header-timeout (408).",
				promtext.Counter, float64(s.st.timeouts.Load())))
	}
	return fams
}

func loopSample(i int, v float64) promtext.Sample {
	return promtext.Sample{Labels: []promtext.Label{{Name: "loop", Value: strconv.Itoa(i)}}, Value: v}
}

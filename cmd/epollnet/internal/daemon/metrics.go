package daemon

import (
	"bytes"
	"io"
	"log"
	"net"
	"net/http"
	"strconv"
	"time"

	"github.com/epollnet/epollnet"
	"github.com/epollnet/epollnet/cmd/epollnet/internal/promtext"
)

// MetricsServer serves GET /metrics in the Prometheus text format over
// net/http, on a listener of its own: an admin endpoint, kept off the
// engine so that it answers even when the served port is saturated, and
// can be bound to an admin network only.
type MetricsServer struct {
	srv      *http.Server
	ln       net.Listener
	families func() []promtext.Family
	done     chan struct{}
}

// StartMetrics starts the endpoint on addr (--metrics), on a listener
// inherited from the previous process after a restart (the address is the
// same). Each scrape writes what families returns; it is called on the
// endpoint's goroutines.
func StartMetrics(hv *Handover, addr string, families func() []promtext.Family) (*MetricsServer, error) {
	ln, err := hv.Listen("tcp", addr)
	if err != nil {
		return nil, err
	}
	m := &MetricsServer{ln: ln, families: families, done: make(chan struct{})}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /metrics", m.serve)
	m.srv = &http.Server{
		Handler:           mux,
		ReadHeaderTimeout: 5 * time.Second,
		WriteTimeout:      10 * time.Second,
		IdleTimeout:       time.Minute,
		ErrorLog:          log.New(io.Discard, "", 0),
	}
	go func() {
		defer close(m.done)
		m.srv.Serve(ln)
	}()
	return m, nil
}

// Addr returns the endpoint's address, with the port the kernel chose.
func (m *MetricsServer) Addr() net.Addr { return m.ln.Addr() }

// Close stops the endpoint; m may be nil.
func (m *MetricsServer) Close() {
	if m != nil {
		m.srv.Close()
		<-m.done
	}
}

// serve answers a scrape.
func (m *MetricsServer) serve(w http.ResponseWriter, r *http.Request) {
	var b bytes.Buffer
	if err := promtext.Write(&b, m.families()); err != nil {
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

// EngineMetrics lists the per-loop families of EngineFamilies, without
// samples: their names, help and types, for the commands' tests.
func EngineMetrics() []promtext.Family {
	fams := make([]promtext.Family, len(loopMetrics))
	for i, m := range loopMetrics {
		fams[i] = promtext.Family{Name: m.name, Help: m.help, Type: m.typ}
	}
	return fams
}

// EngineFamilies turns Engine.Stats into metric families, one sample per
// loop (label loop), under the names every command exports.
func EngineFamilies(stats epollnet.Stats) []promtext.Family {
	fams := make([]promtext.Family, 0, len(loopMetrics)+1)
	for _, m := range loopMetrics {
		f := promtext.Family{Name: m.name, Help: m.help, Type: m.typ}
		for i := range stats.Loops {
			f.Samples = append(f.Samples, LoopSample(i, float64(m.value(&stats.Loops[i]))))
		}
		fams = append(fams, f)
	}
	return append(fams, dialFailures(stats.Loops))
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
			smp := LoopSample(i, float64(n))
			smp.Labels = append(smp.Labels, promtext.Label{Name: "class", Value: epollnet.ErrorClass(c).String()})
			f.Samples = append(f.Samples, smp)
		}
	}
	return f
}

// LoopSample is a sample of loop i, labelled loop="i".
func LoopSample(i int, v float64) promtext.Sample {
	return promtext.Sample{Labels: []promtext.Label{{Name: "loop", Value: strconv.Itoa(i)}}, Value: v}
}

package proxy

import (
	"sync/atomic"

	"github.com/epollnet/epollnet"
	"github.com/epollnet/epollnet/cmd/epollnet/internal/daemon"
	"github.com/epollnet/epollnet/cmd/epollnet/internal/promtext"
)

// metricFamilies snapshots the engine's counters and the proxy's, the
// latter per backend (label backend, the --backend address as given).
func (p *proxy) metricFamilies() []promtext.Family {
	fams := daemon.EngineFamilies(p.eng.Stats())
	for _, m := range backendMetrics {
		f := promtext.Family{Name: m.name, Help: m.help, Type: m.typ}
		for _, b := range p.bs {
			f.Samples = append(f.Samples, promtext.Sample{Labels: backendLabel(b), Value: m.value(b)})
		}
		fams = append(fams, f)
	}
	fams = append(fams,
		byClass("epollnet_proxy_backend_connect_failures_total",
			"Connects to the backend that failed, by error class (epollnet.ErrorClass); active checks not included.",
			p.bs, func(b *backend) *[numClasses]atomic.Uint64 { return &b.failed }),
		byClass("epollnet_proxy_backend_errors_total",
			"Relays whose backend side ended abnormally after connecting (a reset, a timeout), by error class.",
			p.bs, func(b *backend) *[numClasses]atomic.Uint64 { return &b.broken }),
		p.labelled("epollnet_proxy_backend_transitions_total", "Health changes of the backend, by the state entered.",
			"to", []string{"down", "up"}, func(b *backend, i int) uint64 { return [...]uint64{b.toDown.Load(), b.toUp.Load()}[i] }),
		p.labelled("epollnet_proxy_backend_checks_total", "Active checks (--check-interval), by result.",
			"result", []string{"ok", "failed"}, func(b *backend, i int) uint64 { return [...]uint64{b.checkOK.Load(), b.checkKO.Load()}[i] }),
	)
	one := func(name, help string, typ promtext.Type, v float64) promtext.Family {
		return promtext.Family{Name: name, Help: help, Type: typ, Samples: []promtext.Sample{{Value: v}}}
	}
	return append(fams,
		one("epollnet_proxy_clients_open", "Client connections open now, relayed or waiting for a backend.",
			promtext.Gauge, float64(p.open.Load())),
		one("epollnet_proxy_unrelayed_total", "Client connections closed without a backend: every one tried failed.",
			promtext.Counter, float64(p.unrelayed.Load())),
		one("epollnet_proxy_max_connections", "The --max-conns cap on client connections.",
			promtext.Gauge, float64(p.maxConns)),
		one("epollnet_proxy_start_time_seconds", "When this process started relaying, in Unix seconds: it changes with each restart.",
			promtext.Gauge, float64(p.started.UnixMilli())/1000),
	)
}

type backendMetric struct {
	name, help string
	typ        promtext.Type
	value      func(*backend) float64
}

// backendMetrics are the per-backend series with no label but backend.
var backendMetrics = []backendMetric{
	{"epollnet_proxy_backend_up", "1 when the backend gets connections, 0 while it is down.", promtext.Gauge,
		func(b *backend) float64 { return boolValue(!b.down.Load()) }},
	{"epollnet_proxy_backend_weight", "The backend's --backend weight.", promtext.Gauge,
		func(b *backend) float64 { return float64(b.weight) }},
	{"epollnet_proxy_backend_connections_active", "Relays to the backend now, connecting ones included.", promtext.Gauge,
		func(b *backend) float64 { return float64(max(b.active.Load(), 0)) }},
	{"epollnet_proxy_backend_connections_total", "Connects to the backend that succeeded.", promtext.Counter,
		func(b *backend) float64 { return float64(b.total.Load()) }},
	{"epollnet_proxy_backend_retries_total", "Clients sent on to another backend after a failed connect to this one.", promtext.Counter,
		func(b *backend) float64 { return float64(b.retries.Load()) }},
	{"epollnet_proxy_backend_sent_bytes_total", "Bytes relayed from clients to the backend, counted when a relay ends.", promtext.Counter,
		func(b *backend) float64 { return float64(b.up.Load()) }},
	{"epollnet_proxy_backend_received_bytes_total", "Bytes relayed from the backend to clients, counted when a relay ends.", promtext.Counter,
		func(b *backend) float64 { return float64(b.dn.Load()) }},
}

// byClass is a per-backend, per-class counter family.
func byClass(name, help string, bs []*backend, counts func(*backend) *[numClasses]atomic.Uint64) promtext.Family {
	f := promtext.Family{Name: name, Help: help, Type: promtext.Counter}
	for _, b := range bs {
		cs := counts(b)
		for c := range cs {
			if epollnet.ErrorClass(c) == epollnet.ClassNone {
				continue
			}
			ls := append(backendLabel(b), promtext.Label{Name: "class", Value: epollnet.ErrorClass(c).String()})
			f.Samples = append(f.Samples, promtext.Sample{Labels: ls, Value: float64(cs[c].Load())})
		}
	}
	return f
}

// labelled is a per-backend counter family with one more label, of values.
func (p *proxy) labelled(name, help, label string, values []string, v func(*backend, int) uint64) promtext.Family {
	f := promtext.Family{Name: name, Help: help, Type: promtext.Counter}
	for _, b := range p.bs {
		for i, val := range values {
			ls := append(backendLabel(b), promtext.Label{Name: label, Value: val})
			f.Samples = append(f.Samples, promtext.Sample{Labels: ls, Value: float64(v(b, i))})
		}
	}
	return f
}

func backendLabel(b *backend) []promtext.Label {
	return []promtext.Label{{Name: "backend", Value: b.arg}}
}

func boolValue(v bool) float64 {
	if v {
		return 1
	}
	return 0
}

package serve

import (
	"github.com/epollnet/epollnet/cmd/epollnet/internal/cli"
	"github.com/epollnet/epollnet/cmd/epollnet/internal/daemon"
	"github.com/epollnet/epollnet/cmd/epollnet/internal/promtext"
)

// The endpoint (--metrics) is daemon.MetricsServer; these are serve's
// families: the engine's counters and serve's own.

// metricFamilies snapshots the engine's and serve's counters.
func (s *runningServer) metricFamilies() []promtext.Family {
	return append(daemon.EngineFamilies(s.eng.Stats()), s.serveFamilies()...)
}

// serveFamilies are serve's own counters, beside the engine's.
func (s *runningServer) serveFamilies() []promtext.Family {
	ops := promtext.Family{Name: "epollnet_serve_reads_total", Type: promtext.Counter,
		Help: "Reads handled (echo, discard)."}
	if s.o.proto == cli.ProtoHTTP {
		ops.Name, ops.Help = "epollnet_serve_requests_total", "HTTP requests answered."
	}
	for i := range s.st.perLoop {
		ops.Samples = append(ops.Samples, daemon.LoopSample(i, float64(s.st.perLoop[i].Load())))
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

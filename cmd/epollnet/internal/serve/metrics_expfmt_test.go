package serve

import (
	"bytes"
	"io"
	"math"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"

	"github.com/epollnet/epollnet/cmd/epollnet/internal/cli"
	"github.com/epollnet/epollnet/cmd/epollnet/internal/daemon"
	"github.com/epollnet/epollnet/cmd/epollnet/internal/promtext"
)

// The endpoint's output read by Prometheus' own parser
// (github.com/prometheus/common/expfmt), which nobody here wrote, beside
// promtext.Parse, which the other metrics tests use. (The engine itself
// exposes no Prometheus text: serve turns Engine.Stats into families.)

// expfmtParse parses body as a Prometheus server would, with the legacy
// (strictest) name validation, and checks that every family has HELP and
// a TYPE this package writes.
func expfmtParse(t *testing.T, body []byte) map[string]*dto.MetricFamily {
	t.Helper()
	p := expfmt.NewTextParser(model.LegacyValidation)
	fams, err := p.TextToMetricFamilies(bytes.NewReader(body))
	if err != nil {
		t.Fatalf("expfmt refuses the exposition: %v\n%s", err, body)
	}
	if len(fams) == 0 {
		t.Fatalf("expfmt found no families in\n%s", body)
	}
	for name, f := range fams {
		switch {
		case f.GetHelp() == "":
			t.Errorf("%s: no HELP", name)
		case f.GetType() != dto.MetricType_COUNTER && f.GetType() != dto.MetricType_GAUGE:
			t.Errorf("%s: type %v", name, f.GetType())
		}
	}
	return fams
}

// expfmtValue is a sample's value, counter or gauge.
func expfmtValue(m *dto.Metric) float64 {
	if m.Counter != nil {
		return m.Counter.GetValue()
	}
	return m.Gauge.GetValue()
}

// checkSameAsPromtext checks that expfmt and promtext.Parse read body
// alike: the same families, help, types, and per family the same samples
// (labels and values) in the same order.
func checkSameAsPromtext(t *testing.T, body []byte, fams map[string]*dto.MetricFamily) {
	t.Helper()
	ours, err := promtext.Parse(bytes.NewReader(body))
	if err != nil {
		t.Fatalf("promtext.Parse: %v", err)
	}
	if len(ours) != len(fams) {
		t.Errorf("promtext reads %d families, expfmt %d", len(ours), len(fams))
	}
	for _, f := range ours {
		e, ok := fams[f.Name]
		if !ok {
			t.Errorf("%s: not read by expfmt", f.Name)
			continue
		}
		if e.GetHelp() != f.Help || strings.ToLower(e.GetType().String()) != string(f.Type) {
			t.Errorf("%s: help %q type %s, expfmt %q %s", f.Name, f.Help, f.Type, e.GetHelp(), e.GetType())
		}
		if len(e.Metric) != len(f.Samples) {
			t.Errorf("%s: %d samples, expfmt %d", f.Name, len(f.Samples), len(e.Metric))
			continue
		}
		for i, s := range f.Samples {
			m := e.Metric[i]
			var labels []promtext.Label
			for _, l := range m.Label {
				labels = append(labels, promtext.Label{Name: l.GetName(), Value: l.GetValue()})
			}
			v := expfmtValue(m)
			if !slices.Equal(labels, s.Labels) || v != s.Value && !(math.IsNaN(v) && math.IsNaN(s.Value)) {
				t.Errorf("%s sample %d: %v %v, expfmt %v %v", f.Name, i, s.Labels, s.Value, labels, v)
			}
		}
	}
}

// expfmtSum adds up a family's values whose labels include want.
func expfmtSum(f *dto.MetricFamily, want ...promtext.Label) float64 {
	var v float64
	for _, m := range f.GetMetric() {
		var have []promtext.Label
		for _, l := range m.Label {
			have = append(have, promtext.Label{Name: l.GetName(), Value: l.GetValue()})
		}
		if containsLabels(have, want) {
			v += expfmtValue(m)
		}
	}
	return v
}

// TestServeMetricsExpfmt scrapes "serve --metrics" after the traffic
// TestServeMetricsEndpoint sends (5 keep-alive requests, 3 on connections
// of their own, one malformed) and reads the body with expfmt: the
// Content-Type is the text format's, every family parses with HELP and
// TYPE, expfmt reads what promtext.Parse reads, and the values are those
// TestServeMetricsEndpoint expects.
func TestServeMetricsExpfmt(t *testing.T) {
	url, keep := metricsTraffic(t)
	defer keep.Close()

	t.Cleanup(http.DefaultClient.CloseIdleConnections)
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	body, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	if err != nil || resp.StatusCode != 200 {
		t.Fatalf("GET %s: %s, %v", url, resp.Status, err)
	}
	if f := expfmt.ResponseFormat(resp.Header); f.FormatType() != expfmt.TypeTextPlain {
		t.Errorf("Content-Type %q: expfmt reads format %q", resp.Header.Get("Content-Type"), f)
	}
	fams := expfmtParse(t, body)
	checkSameAsPromtext(t, body, fams)

	for _, lm := range daemon.EngineMetrics() {
		f := fams[lm.Name]
		want := dto.MetricType_COUNTER
		if lm.Type == promtext.Gauge {
			want = dto.MetricType_GAUGE
		}
		switch {
		case f == nil:
			t.Errorf("no %s", lm.Name)
		case f.GetType() != want:
			t.Errorf("%s: type %v, want %v", lm.Name, f.GetType(), want)
		case len(f.Metric) != 2 || expfmtSum(f, promtext.Label{Name: "loop", Value: "0"})+
			expfmtSum(f, promtext.Label{Name: "loop", Value: "1"}) != expfmtSum(f):
			t.Errorf("%s: want one sample per loop, loop=\"0\" and \"1\": %v", lm.Name, f.Metric)
		}
	}
	dials := fams["epollnet_dial_failures_total"]
	if dials == nil || dials.GetType() != dto.MetricType_COUNTER || len(dials.Metric) != 2*8 || expfmtSum(dials) != 0 {
		t.Errorf("dial failures: %v", dials)
	}
	for _, c := range []struct {
		name string
		typ  dto.MetricType
		want float64
	}{
		{"epollnet_serve_requests_total", dto.MetricType_COUNTER, 8},
		{"epollnet_serve_bad_requests_total", dto.MetricType_COUNTER, 1},
		{"epollnet_serve_header_timeouts_total", dto.MetricType_COUNTER, 0},
		{"epollnet_serve_refused_total", dto.MetricType_COUNTER, 0},
		{"epollnet_serve_max_connections", dto.MetricType_GAUGE, 1000},
		{"epollnet_accepted_total", dto.MetricType_COUNTER, 5},
		{"epollnet_connections_opened_total", dto.MetricType_COUNTER, 5},
		{"epollnet_connections_open", dto.MetricType_GAUGE, 1},
		{"epollnet_accept_pauses_total", dto.MetricType_COUNTER, 0},
		{"epollnet_cap_pauses_total", dto.MetricType_COUNTER, 0},
		{"epollnet_proxy_rejected_total", dto.MetricType_COUNTER, 0},
	} {
		if f := fams[c.name]; f == nil || f.GetType() != c.typ || expfmtSum(f) != c.want {
			t.Errorf("%s: %v %v, want %v %v", c.name, f.GetType(), expfmtSum(f), c.typ, c.want)
		}
	}
	for _, name := range []string{"epollnet_read_bytes_total", "epollnet_written_bytes_total",
		"epollnet_epoll_wakeups_total", "epollnet_epoll_events_total", "epollnet_connections_closed_total"} {
		if expfmtSum(fams[name]) <= 0 {
			t.Errorf("%s is %v after traffic", name, expfmtSum(fams[name]))
		}
	}
	if st := expfmtSum(fams["epollnet_serve_start_time_seconds"]); time.Since(time.UnixMilli(int64(st*1000))) > time.Minute {
		t.Errorf("start time %v", st)
	}
}

// TestServeMetricsExpfmtEveryProto: what the endpoint writes for each
// protocol parses with expfmt, as promtext.Parse reads it.
func TestServeMetricsExpfmtEveryProto(t *testing.T) {
	for _, proto := range []string{cli.ProtoEcho, cli.ProtoDiscard, cli.ProtoHTTP} {
		t.Run(proto, func(t *testing.T) {
			s, _ := testServer(t, proto, nil)
			var b bytes.Buffer
			if err := promtext.Write(&b, s.metricFamilies()); err != nil {
				t.Fatal(err)
			}
			fams := expfmtParse(t, b.Bytes())
			checkSameAsPromtext(t, b.Bytes(), fams)
			if len(fams) != len(s.metricFamilies()) {
				t.Errorf("expfmt reads %d families, %d written", len(fams), len(s.metricFamilies()))
			}
		})
	}
}

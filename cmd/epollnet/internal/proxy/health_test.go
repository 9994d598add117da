package proxy

import (
	"bytes"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/epollnet/epollnet"
	"github.com/epollnet/epollnet/cmd/epollnet/internal/clitest"
	"github.com/epollnet/epollnet/cmd/epollnet/internal/daemon"
	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
)

// testBackends makes backends of the given weights for a picker.
func testBackends(weights ...int) []*backend {
	var bs []*backend
	for i, w := range weights {
		bs = append(bs, &backend{backendSpec: backendSpec{arg: fmt.Sprint(i), weight: w}, idx: i})
	}
	return bs
}

// TestPickerSmoothWeightedRoundRobin: weights 5, 1, 1 interleave as
// nginx's smooth round robin does, a down backend is skipped, and with
// every backend down each is still offered.
func TestPickerSmoothWeightedRoundRobin(t *testing.T) {
	bs := testBackends(5, 1, 1)
	h := &health{fails: 1, downTime: time.Hour}
	p := picker{bs: bs, h: h, current: make([]int, len(bs))}
	var seq strings.Builder
	for range 14 {
		seq.WriteString(p.pick(&tried{}, 0).arg)
	}
	if got := seq.String(); got != "00102000010200" {
		t.Errorf("sequence %s, want 0010200 twice", got)
	}
	bs[0].failedConnect(0, h)
	if b := p.pick(&tried{}, 1); b.arg == "0" {
		t.Error("a down backend was picked while others are up")
	}
	bs[1].failedConnect(0, h)
	bs[2].failedConnect(0, h)
	var all tried
	for range 3 {
		b := p.pick(&all, 1)
		if b == nil || all.has(b.idx) {
			t.Fatalf("with every backend down, pick gave %v after %v", b, all)
		}
		all.add(b.idx)
	}
	if b := p.pick(&all, 1); b != nil {
		t.Errorf("every backend tried, pick gave %s", b.arg)
	}
	if b := p.pick(&tried{}, int64(time.Hour)); b == nil {
		t.Error("after --down-time, no backend is offered")
	}
}

// TestPickerLeastConnWeighted: leastconn picks the fewest active relays
// per unit of weight.
func TestPickerLeastConnWeighted(t *testing.T) {
	bs := testBackends(1, 3)
	p := picker{bs: bs, leastConn: true, h: &health{fails: 1}, current: make([]int, 2)}
	bs[0].active.Store(1)
	bs[1].active.Store(2) // 2/3 < 1/1
	if b := p.pick(&tried{}, 0); b != bs[1] {
		t.Errorf("picked %s, want 1", b.arg)
	}
	bs[1].active.Store(4) // 4/3 > 1/1
	if b := p.pick(&tried{}, 0); b != bs[0] {
		t.Errorf("picked %s, want 0", b.arg)
	}
}

// TestProxyActiveChecks: with --check-interval, a backend nobody listens
// on is marked down by the checks alone, before any client, and marked up
// again by a check once it listens; each transition is counted once.
func TestProxyActiveChecks(t *testing.T) {
	clitest.CheckLeaks(t)
	addr := refusedAddr(t)
	p, _ := startProxy(t, []string{addr}, func(o *proxyOptions) {
		o.checkInterval, o.fails = 20*time.Millisecond, 2
	})
	waitFor(t, "the checks to mark the backend down", func() bool {
		v, _ := metric(p, "epollnet_proxy_backend_up", "backend", addr)
		return v == 0
	})
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		t.Skipf("the port was taken meanwhile: %v", err)
	}
	defer ln.Close()
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			c.Close()
		}
	}()
	waitFor(t, "a check to mark the backend up", func() bool {
		v, _ := metric(p, "epollnet_proxy_backend_up", "backend", addr)
		return v == 1
	})
	downs, _ := metric(p, "epollnet_proxy_backend_transitions_total", "backend", addr, "to", "down")
	ups, _ := metric(p, "epollnet_proxy_backend_transitions_total", "backend", addr, "to", "up")
	failed, _ := metric(p, "epollnet_proxy_backend_checks_total", "backend", addr, "result", "failed")
	if downs != 1 || ups != 1 || failed < 2 {
		t.Errorf("%v down and %v up transitions after %v failed checks; want 1, 1 and at least 2", downs, ups, failed)
	}
}

// TestProxyMetricsParse: the endpoint's output, after traffic and a
// refused backend, is read by Prometheus' own parser
// (github.com/prometheus/common/expfmt), with per-backend series.
func TestProxyMetricsParse(t *testing.T) {
	clitest.CheckLeaks(t)
	good, _ := echoBackend(t)
	bad := refusedAddr(t)
	args := []string{"--listen", "127.0.0.1:0", "--backend", bad, "--backend", good + ",weight=2",
		"--metrics", "127.0.0.1:0", "--loops", "1"}
	addr, stderr := clitest.StartServe(t, Run, args...)
	if errs := clitest.Streams(addr, 4, 100); clitest.Failures(errs) != "0 failed" {
		t.Fatal(clitest.Failures(errs))
	}
	url := "http://" + strings.TrimSuffix(strings.SplitN(strings.SplitN(stderr.String(), "metrics on http://", 2)[1], "\n", 2)[0], "/metrics") + "/metrics"
	t.Cleanup(http.DefaultClient.CloseIdleConnections)
	var fams map[string]*dto.MetricFamily
	waitFor(t, "the relays to be counted", func() bool {
		resp, err := http.Get(url)
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		parser := expfmt.NewTextParser(model.LegacyValidation)
		fams, err = parser.TextToMetricFamilies(bytes.NewReader(body))
		if err != nil {
			t.Fatalf("expfmt refuses the exposition: %v\n%s", err, body)
		}
		return sampleValue(fams["epollnet_proxy_clients_open"], "", "") == 0 &&
			sampleValue(fams["epollnet_proxy_backend_connections_total"], "backend", good) == 4
	})
	for name, f := range fams {
		if f.GetHelp() == "" || f.GetType() != dto.MetricType_COUNTER && f.GetType() != dto.MetricType_GAUGE {
			t.Errorf("%s: help %q, type %v", name, f.GetHelp(), f.GetType())
		}
	}
	for _, c := range []struct {
		name, backend string
		want          float64
	}{
		{"epollnet_proxy_backend_weight", good, 2},
		{"epollnet_proxy_backend_up", good, 1},
		{"epollnet_proxy_backend_sent_bytes_total", good, 400},
		{"epollnet_proxy_backend_received_bytes_total", good, 400},
		{"epollnet_proxy_backend_connections_active", good, 0},
		{"epollnet_proxy_backend_connections_total", bad, 0},
	} {
		if v := sampleValue(fams[c.name], "backend", c.backend); v != c.want {
			t.Errorf("%s{backend=%q} = %v, want %v", c.name, c.backend, v, c.want)
		}
	}
	refused := fams["epollnet_proxy_backend_connect_failures_total"]
	if n := len(refused.GetMetric()); n != 2*8 {
		t.Errorf("%d connect failure series, want 8 classes for each of 2 backends", n)
	}
	if v := sampleValue(refused, "backend", bad, "class", "refused"); v < 1 {
		t.Errorf("refused connects to %s: %v", bad, v)
	}
}

// sampleValue is the value of f's first sample with the given labels.
func sampleValue(f *dto.MetricFamily, labels ...string) float64 {
	for _, m := range f.GetMetric() {
		ok := true
		for i := 0; i+1 < len(labels); i += 2 {
			if labels[i] == "" {
				continue
			}
			found := false
			for _, l := range m.GetLabel() {
				found = found || l.GetName() == labels[i] && l.GetValue() == labels[i+1]
			}
			ok = ok && found
		}
		if !ok {
			continue
		}
		if m.Counter != nil {
			return m.Counter.GetValue()
		}
		return m.Gauge.GetValue()
	}
	return -1
}

// TestProxyMetricsDocumented keeps docs/cli.md's proxy section and the
// proxy's own families in step.
func TestProxyMetricsDocumented(t *testing.T) {
	doc, err := os.ReadFile("../../../../docs/cli.md")
	if err != nil {
		t.Fatal(err)
	}
	section := string(doc)
	i := strings.Index(section, "\n## proxy")
	if i < 0 {
		t.Fatal(`docs/cli.md has no "## proxy" section`)
	}
	section = section[i+1:]
	if j := strings.Index(section, "\n## "); j >= 0 {
		section = section[:j]
	}
	documented := map[string]bool{}
	for _, m := range regexp.MustCompile("`(epollnet_proxy_[a-z_]+)").FindAllStringSubmatch(section, -1) {
		documented[m[1]] = true
	}
	e, err := epollnet.New(epollnet.Options{Loops: 1})
	if err != nil {
		t.Fatal(err)
	}
	defer e.Abort()
	o := defaultProxyOptions()
	o.backends = []backendSpec{{arg: "x", weight: 1}}
	engine := map[string]bool{}
	for _, f := range daemon.EngineMetrics() {
		engine[f.Name] = true // epollnet_proxy_rejected_total is the engine's: PROXY headers refused
	}
	for _, f := range onEngine(e, o).metricFamilies() {
		if !strings.HasPrefix(f.Name, "epollnet_proxy_") || engine[f.Name] {
			continue
		}
		if !documented[f.Name] {
			t.Errorf("%s is not documented in docs/cli.md", f.Name)
		}
		delete(documented, f.Name)
	}
	for name := range documented {
		t.Errorf("docs/cli.md documents %s, which the proxy does not export", name)
	}
}

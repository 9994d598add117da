package serve

import (
	"io"
	"net"
	"net/http"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/epollnet/epollnet/cmd/epollnet/internal/cli"
	"github.com/epollnet/epollnet/cmd/epollnet/internal/clitest"
	"github.com/epollnet/epollnet/cmd/epollnet/internal/daemon"
	"github.com/epollnet/epollnet/cmd/epollnet/internal/promtext"
)

// scrape fetches url and parses it strictly as the Prometheus text format.
func scrape(t *testing.T, url string) map[string]promtext.Family {
	t.Helper()
	t.Cleanup(http.DefaultClient.CloseIdleConnections)
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != 200 || resp.Header.Get("Content-Type") != promtext.ContentType {
		t.Fatalf("GET %s: %s, Content-Type %q", url, resp.Status, resp.Header.Get("Content-Type"))
	}
	fams, err := promtext.Parse(resp.Body)
	if err != nil {
		t.Fatalf("GET %s: not the text format: %v", url, err)
	}
	byName := map[string]promtext.Family{}
	for _, f := range fams {
		byName[f.Name] = f
	}
	return byName
}

// sum adds up a family's samples whose labels include want.
func sum(f promtext.Family, want ...promtext.Label) float64 {
	var v float64
	for _, s := range f.Samples {
		if containsLabels(s.Labels, want) {
			v += s.Value
		}
	}
	return v
}

func containsLabels(have, want []promtext.Label) bool {
	for _, w := range want {
		if !slices.Contains(have, w) {
			return false
		}
	}
	return true
}

// TestServeMetricsEndpoint scrapes "serve --metrics" after known traffic:
// every engine counter is there per loop with its type and help, dial
// failures per loop and class, serve's own counters, and the values
// match the traffic. Only GET /metrics is served.
func TestServeMetricsEndpoint(t *testing.T) {
	url, keep := metricsTraffic(t)
	defer keep.Close()

	fams := scrape(t, url)
	for _, lm := range daemon.EngineMetrics() {
		f, ok := fams[lm.Name]
		switch {
		case !ok:
			t.Errorf("no %s", lm.Name)
		case f.Type != lm.Type || f.Help == "":
			t.Errorf("%s: type %q, help %q", lm.Name, f.Type, f.Help)
		case len(f.Samples) != 2 || sum(f, promtext.Label{Name: "loop", Value: "0"}) != f.Samples[0].Value ||
			!containsLabels(f.Samples[1].Labels, []promtext.Label{{Name: "loop", Value: "1"}}):
			t.Errorf("%s: want one sample per loop, loop=\"0\" and \"1\": %+v", lm.Name, f.Samples)
		}
	}
	dials := fams["epollnet_dial_failures_total"]
	var classes []string
	for _, s := range dials.Samples {
		if len(s.Labels) != 2 || s.Labels[0].Name != "loop" || s.Labels[1].Name != "class" || s.Value != 0 {
			t.Errorf("dial failure sample %+v", s)
		}
		if s.Labels[0].Value == "0" {
			classes = append(classes, s.Labels[1].Value)
		}
	}
	if want := []string{"refused", "timeout", "unreachable", "reset", "canceled", "no-local-ports", "tls", "other"}; !slices.Equal(classes, want) || dials.Type != promtext.Counter {
		t.Errorf("dial failure classes %v (%s), want %v", classes, dials.Type, want)
	}

	for _, c := range []struct {
		name string
		typ  promtext.Type
		want float64
	}{
		{"epollnet_serve_requests_total", promtext.Counter, 8},
		{"epollnet_serve_bad_requests_total", promtext.Counter, 1},
		{"epollnet_serve_header_timeouts_total", promtext.Counter, 0},
		{"epollnet_serve_refused_total", promtext.Counter, 0},
		{"epollnet_serve_max_connections", promtext.Gauge, 1000},
		{"epollnet_accepted_total", promtext.Counter, 5},
		{"epollnet_connections_opened_total", promtext.Counter, 5},
		{"epollnet_connections_open", promtext.Gauge, 1},
		{"epollnet_accept_pauses_total", promtext.Counter, 0},
		{"epollnet_cap_pauses_total", promtext.Counter, 0},
		{"epollnet_proxy_rejected_total", promtext.Counter, 0},
	} {
		if f := fams[c.name]; f.Type != c.typ || sum(f) != c.want {
			t.Errorf("%s: %s %v, want %s %v", c.name, f.Type, sum(f), c.typ, c.want)
		}
	}
	for _, name := range []string{"epollnet_read_bytes_total", "epollnet_written_bytes_total",
		"epollnet_epoll_wakeups_total", "epollnet_epoll_events_total", "epollnet_connections_closed_total"} {
		if sum(fams[name]) <= 0 {
			t.Errorf("%s is %v after traffic", name, sum(fams[name]))
		}
	}
	if st := sum(fams["epollnet_serve_start_time_seconds"]); time.Since(time.UnixMilli(int64(st*1000))) > time.Minute {
		t.Errorf("start time %v", st)
	}

	for _, req := range []struct{ method, path string }{{"POST", "/metrics"}, {"GET", "/"}, {"GET", "/metricsx"}} {
		r, _ := http.NewRequest(req.method, strings.TrimSuffix(url, "/metrics")+req.path, nil)
		resp, err := http.DefaultClient.Do(r)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != 405 && resp.StatusCode != 404 {
			t.Errorf("%s %s: %s", req.method, req.path, resp.Status)
		}
	}
}

// TestServeMetricsNameTheOperations: echo and discard count reads, not
// requests, and have no HTTP counters.
func TestServeMetricsNameTheOperations(t *testing.T) {
	s, _ := testServer(t, cli.ProtoEcho, nil)
	var names []string
	for _, f := range s.metricFamilies() {
		names = append(names, f.Name)
	}
	if !slices.Contains(names, "epollnet_serve_reads_total") || slices.Contains(names, "epollnet_serve_requests_total") ||
		slices.Contains(names, "epollnet_serve_bad_requests_total") {
		t.Errorf("echo's metrics: %v", names)
	}
	if err := promtext.Write(io.Discard, s.metricFamilies()); err != nil {
		t.Error(err)
	}
}

// metricsTraffic starts "serve --proto http --metrics" with two loops and
// sends the traffic the metrics tests expect: 5 requests on a connection
// it returns open, 3 on connections of their own, one malformed request
// (400). It returns the endpoint's URL once the server has closed the
// short connections (their close ends after the client's FIN, a moment
// after the client read the last byte): the open-connections gauge, read
// through the endpoint, is down to the one kept open.
func metricsTraffic(t *testing.T) (url string, keep net.Conn) {
	t.Helper()
	_, out := clitest.StartServe(t, Run, "--proto", "http", "--listen", "127.0.0.1:0", "--loops", "2",
		"--max-conns", "1000", "--metrics", "127.0.0.1:0")
	addr := regexp.MustCompile(` on tcp (\S+) \(`).FindStringSubmatch(out.String())[1]
	m := regexp.MustCompile(`metrics on (http://\S+/metrics)`).FindStringSubmatch(out.String())
	if m == nil {
		t.Fatalf("no metrics line:\n%s", out.String())
	}
	url = m[1]
	keep, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	io.WriteString(keep, strings.Repeat("GET / HTTP/1.1\r\nHost: x\r\n\r\n", 5))
	if got, _ := clitest.ReadAll(t, keep, 200*time.Millisecond); strings.Count(got, "200 OK") != 5 {
		t.Fatalf("keep-alive replies: %q", got)
	}
	for range 3 {
		if reply, _ := httpExchange(t, addr, "GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n", time.Second); !strings.Contains(reply, "200 OK") {
			t.Fatalf("reply %q", reply)
		}
	}
	if reply, _ := httpExchange(t, addr, "BAD\r\n\r\n", time.Second); !strings.Contains(reply, " 400 ") {
		t.Fatalf("reply to a malformed request: %q", reply)
	}
	deadline := time.Now().Add(5 * time.Second)
	for sum(scrape(t, url)["epollnet_connections_open"]) != 1 && time.Now().Before(deadline) {
		time.Sleep(5 * time.Millisecond)
	}
	return url, keep
}

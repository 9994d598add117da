package main

import (
	"math"
	"strings"
	"testing"
)

// TestProxyScenarios: every proxy scenario has the direct row and the
// pair reference, and loads the proxy as an echo or churn scenario of the
// same shape.
func TestProxyScenarios(t *testing.T) {
	n := 0
	for _, sc := range scenarios {
		if !sc.isProxy() {
			continue
		}
		n++
		names := map[string]bool{}
		for _, im := range sc.impls() {
			names[im.name] = true
		}
		if !names[direct] || !names[pairRef] {
			t.Errorf("%s: rows %v lack %s or %s", sc.name, names, direct, pairRef)
		}
		ls := sc.loadScenario()
		want := echoLoad
		if sc.kind == proxyChurn {
			want = churnServer
		}
		if ls.kind != want || ls.conns != sc.conns || ls.size != sc.size || ls.depth != sc.depth {
			t.Errorf("%s: load scenario %+v", sc.name, ls)
		}
	}
	if n != 4 {
		t.Errorf("%d proxy scenarios, want 4", n)
	}
}

// TestPeerConfigs: HAProxy splices only in its splice row and runs one
// thread; nginx passes half-closes on, loads its stream module when it is
// a dynamic one, and runs one worker in the foreground.
func TestPeerConfigs(t *testing.T) {
	plain := strings.Join(haproxyConf(false, "127.0.0.1:1", "127.0.0.1:2"), "\n")
	splice := strings.Join(haproxyConf(true, "127.0.0.1:1", "127.0.0.1:2"), "\n")
	for _, want := range []string{"nbthread 1", "mode tcp", "bind 127.0.0.1:1", "server c 127.0.0.1:2"} {
		if !strings.Contains(plain, want) || !strings.Contains(splice, want) {
			t.Errorf("haproxy configuration lacks %q", want)
		}
	}
	if strings.Contains(plain, "splice") || !strings.Contains(splice, "option splice-auto") {
		t.Errorf("splice-auto in the wrong row:\n%s\n---\n%s", plain, splice)
	}
	ngx := strings.Join(nginxConf("/m/ngx_stream_module.so", "/d", "127.0.0.1:1", "127.0.0.1:2"), "\n")
	for _, want := range []string{"load_module /m/ngx_stream_module.so;", "worker_processes 1;", "daemon off;",
		"proxy_half_close on;", "listen 127.0.0.1:1;", "proxy_pass 127.0.0.1:2;"} {
		if !strings.Contains(ngx, want) {
			t.Errorf("nginx configuration lacks %q:\n%s", want, ngx)
		}
	}
	if strings.Contains(strings.Join(nginxConf("", "/d", "a:1", "a:2"), "\n"), "load_module") {
		t.Error("load_module for a built-in stream module")
	}
}

// TestLoadgenLatencyFields: the echo result line's percentiles reach the
// sample.
func TestLoadgenLatencyFields(t *testing.T) {
	kv := keyValues("result conns=100 size=64 depth=1 secs=5.000 msgs=500 rate=100.0 min_conn=5 max_conn=5 " +
		"errors=0 p50_us=412.5 p99_us=1830.0 p999_us=5000.0 max_us=7000.0")
	if kv.float("p50_us") != 412.5 || kv.float("p99_us") != 1830 || kv["errors"] != "0" {
		t.Fatalf("keyValues = %v", kv)
	}
}

// TestProxyRatios: the same-window ratio divides epollnet's CPU per op by
// the peer's; the best peer is the one with the highest median ratio;
// the p99 added is paired by round; the solo reading divides by the
// cheapest peer of each round.
func TestProxyRatios(t *testing.T) {
	op := func(round int, us float64, p99 float64) sample {
		return sample{round: round, count: 1000, srvNs: int64(us * 1000 * 1000), p99: p99}
	}
	tb := &table{sc: scenario{kind: proxyEcho}, proxy: &proxyTable{pairs: map[string][]pairRun{
		"nginx":   {{round: 1, ref: op(1, 9, 0), peer: op(1, 10, 0)}, {round: 2, ref: op(2, 8, 0), peer: op(2, 10, 0)}},
		"haproxy": {{round: 1, ref: op(1, 9, 0), peer: op(1, 9, 0)}, {round: 2, ref: op(2, 10, 0), peer: op(2, 10, 0)}},
	}}}
	dir := &result{im: impl{name: direct}, samples: []sample{op(1, 1, 100), op(2, 1, 300)}}
	ref := &result{im: impl{name: pairRef}, samples: []sample{op(1, 9, 150), op(2, 9, 400)}}
	ngx := &result{im: impl{name: "nginx", label: "nginx"}, samples: []sample{op(1, 10, 0), op(2, 12, 0)}}
	hap := &result{im: impl{name: "haproxy", label: "HAProxy"}, samples: []sample{op(1, 9, 0), op(2, 6, 0)}}
	tb.rows = []*result{dir, ref, ngx, hap}
	if got := tb.proxy.pairs["nginx"][0].ratio(); math.Abs(got-0.9) > 1e-9 {
		t.Errorf("pair ratio = %v, want 0.9", got)
	}
	s := tb.bestPeerReading()
	if !strings.Contains(s, "same window: 1.000×** (HAProxy") {
		t.Errorf("best peer reading %q, want HAProxy at 1.000×", s)
	}
	// Round 1: 9 over min(10, 9) = 1.0; round 2: 9 over min(12, 6) = 1.5.
	if !strings.Contains(s, "1.250× (1.000×–1.500×)") {
		t.Errorf("solo reading %q, want 1.250× (1.000×–1.500×)", s)
	}
	if got := addedP99(ref, dir); got != "75" { // rounds: 50 and 100
		t.Errorf("addedP99 = %s, want 75", got)
	}
	if isPeer(direct) || isPeer("epollnet-splice") || !isPeer("haproxy-splice") {
		t.Error("isPeer")
	}
}

package main

import (
	"runtime"
	"slices"
	"strings"
	"testing"
)

// TestParseChurnLines reads loadgen -C's and dialchurn's output: the
// counts, and the errors with the EADDRNOTAVAIL ones named.
func TestParseChurnLines(t *testing.T) {
	var s sample
	err := parseChurnLines("start\nresult churn conns=100 size=64 secs=5.001 msgs=190000 rate=37992.4 "+
		"min_conn=1800 max_conn=1950 errors=0 noport=0\nverify ok conns=100\n", &s)
	if err != nil || s.count != 190000 || s.secs != 5.001 || s.rate != 37992.4 || s.problem != "" {
		t.Fatalf("parseChurnLines = %+v, %v", s, err)
	}
	s = sample{}
	parseChurnLines("result churn secs=1 msgs=5 rate=5 errors=7 noport=3\nverify FAILED errors=7 missing_echo=0\n", &s)
	if !strings.Contains(s.problem, "errors=7") || !strings.Contains(s.problem, "3 of them EADDRNOTAVAIL") {
		t.Errorf("problem %q", s.problem)
	}
	if err := parseChurnLines("loadgen: usage\n", &sample{}); err == nil {
		t.Error("no result line accepted")
	}
}

// TestParseBenchJSON: epollnet bench's requests are the connections, one
// request each, over its own window.
func TestParseBenchJSON(t *testing.T) {
	var s sample
	err := parseBenchJSON([]byte(`{"duration_s": 2, "requests": 50000, "connects": 50010, "error_total": 0,
		"errors": {"no-local-ports": 0}}`), &s)
	if err != nil || s.count != 50000 || s.secs != 2 || s.rate != 25000 || s.problem != "" {
		t.Fatalf("parseBenchJSON = %+v, %v", s, err)
	}
	parseBenchJSON([]byte(`{"duration_s": 1, "requests": 1, "error_total": 4, "errors": {"no-local-ports": 4}}`), &s)
	if !strings.Contains(s.problem, "4 EADDRNOTAVAIL") {
		t.Errorf("problem %q", s.problem)
	}
	if err := parseBenchJSON([]byte("epollnet bench: refusing"), &s); err == nil {
		t.Error("non-JSON accepted")
	}
}

// TestClientCostPerOp: in churnClient scenarios the cost per connection is
// the client's CPU, elsewhere the server's.
func TestClientCostPerOp(t *testing.T) {
	s := sample{count: 1000, srvNs: 20e6, cliNs: 40e6}
	if got := s.cpuPerOp(); got != 20 {
		t.Errorf("server cost %v µs, want 20", got)
	}
	s.clientCost = true
	if got := s.cpuPerOp(); got != 40 {
		t.Errorf("client cost %v µs, want 40", got)
	}
}

// TestClientArgv: every client gets the same load: -c, the size, the
// duration and -sources source addresses; bench one connection per
// request.
func TestClientArgv(t *testing.T) {
	o := &options{dir: "/b", sources: 3, procs: 1, loops: 1}
	o.dur = 5e9
	sc := scenario{kind: churnClient, conns: 100, size: 64}
	for _, im := range clientImpls {
		argv := strings.Join(clientArgv(o, sc, im, "127.0.0.1:9"), " ")
		for _, want := range []string{"127.0.0.1:9", "100", "64"} {
			if !strings.Contains(argv, want) {
				t.Errorf("%s: %q lacks %q", im.name, argv, want)
			}
		}
		if im.name == "epollnet" {
			if !strings.Contains(argv, "--requests-per-conn 1") || strings.Count(argv, "--source 127.0.0.") != 3 ||
				!strings.Contains(argv, "-d 5s") || !strings.Contains(argv, "--source 127.0.0.4") {
				t.Errorf("bench argv %q", argv)
			}
		} else if !strings.Contains(argv, "-b 3") || !strings.Contains(argv, "-w 0") || !strings.Contains(argv, "-d 5.000") {
			t.Errorf("%s argv %q", im.name, argv)
		}
	}
}

// TestScenarioServers: churnClient rows run against the C server; others
// against their own implementation.
func TestScenarioServers(t *testing.T) {
	for _, sc := range scenarios {
		for _, im := range sc.impls() {
			srv := sc.server(im)
			if sc.kind == churnClient && srv.name != cref || sc.kind != churnClient && srv != im {
				t.Errorf("%s: row %s runs against %s", sc.name, im.label, srv.name)
			}
		}
		if sc.unit() == "" || sc.cost() == "" {
			t.Errorf("%s: no unit or cost", sc.name)
		}
	}
}

// TestScaleImpls: the C reference, one loop, and 2 and N loops each with
// SO_REUSEPORT and one listener, N being the CPUs (no duplicate row when
// N is 2).
func TestScaleImpls(t *testing.T) {
	ims := scaleImpls()
	if ims[0].name != cref || ims[1].loops != 1 {
		t.Fatalf("scaleImpls starts with %+v", ims[:2])
	}
	var labels []string
	loops := map[int]int{}
	for _, im := range ims[2:] {
		labels = append(labels, im.label)
		loops[im.loops]++
	}
	slices.Sort(labels)
	if len(slices.Compact(labels)) != len(ims)-2 {
		t.Errorf("duplicate rows: %q", labels)
	}
	want := map[int]int{2: 2}
	if n := runtime.NumCPU(); n > 2 {
		want[n] = 2
	}
	if len(loops) != len(want) || loops[2] != 2 {
		t.Errorf("rows by loops %v, want %v", loops, want)
	}
}

// TestPerAddedLoop: (ratio − 1) / (loops − 1) against one loop.
func TestPerAddedLoop(t *testing.T) {
	one := &result{im: impl{name: "epollnet", loops: 1}, samples: []sample{{rate: 100}}}
	two := &result{im: impl{name: "epollnet", loops: 2}, samples: []sample{{rate: 188}}}
	four := &result{im: impl{name: "epollnet", loops: 4}, samples: []sample{{rate: 250}}}
	for _, tc := range []struct {
		r    *result
		want string
	}{{two, "+0.88"}, {four, "+0.50"}, {one, "–"}} {
		if got := perAddedLoop(tc.r, one); got != tc.want {
			t.Errorf("%d loops: %s, want %s", tc.r.im.loops, got, tc.want)
		}
	}
	if rowName(impl{name: "epollnet", loops: 2, oneListener: true}) != "epollnet-2L-1ln" || rowName(impl{name: "c"}) != "c" {
		t.Error("rowName")
	}
}

// TestBudgetUsed: a server's CPU over its quota for its loops.
func TestBudgetUsed(t *testing.T) {
	r := &result{im: impl{name: "epollnet", loops: 2}, samples: []sample{{srvNs: 63e7, secs: 1}}} // 63% of one CPU
	if got := budgetUsed(r, 35); got != "90" {
		t.Errorf("63%% of a 2 × 35%% quota: %s%%, want 90", got)
	}
	if got := budgetUsed(r, 0); got != "–" {
		t.Errorf("without a quota: %s", got)
	}
}

// TestSockstatTW reads the tw field of /proc/net/sockstat's TCP line.
func TestSockstatTW(t *testing.T) {
	const s = "sockets: used 180\nTCP: inuse 5 orphan 0 tw 131072 alloc 12 mem 1\nUDP: inuse 0 mem 0\n"
	if got := sockstatTW(s); got != 131072 {
		t.Errorf("sockstatTW = %d", got)
	}
	if got := sockstatTW("TCP: inuse 5\n"); got != -1 {
		t.Errorf("sockstatTW without tw = %d", got)
	}
	if n := timeWaitCount(); n < 0 {
		t.Errorf("timeWaitCount = %d on this machine", n)
	}
}

package main

import (
	"math"
	"os"
	"os/exec"
	"testing"
	"time"
)

func TestThousands(t *testing.T) {
	for in, want := range map[float64]string{0: "0", 999: "999", 1000: "1,000", 1234567.6: "1,234,568", -4200: "-4,200"} {
		if got := thousands(in); got != want {
			t.Errorf("thousands(%v) = %q, want %q", in, got, want)
		}
	}
	if got := thousands(math.NaN()); got != "–" {
		t.Errorf("thousands(NaN) = %q", got)
	}
}

func TestStatMedianMinMax(t *testing.T) {
	r := &result{samples: []sample{{rate: 3}, {rate: 1}, {rate: 10}, {rate: 2}}}
	if med, lo, hi := r.stat(rate); med != 2.5 || lo != 1 || hi != 10 {
		t.Fatalf("stat = %v %v %v, want 2.5 1 10", med, lo, hi)
	}
	r.samples = r.samples[:3]
	if med, _, _ := r.stat(rate); med != 3 {
		t.Fatalf("median of 3 1 10 = %v, want 3", med)
	}
}

const wrkOutput = `Running 5s test @ http://127.0.0.1:17101/
  1 threads and 100 connections
  Thread Stats   Avg      Stdev     Max   +/- Stdev
    Latency     2.22ms    4.16ms  40.38ms   93.84%
    Req/Sec    54.94k     8.07k   69.30k    70.00%
  274980 requests in 5.01s, 34.12MB read
  Socket errors: connect 0, read 3, write 0, timeout 1
  Non-2xx or 3xx responses: 2
Requests/sec:  54872.53
Transfer/sec:      6.75MB
`

func TestParseWrk(t *testing.T) {
	s, ok := parseWrk(wrkOutput)
	if !ok || s.count != 274980 || s.secs != 5.01 || s.rate != 54872.53 {
		t.Fatalf("parseWrk = %+v, %v", s, ok)
	}
	if want := "socket errors: 0/3/0/1 (connect/read/write/timeout) non-2xx: 2"; s.problem != want {
		t.Fatalf("problem = %q, want %q", s.problem, want)
	}
	if _, ok := parseWrk("unable to connect to 127.0.0.1:1 Connection refused"); ok {
		t.Fatal("parseWrk accepted an error message")
	}
}

func TestKeyValues(t *testing.T) {
	kv := keyValues("result conns=100 size=64 rate=1234.5 errors=0")
	if kv["conns"] != "100" || kv.float("rate") != 1234.5 || kv["errors"] != "0" {
		t.Fatalf("keyValues = %v", kv)
	}
}

func TestProcReaders(t *testing.T) {
	if _, err := cpuTicks(os.Getpid()); err != nil {
		t.Fatal(err)
	}
	// cpuNs advances by about the CPU this goroutine burns, not in 10 ms steps.
	a, err := cpuNs(os.Getpid())
	if err != nil {
		t.Fatal(err)
	}
	for b := a; b-a < 20e6; b, _ = cpuNs(os.Getpid()) {
		for i := 0; i < 1e5; i++ {
			sink += i
		}
	}
	if _, ok := schedNs(os.Getpid()); ok {
		b, _ := cpuNs(os.Getpid())
		if (b-a)%1e7 == 0 {
			t.Errorf("cpuNs moved by %d ns, a whole number of ticks, though sched is readable", b-a)
		}
	}
	if rss, err := rssKiB(os.Getpid()); err != nil || rss <= 0 {
		t.Fatalf("rssKiB = %d, %v", rss, err)
	}
	if n := readNetCounters(); n.drops < 0 || n.retrans < 0 {
		t.Fatalf("readNetCounters = %+v", n)
	}
	if lo, hi, err := portRange(); err != nil || lo > hi {
		t.Fatalf("portRange = %d, %d, %v", lo, hi, err)
	}
}

// TestPairedRatio: paired divides each round by the C run of the same
// round and takes the median; rounds C lacks are skipped. Here the machine
// slowed down in round 3 and r has an extra, slow round 4: the ratio of
// the medians is 0.85 though r was at least 1.5 times C in every round
// they shared; the paired ratio is 2.00.
func TestPairedRatio(t *testing.T) {
	c := &result{samples: []sample{{round: 1, rate: 100}, {round: 2, rate: 100}, {round: 3, rate: 10}}}
	r := &result{samples: []sample{{round: 1, rate: 200}, {round: 2, rate: 150}, {round: 3, rate: 20}, {round: 4, rate: 1}}}
	if got := ratio(r, c, rate); got != "0.85×" {
		t.Errorf("ratio of medians %s, want 0.85×", got)
	}
	if got := paired(r, c, rate); got != "2.00×" {
		t.Errorf("paired %s, want 2.00× (rounds 1-3: 2.0, 1.5, 2.0)", got)
	}
	if got := paired(r, &result{}, rate); got != "–" {
		t.Errorf("paired without C runs %s, want –", got)
	}
	if got := paired(c, c, rate); got != "1.00×" {
		t.Errorf("C against itself %s", got)
	}
}

var sink int

func TestSchedField(t *testing.T) {
	b := []byte("runbench (1, #threads: 3)\n----\nse.exec_start                                :      16086693.335401\n" +
		"se.sum_exec_runtime                          :           123.456789\nnr_switches : 7\n")
	if v, ok := schedField(b, "se.sum_exec_runtime"); !ok || v != 123.456789 {
		t.Fatalf("schedField = %v, %v", v, ok)
	}
	if _, ok := schedField(b, "se.missing"); ok {
		t.Fatal("schedField found a missing field")
	}
	if _, ok := schedField([]byte("se.sum_exec_runtime : n/a\n"), "se.sum_exec_runtime"); ok {
		t.Fatal("schedField accepted a non-number")
	}
}

// TestCorunRatios: each same-window run is divided by the C run of its own
// window, whatever the machine did between windows; a run without a
// partner or with no C CPU is left out.
func TestCorunRatios(t *testing.T) {
	r := &result{
		samples: []sample{{srvNs: 105e6, count: 1e4}, {srvNs: 210e6, count: 1e4}, {srvNs: 53e6, count: 1e4}, {srvNs: 1, count: 1}},
		partner: []sample{{srvNs: 100e6, count: 1e4}, {srvNs: 200e6, count: 1e4}, {srvNs: 50e6, count: 1e4}},
	}
	med, lo, hi := r.corunRatios().stat(rate)
	if math.Abs(med-1.05) > 1e-9 || math.Abs(lo-1.05) > 1e-9 || math.Abs(hi-1.06) > 1e-9 {
		t.Fatalf("corunRatios median %v, min %v, max %v; want 1.05, 1.05, 1.06", med, lo, hi)
	}
	r.partner = append(r.partner, sample{count: 1})
	if n := len(r.corunRatios().samples); n != 3 {
		t.Fatalf("%d ratios with a zero-CPU partner, want 3", n)
	}
}

// TestCPUQuotaCapsAProcess: a process moved into the quota's cgroup cannot
// use more than its share: a busy loop held to 30% of a CPU uses at most
// 30% of the window plus one period. (An upper bound: a busy machine can
// only make it use less.) Needs root and a cgroup cpu controller.
func TestCPUQuotaCapsAProcess(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root to create a cgroup")
	}
	q, err := newCPUQuota("test", 30)
	if err != nil {
		if q != nil {
			q.remove()
		}
		t.Skipf("no cgroup CPU quota here: %v", err)
	}
	busy := exec.Command("sh", "-c", "while :; do :; done")
	if err := busy.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() {
		busy.Process.Kill()
		busy.Wait()
		if err := q.remove(); err != nil {
			t.Errorf("removing the cgroup: %v", err)
		}
	}()
	if err := q.add(busy.Process.Pid); err != nil {
		t.Fatal(err)
	}
	c0, _ := cpuNs(busy.Process.Pid)
	t0 := time.Now()
	time.Sleep(500 * time.Millisecond) // the window being measured, not a synchronization
	c1, _ := cpuNs(busy.Process.Pid)
	window := time.Since(t0)
	limit := time.Duration(float64(window)*0.30) + 2*quotaPeriodUs*time.Microsecond
	if used := time.Duration(c1 - c0); used > limit || used <= 0 {
		t.Fatalf("used %v of CPU in %v under a 30%% quota; want (0, %v]", used, window, limit)
	}
}

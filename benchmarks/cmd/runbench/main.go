// Command runbench runs the comparison suite: every server implementation
// under every scenario, in interleaved rounds (A B C … A B C …), the server
// pinned to one CPU and the load generator to another, and writes a Markdown
// report of medians, spreads and ratios to the C reference. See
// benchmarks/README.md.
//
//	cd benchmarks && go run ./cmd/runbench            # full run, ~30 min
//	cd benchmarks && go run ./cmd/runbench -quick -scenarios echo-100,http-100
//	cd benchmarks && go run ./cmd/runbench -corun -rounds 5   # CPU per op, same window as C
//
// Besides steady load (echo, HTTP) and idle connections, it measures
// connection churn, server side (churn-100) and client side
// (dial-churn-100, churn.go), and what more event loops cost and give on a
// small machine (echo-100-loops, -2cpu and -quota, loops.go), and HTTPS:
// keep-alive, full handshakes and resumed ones (https-100,
// https-churn-100, https-resume-100, tls.go), against Go's crypto/tls,
// nbio, nginx and HAProxy (native.go).
package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"
	"time"
)

// options are runbench's flags.
type options struct {
	dir                  string // the benchmarks module
	scenarios, impls     map[string]bool
	dur, warm, idle      time.Duration
	rounds               int
	quick, build, check  bool
	corun                bool // same-window runs against the C reference (corun.go)
	quota                int  // -server-quota: percent of one CPU, 0 for none (quota.go)
	cgroup               *cpuQuota
	loopQuotaPct         int    // -loop-quota: percent of a CPU per loop in echo-100-loops-quota (loops.go)
	loopQuota            int    // the same, in effect: set only while that scenario runs
	scaleCPUs            string // -scale-cpus: the CPUs of the scaling scenarios, server and load generator alike
	out                  string
	port                 int
	serverCPU, clientCPU string
	procs, loops         int
	sources              int
	backlog              int       // net.core.netdev_max_backlog to set for the run; 0 leaves it
	tls                  *tlsFiles // the TLS scenarios' certificate and client settings (tls.go)
}

func (o *options) path(rel string) string { return filepath.Join(o.dir, rel) }
func (o *options) bin(name string) string { return o.path(filepath.Join("bin", name)) }

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	os.Exit(run(ctx, os.Args[1:], os.Stdout, os.Stderr))
}

func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	o, err := parseFlags(args, stderr)
	if err != nil {
		return 2
	}
	if o.build {
		if err := build(o, stderr); err != nil {
			fmt.Fprintln(stderr, "runbench:", err)
			return 1
		}
	}
	if _, err := exec.LookPath("taskset"); err != nil {
		fmt.Fprintln(stderr, "runbench: taskset not found (Debian: apt-get install util-linux)")
		return 1
	}
	if needsTLS(o) {
		f, err := newTLSFiles()
		if err != nil {
			fmt.Fprintln(stderr, "runbench: TLS certificate:", err)
			return 1
		}
		defer f.remove()
		o.tls = f
	}
	if o.quota > 0 {
		q, err := newCPUQuota("server-quota", o.quota)
		if err != nil {
			if q != nil {
				q.remove()
			}
			fmt.Fprintln(stderr, "runbench: -server-quota:", err)
			return 1
		}
		defer q.remove()
		o.cgroup = q
		fmt.Fprintf(stdout, "servers held to %d%% of one CPU (%s)\n", o.quota, q.dir)
	}
	if o.backlog > 0 {
		restore, old, err := setBacklog(o.backlog)
		if err != nil {
			fmt.Fprintln(stderr, "runbench: -backlog:", err)
			return 1
		}
		defer restore()
		fmt.Fprintf(stdout, "net.core.netdev_max_backlog %s -> %d for this run\n", old, o.backlog)
	}
	m := describeMachine(o)
	start := time.Now()
	tables := suite(ctx, o, stdout)
	m.loadEnd = loadavg()
	if err := writeReport(o, m, start, tables, stdout); err != nil {
		fmt.Fprintln(stderr, "runbench:", err)
		return 1
	}
	if ctx.Err() != nil {
		return 130
	}
	return 0
}

func parseFlags(args []string, stderr io.Writer) (*options, error) {
	o := &options{}
	fs := flag.NewFlagSet("runbench", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.StringVar(&o.dir, "dir", ".", "the benchmarks directory (module root)")
	sc := fs.String("scenarios", "all", "comma-separated scenarios: "+scenarioNames())
	im := fs.String("impls", "all", "comma-separated implementations (c, epollnet, epollnet-portable, gnet, nbio, evio, netpoll, net, fasthttp, nethttp, nginx, haproxy)")
	fs.DurationVar(&o.dur, "d", 5*time.Second, "measured duration of each run")
	fs.DurationVar(&o.warm, "warmup", time.Second, "warm-up before each measured run (HTTP: skipped below 1s, wrk's minimum)")
	fs.DurationVar(&o.idle, "idle", 5*time.Second, "idle window of the idle scenarios")
	fs.IntVar(&o.rounds, "rounds", 3, "interleaved rounds")
	fs.BoolVar(&o.quick, "quick", false, "smoke test: -d 1s -warmup 300ms -idle 1s -rounds 1, report to results/DATE-quick.md")
	fs.BoolVar(&o.build, "build", true, "build bin/benchsrv, bin/cref-server and bin/loadgen first")
	fs.BoolVar(&o.check, "check", true, "check each server's behaviour (echo, pipelining, keep-alive, close) before measuring")
	fs.BoolVar(&o.corun, "corun", false, "same-window runs: each implementation at the same time as the C reference, "+
		"both servers on the server CPU; reports CPU per op against C's in the same window (load scenarios only)")
	fs.IntVar(&o.quota, "server-quota", 0, "hold each server to this percent of one CPU (a cgroup CFS quota; root), "+
		"so that it, not the load generator, is the bottleneck; 0: no quota")
	fs.IntVar(&o.loopQuotaPct, "loop-quota", 35, "echo-100-loops-quota: hold the server to this percent of a CPU per "+
		"event loop (a cgroup CFS quota; root)")
	fs.StringVar(&o.scaleCPUs, "scale-cpus", "", "CPU list (taskset -c) the scaling scenarios give the server and the "+
		"load generator alike (default: every CPU)")
	fs.StringVar(&o.out, "out", "", "report file (default results/YYYY-MM-DD.md)")
	fs.IntVar(&o.port, "port", 17100, "first port; each run takes the next one")
	fs.StringVar(&o.serverCPU, "server-cpu", "0", "CPU list (taskset -c) for the server")
	fs.StringVar(&o.clientCPU, "client-cpu", "1", "CPU list (taskset -c) for the load generator")
	fs.IntVar(&o.procs, "procs", 1, "GOMAXPROCS of the Go servers")
	fs.IntVar(&o.loops, "loops", 1, "event loops (pollers) of the event-loop servers")
	fs.IntVar(&o.sources, "sources", 8, "idle scenarios: source addresses 127.0.0.2 and up")
	fs.IntVar(&o.backlog, "backlog", 0, "set net.core.netdev_max_backlog (machine-wide, root) for the run and restore it after; 0 leaves it alone")
	if err := fs.Parse(args); err != nil {
		return nil, err
	}
	if o.quick {
		o.dur, o.warm, o.idle, o.rounds = time.Second, 300*time.Millisecond, time.Second, 1
	}
	if o.out == "" {
		suffix := ""
		if o.quick {
			suffix = "-quick"
		}
		if o.corun {
			suffix += "-corun"
		}
		if o.quota > 0 {
			suffix += fmt.Sprintf("-quota%d", o.quota)
		}
		o.out = o.path(filepath.Join("results", time.Now().Format("2006-01-02")+suffix+".md"))
	}
	o.scenarios, o.impls = set(*sc), set(*im)
	for name := range o.scenarios {
		if !knownScenario(name) {
			fmt.Fprintf(stderr, "runbench: unknown scenario %q (have %s)\n", name, scenarioNames())
			return nil, flag.ErrHelp
		}
	}
	if o.rounds < 1 || o.dur < time.Second || o.sources < 1 || o.sources > 200 || o.quota < 0 || o.quota > 100 ||
		o.loopQuotaPct < 1 || o.loopQuotaPct > 100 {
		fmt.Fprintln(stderr, "runbench: need -rounds ≥ 1, -d ≥ 1s, 1 ≤ -sources ≤ 200, 0 ≤ -server-quota ≤ 100, 1 ≤ -loop-quota ≤ 100")
		return nil, flag.ErrHelp
	}
	return o, nil
}

// set parses a comma-separated list; "all" (or empty) is nil, meaning all.
func set(list string) map[string]bool {
	if list == "" || list == "all" {
		return nil
	}
	m := map[string]bool{}
	for _, s := range strings.Split(list, ",") {
		if s = strings.TrimSpace(s); s != "" {
			m[s] = true
		}
	}
	return m
}

func scenarioNames() string {
	var ns []string
	for _, s := range scenarios {
		ns = append(ns, s.name)
	}
	return strings.Join(ns, ",")
}

func knownScenario(name string) bool {
	for _, s := range scenarios {
		if s.name == name {
			return true
		}
	}
	return false
}

// build compiles the Go servers and clients and the C programs into bin/.
// epollnet's command is built in the library's module, from the working
// tree, as the replace directive builds the library for benchsrv.
func build(o *options, stderr io.Writer) error {
	bin, err := filepath.Abs(o.bin("epollnet"))
	if err != nil {
		return err
	}
	lib, err := filepath.Abs(o.path(".."))
	if err != nil {
		return err
	}
	steps := [][]string{
		{"go", "build", "-o", o.bin("benchsrv"), "./cmd/benchsrv"},
		{"go", "build", "-tags", "epollnet_portable", "-o", o.bin("benchsrv-portable"), "./cmd/benchsrv"},
		{"go", "build", "-o", o.bin("dialchurn"), "./cmd/dialchurn"},
		{"go", "build", "-o", o.bin("tlschurn"), "./cmd/tlschurn"},
		{"go", "-C", lib, "build", "-o", bin, "./cmd/epollnet"},
		{"gcc", "-O2", "-Wall", "-o", o.bin("cref-server"), o.path("cref/server.c")},
		{"gcc", "-O2", "-Wall", "-o", o.bin("loadgen"), o.path("cref/loadgen.c")},
	}
	for _, s := range steps {
		cmd := exec.Command(s[0], s[1:]...)
		cmd.Dir, cmd.Stdout, cmd.Stderr = o.dir, stderr, stderr
		if err := cmd.Run(); err != nil {
			return fmt.Errorf("%s: %v", strings.Join(s, " "), err)
		}
	}
	return nil
}

package main

import (
	"fmt"
	"os"
	"os/exec"
	"runtime"
	"strings"
)

// machine describes where and with what the suite ran.
type machine struct {
	cpus, model, kernel, loadStart, loadEnd string
	backlog                                 string      // net.core.netdev_max_backlog
	versions                                [][2]string // name, version
}

func describeMachine(o *options) machine {
	m := machine{cpus: fmt.Sprint(runtime.NumCPU()), model: "unknown", kernel: firstLine(run1("uname", "-r"))}
	if b, err := os.ReadFile("/proc/cpuinfo"); err == nil {
		for _, l := range strings.Split(string(b), "\n") {
			if v, ok := strings.CutPrefix(l, "model name"); ok {
				m.model = strings.TrimSpace(strings.TrimPrefix(strings.TrimSpace(v), ":"))
				break
			}
		}
	}
	m.loadStart = loadavg()
	m.backlog = currentBacklog()
	m.versions = append(m.versions,
		[2]string{"Go", runtime.Version()},
		[2]string{"epollnet", epollnetVersion(o)},
	)
	m.versions = append(m.versions, moduleVersions(o)...)
	m.versions = append(m.versions,
		[2]string{"gcc", firstLine(run1("gcc", "--version"))},
		[2]string{"wrk", firstLine(run1("wrk", "-v"))},
	)
	if o.tls != nil {
		m.versions = append(m.versions, [2]string{"OpenSSL (wrk's, nginx's, HAProxy's)", firstLine(run1("openssl", "version"))})
		for _, name := range []string{"nginx", "haproxy"} {
			if v := nativeVersion(name); v != "" {
				m.versions = append(m.versions, [2]string{name, v})
			}
		}
	}
	return m
}

// moduleVersions lists the compared libraries as built into benchsrv.
func moduleVersions(o *options) [][2]string {
	var vs [][2]string
	for _, l := range strings.Split(run1("go", "version", "-m", o.bin("benchsrv")), "\n") {
		f := strings.Fields(l)
		if len(f) < 3 || f[0] != "dep" {
			continue
		}
		for _, lib := range []string{"gnet", "nbio", "llib", "evio", "netpoll", "fasthttp"} {
			if strings.Contains(f[1], "/"+lib) {
				vs = append(vs, [2]string{f[1], f[2]})
			}
		}
	}
	return vs
}

// epollnetVersion is the library's commit, which the replace directive
// builds from the working tree.
func epollnetVersion(o *options) string {
	rev := firstLine(run1("git", "-C", o.path(".."), "rev-parse", "--short", "HEAD"))
	if rev == "" {
		return "working tree (no git)"
	}
	if strings.TrimSpace(run1("git", "-C", o.path(".."), "status", "--porcelain", "--untracked-files=no", "--", ".", ":!benchmarks")) != "" {
		rev += " + uncommitted changes"
	}
	return "working tree at " + rev
}

func loadavg() string {
	b, _ := os.ReadFile("/proc/loadavg")
	f := strings.Fields(string(b))
	if len(f) < 3 {
		return "?"
	}
	return strings.Join(f[:3], " ")
}

func run1(name string, args ...string) string {
	b, _ := exec.Command(name, args...).CombinedOutput()
	return string(b)
}

func firstLine(s string) string {
	l, _, _ := strings.Cut(strings.TrimSpace(s), "\n")
	return strings.TrimSpace(l)
}

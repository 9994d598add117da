package main

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
)

// A CPU quota for the servers (-server-quota). When the load generator is
// the bottleneck (wrk at 100% of its CPU, the server idle part of the
// time), throughput says nothing about the servers: every one that keeps up
// with wrk measures the same. Capping the server below what wrk needs
// turns the run around: the server is the bottleneck, and requests per
// second is its capacity at that CPU budget. The cap is a CFS bandwidth
// limit on a cgroup the runner creates and removes (cgroup v2 cpu.max, or
// v1 cpu.cfs_quota_us), with a 10 ms period so that throttling pauses stay
// short next to wrk's 2 s timeout.

const quotaPeriodUs = 10_000

// cpuQuota is a cgroup that holds the servers to a share of the CPUs.
type cpuQuota struct {
	dir   string // the cgroup's directory
	procs string // the file a PID is written to, to move the process in
	v2    bool   // cgroup v2 (cpu.max), else v1 (cpu.cfs_quota_us)
}

// newCPUQuota creates the cgroup with pct percent of one CPU; name tells
// the runner's cgroups apart.
func newCPUQuota(name string, pct int) (*cpuQuota, error) {
	name = fmt.Sprintf("epollnet-runbench-%d-%s", os.Getpid(), name)
	// cgroup v2: a child of the root with the cpu controller enabled.
	if b, err := os.ReadFile("/sys/fs/cgroup/cgroup.subtree_control"); err == nil &&
		strings.Contains(" "+string(b)+" ", " cpu ") {
		q := &cpuQuota{dir: filepath.Join("/sys/fs/cgroup", name), v2: true}
		q.procs = filepath.Join(q.dir, "cgroup.procs")
		if err := os.Mkdir(q.dir, 0o755); err != nil {
			return nil, err
		}
		return q, q.set(pct)
	}
	// cgroup v1: the cpu hierarchy.
	if _, err := os.Stat("/sys/fs/cgroup/cpu/cpu.cfs_quota_us"); err == nil {
		q := &cpuQuota{dir: filepath.Join("/sys/fs/cgroup/cpu", name)}
		q.procs = filepath.Join(q.dir, "cgroup.procs")
		if err := q.create("cpu.cfs_period_us", strconv.Itoa(quotaPeriodUs)); err != nil {
			return q, err
		}
		return q, q.set(pct)
	}
	return nil, errors.New("no cgroup cpu controller found (cgroup v2 with cpu enabled, or v1 /sys/fs/cgroup/cpu)")
}

// set changes the quota to pct percent of one CPU, which may be more than
// 100 (pct 70 lets two threads each use 35% of their own CPU at once).
func (q *cpuQuota) set(pct int) error {
	quota := quotaPeriodUs * pct / 100
	if q.v2 {
		return q.write("cpu.max", fmt.Sprintf("%d %d", quota, quotaPeriodUs))
	}
	return q.write("cpu.cfs_quota_us", strconv.Itoa(quota))
}

func (q *cpuQuota) create(file, value string) error {
	if err := os.Mkdir(q.dir, 0o755); err != nil {
		return err
	}
	return q.write(file, value)
}

func (q *cpuQuota) write(file, value string) error {
	return os.WriteFile(filepath.Join(q.dir, file), []byte(value), 0o644)
}

// add moves the process pid, all its threads, into the cgroup.
func (q *cpuQuota) add(pid int) error {
	return os.WriteFile(q.procs, []byte(strconv.Itoa(pid)), 0o644)
}

// remove deletes the cgroup; every server in it has exited by then.
func (q *cpuQuota) remove() error { return os.Remove(q.dir) }

package main

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"
)

// clkTck is USER_HZ, the unit of utime and stime in /proc/PID/stat; Linux
// fixes it at 100 for user space.
const clkTck = 100

// server is a running benchmark server.
type server struct {
	cmd    *exec.Cmd
	pid    int
	stderr *syncBuffer
	done   chan struct{}
	tmp    string // a directory of the server's own (a configuration), removed once it stopped
}

// startServer starts impl's server for proto on addr, pinned to the server
// CPU, and returns once it prints "listening". A server with more loops
// than -procs gets a GOMAXPROCS of one per loop; with -loop-quota (the
// quota scaling scenario) its CPU quota is set for its loops first.
func startServer(o *options, im impl, proto, addr string) (*server, error) {
	loops := o.loops
	if im.loops > 0 {
		loops = im.loops
	}
	bin, name := o.bin("benchsrv"), im.name
	if name == portableImpl {
		bin, name = o.bin("benchsrv-portable"), "epollnet"
	}
	argv := []string{bin, "-impl", name, "-proto", proto, "-addr", addr,
		"-loops", strconv.Itoa(loops)}
	if im.oneListener {
		argv = append(argv, "-one-listener")
	}
	if proto == "https" {
		argv = append(argv, "-cert", o.tls.cert, "-key", o.tls.key)
	}
	native := nativeServers[im.name]
	switch {
	case im.name == cref:
		argv = []string{o.bin("cref-server"), "-addr", addr, "-mode", proto}
		loops = 1
	case native != nil:
		var err error
		if argv, err = native.argv(o, addr); err != nil {
			return nil, fmt.Errorf("%s: %v", im.name, err)
		}
		loops = 1
	}
	if o.cgroup != nil && o.loopQuota > 0 {
		if err := o.cgroup.set(o.loopQuota * loops); err != nil {
			return nil, fmt.Errorf("%s: -loop-quota: %v", im.name, err)
		}
	}
	cmd := exec.Command("taskset", append([]string{"-c", o.serverCPU}, argv...)...)
	cmd.Env = append(os.Environ(), "GOMAXPROCS="+strconv.Itoa(max(o.procs, loops)))
	s := &server{cmd: cmd, stderr: &syncBuffer{}, done: make(chan struct{})}
	cmd.Stderr = s.stderr
	out, err := cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	s.pid = cmd.Process.Pid
	go func() { cmd.Wait(); close(s.done) }()
	if o.cgroup != nil {
		if err := o.cgroup.add(s.pid); err != nil {
			s.stop()
			return nil, fmt.Errorf("%s: -server-quota: %v", im.name, err)
		}
	}
	if native != nil {
		go io.Copy(io.Discard, out)
		if err := waitListening(addr, s.done); err != nil {
			s.stop()
			return nil, fmt.Errorf("%s %s did not start: %v: %s", im.name, proto, err, s.stderr.tail())
		}
		return s, nil
	}
	ready := make(chan bool, 1)
	go func() {
		br := bufio.NewReader(out)
		for { // some libraries log a banner first
			line, err := br.ReadString('\n')
			if strings.HasPrefix(line, "listening") || err != nil {
				ready <- err == nil
				break
			}
		}
		io.Copy(io.Discard, br)
	}()
	select {
	case ok := <-ready:
		if ok {
			return s, nil
		}
	case <-time.After(15 * time.Second):
	}
	s.stop()
	return nil, fmt.Errorf("%s %s did not start: %s", im.name, proto, s.stderr.tail())
}

// stop ends the server: SIGTERM to its PID, SIGKILL after 3 s.
func (s *server) stop() {
	s.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-s.done:
	case <-time.After(3 * time.Second):
		s.cmd.Process.Kill()
		<-s.done
	}
	if s.tmp != "" {
		os.RemoveAll(s.tmp)
	}
}

// cpu returns the CPU time the server has used, in nanoseconds: its own
// and its children's (nginx serves from a worker process), read as cpuNs
// does.
func (s *server) cpu() (int64, error) {
	ns, err := cpuNs(s.pid)
	for _, kid := range children(s.pid) {
		if k, kerr := cpuNs(kid); kerr == nil {
			ns += k
		}
	}
	return ns, err
}

// children returns the processes whose parent is pid. The kernel's
// /proc/PID/task/TID/children needs CONFIG_PROC_CHILDREN, so it scans
// every process's stat.
func children(pid int) []int {
	ents, err := os.ReadDir("/proc")
	if err != nil {
		return nil
	}
	var kids []int
	for _, e := range ents {
		p, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", p))
		if err != nil {
			continue
		}
		// The command name may hold spaces: fields count from after its ')'.
		f := strings.Fields(string(b[bytes.LastIndexByte(b, ')')+1:]))
		if len(f) > 1 && f[1] == strconv.Itoa(pid) {
			kids = append(kids, p)
		}
	}
	return kids
}

// waitListening returns once addr accepts a TCP connection, for the
// servers that do not say when they are ready, or fails when the server
// exits or after 15 s.
func waitListening(addr string, done <-chan struct{}) error {
	deadline := time.Now().Add(15 * time.Second)
	for time.Now().Before(deadline) {
		select {
		case <-done:
			return fmt.Errorf("exited")
		default:
		}
		if c, err := net.DialTimeout("tcp", addr, 200*time.Millisecond); err == nil {
			c.Close()
			return nil
		}
		time.Sleep(20 * time.Millisecond)
	}
	return fmt.Errorf("%s not accepting after 15 s", addr)
}

// exited reports whether the server died, with its last words.
func (s *server) exited() (bool, string) {
	select {
	case <-s.done:
		return true, s.stderr.tail()
	default:
		return false, ""
	}
}

// cpuNs returns the CPU time pid has used, in nanoseconds: the sum of its
// threads' se.sum_exec_runtime (/proc/PID/task/TID/sched, the scheduler's
// own nanosecond clock) where the kernel provides it, else utime+stime from
// /proc/PID/stat, which counts in 10 ms ticks. The ticks cost up to 0.4% of
// a 5-second window at half a CPU per reading, as much as the differences
// the same-window runs measure. A thread that exits between two readings
// would drop out of the sum; the servers here start their threads before
// they serve and keep them (Go never ends a runtime thread it parks).
func cpuNs(pid int) (int64, error) {
	if ns, ok := schedNs(pid); ok {
		return ns, nil
	}
	t, err := cpuTicks(pid)
	return t * (1e9 / clkTck), err
}

func schedNs(pid int) (int64, bool) {
	dir := fmt.Sprintf("/proc/%d/task", pid)
	tasks, err := os.ReadDir(dir)
	if err != nil {
		return 0, false
	}
	var sum float64 // milliseconds
	for _, t := range tasks {
		b, err := os.ReadFile(dir + "/" + t.Name() + "/sched")
		if err != nil {
			continue // the thread exited meanwhile
		}
		ms, ok := schedField(b, "se.sum_exec_runtime")
		if !ok {
			return 0, false
		}
		sum += ms
	}
	return int64(sum * 1e6), len(tasks) > 0
}

// schedField returns the value of a "name : value" line of a sched file.
func schedField(b []byte, name string) (float64, bool) {
	for _, line := range strings.Split(string(b), "\n") {
		k, v, ok := strings.Cut(line, ":")
		if ok && strings.TrimSpace(k) == name {
			f, err := strconv.ParseFloat(strings.TrimSpace(v), 64)
			return f, err == nil
		}
	}
	return 0, false
}

// cpuTicks returns utime+stime of every thread of pid, in clock ticks.
func cpuTicks(pid int) (int64, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0, err
	}
	// The command name may hold spaces: fields count from after its ')'.
	f := strings.Fields(string(b[bytes.LastIndexByte(b, ')')+1:]))
	if len(f) < 13 {
		return 0, fmt.Errorf("short /proc/%d/stat", pid)
	}
	ut, err1 := strconv.ParseInt(f[11], 10, 64) // field 14, utime
	st, err2 := strconv.ParseInt(f[12], 10, 64) // field 15, stime
	if err1 != nil || err2 != nil {
		return 0, fmt.Errorf("bad /proc/%d/stat", pid)
	}
	return ut + st, nil
}

// rssKiB returns VmRSS of pid in KiB.
func rssKiB(pid int) (int64, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0, err
	}
	for _, line := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, "VmRSS:"); ok {
			return strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(v), " kB"), 10, 64)
		}
	}
	return 0, fmt.Errorf("no VmRSS for %d", pid)
}

// command prepares a load generator pinned to the client CPU; ctx bounds it
// (exec kills exactly the process it started).
func command(ctx context.Context, o *options, argv ...string) *exec.Cmd {
	return exec.CommandContext(ctx, "taskset", append([]string{"-c", o.clientCPU}, argv...)...)
}

// syncBuffer collects a child's stderr.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.b.Len() < 1<<20 {
		s.b.Write(p)
	}
	return len(p), nil
}

// tail returns the last few hundred bytes written, on one line.
func (s *syncBuffer) tail() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	b := s.b.Bytes()
	if len(b) > 300 {
		b = b[len(b)-300:]
	}
	return strings.Join(strings.Fields(string(b)), " ")
}

package main

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"time"
)

// The proxies' processes: benchsrv's (epollnet, Go net), HAProxy and
// nginx, each with one thread or worker, pinned to the server CPU. HAProxy
// and nginx get a configuration in a temporary directory, removed when
// they stop.

// startBackend starts the C echo server on the client CPU, where the load
// generator runs: the proxy alone has the server CPU.
func startBackend(o *options, addr string) (*server, error) {
	bo := *o
	bo.serverCPU, bo.cgroup, bo.loopQuota = o.clientCPU, nil, 0
	return startServer(&bo, impl{name: cref}, "echo", addr)
}

// startProxy starts proxy im on addr, relaying to backend, and returns once
// it accepts connections.
func startProxy(o *options, im impl, addr, backend string) (*server, error) {
	var argv []string
	dir := ""
	switch im.name {
	case "epollnet", "epollnet-splice", "net":
		argv = []string{o.bin("benchsrv"), "-impl", im.name, "-proto", "proxy", "-addr", addr,
			"-backend", backend, "-loops", "1"}
	case "haproxy", "haproxy-splice", "nginx":
		var err error
		if dir, err = os.MkdirTemp("", "runbench-"+im.name+"-"); err != nil {
			return nil, err
		}
		if argv, err = peerArgv(im.name, dir, addr, backend); err != nil {
			os.RemoveAll(dir)
			return nil, err
		}
	default:
		return nil, fmt.Errorf("no proxy %q", im.name)
	}
	s, err := startPinned(o, argv, addr)
	if err != nil {
		os.RemoveAll(dir)
		return nil, fmt.Errorf("%s: %v", im.name, err)
	}
	s.tmp = dir
	return s, nil
}

// peerArgv writes HAProxy's or nginx's configuration into dir and returns
// its command line.
func peerArgv(name, dir, addr, backend string) ([]string, error) {
	var conf, argv []string
	path := filepath.Join(dir, name+".conf")
	switch name {
	case "nginx":
		bin, mod, _ := findNginx()
		conf = nginxConf(mod, dir, addr, backend)
		argv = []string{bin, "-p", dir, "-c", path, "-e", filepath.Join(dir, "error.log")}
	default:
		conf = haproxyConf(name == "haproxy-splice", addr, backend)
		argv = []string{findProgram("haproxy"), "-db", "-f", path}
	}
	return argv, os.WriteFile(path, []byte(strings.Join(conf, "\n")+"\n"), 0o644)
}

// haproxyConf is HAProxy in TCP mode with one thread, with or without
// splice-auto (splice(2) through a pipe when HAProxy expects it to pay).
func haproxyConf(splice bool, addr, backend string) []string {
	c := []string{
		"global", "    nbthread 1", "    maxconn 4096",
		"defaults", "    mode tcp", "    maxconn 4096",
		"    timeout connect 5s", "    timeout client 60s", "    timeout server 60s",
	}
	if splice {
		c = append(c, "    option splice-auto")
	}
	return append(c, "frontend in", "    bind "+addr, "    default_backend out",
		"backend out", "    server c "+backend)
}

// nginxConf is nginx's stream proxy with one worker, passing half-closes
// on as the other proxies do (proxy_half_close; by default nginx closes
// both connections at the client's FIN). The master process is off, so
// that the process started is the one that relays and its CPU is all
// there is to count; the worker's event loop is the same.
func nginxConf(module, dir, addr, backend string) []string {
	var c []string
	if module != "" {
		c = append(c, "load_module "+module+";")
	}
	return append(c,
		"daemon off;", "master_process off;", "worker_processes 1;",
		"pid "+filepath.Join(dir, "nginx.pid")+";",
		"error_log "+filepath.Join(dir, "error.log")+" warn;",
		"worker_rlimit_nofile 10000;",
		"events { worker_connections 4096; }",
		"stream {", "    server {", "        listen "+addr+";", "        proxy_pass "+backend+";",
		"        proxy_half_close on;", "        proxy_timeout 60s;", "    }", "}")
}

// proxyMissing returns why row name cannot run on this machine, or "".
func proxyMissing(name string) string {
	switch name {
	case "haproxy", "haproxy-splice":
		if findProgram("haproxy") == "" {
			return "haproxy not found (Debian: apt-get install -y haproxy)"
		}
		if name == "haproxy-splice" {
			out, _ := exec.Command(findProgram("haproxy"), "-vv").CombinedOutput()
			if !bytes.Contains(out, []byte("+LINUX_SPLICE")) {
				return "this haproxy was built without splice (no +LINUX_SPLICE in haproxy -vv)"
			}
		}
	case "nginx":
		_, _, why := findNginx()
		return why
	}
	return ""
}

// findProgram looks name up in PATH, then in /usr/sbin (not in every
// user's PATH); "" if neither has it.
func findProgram(name string) string {
	if p, err := exec.LookPath(name); err == nil {
		return p
	}
	if p := "/usr/sbin/" + name; exec.Command(p, "-v").Run() == nil {
		return p
	}
	return ""
}

// findNginx returns nginx's path and, if its stream module is a dynamic
// one, the module's file; or why nginx's stream proxy is not available.
func findNginx() (bin, module, why string) {
	if bin = findProgram("nginx"); bin == "" {
		return "", "", "nginx not found (Debian: apt-get install -y nginx-light libnginx-mod-stream)"
	}
	out, _ := exec.Command(bin, "-V").CombinedOutput()
	flags := strings.Fields(string(out))
	dir := "/usr/lib/nginx/modules"
	dynamic := false
	for _, f := range flags {
		switch {
		case f == "--with-stream":
			return bin, "", ""
		case f == "--with-stream=dynamic":
			dynamic = true
		case strings.HasPrefix(f, "--modules-path="):
			dir = strings.TrimPrefix(f, "--modules-path=")
		}
	}
	if !dynamic {
		return "", "", "this nginx was built without the stream module"
	}
	module = filepath.Join(dir, "ngx_stream_module.so")
	if _, err := os.Stat(module); err != nil {
		return "", "", "nginx's stream module is not installed (" + module +
			"; Debian: apt-get install -y libnginx-mod-stream)"
	}
	return bin, module, ""
}

// startPinned starts argv pinned to the server CPU, with the servers'
// GOMAXPROCS, and returns once addr accepts a connection.
func startPinned(o *options, argv []string, addr string) (*server, error) {
	cmd := exec.Command("taskset", append([]string{"-c", o.serverCPU}, argv...)...)
	cmd.Env = append(os.Environ(), "GOMAXPROCS="+strconv.Itoa(max(o.procs, 1)))
	s := &server{cmd: cmd, stderr: &syncBuffer{}, done: make(chan struct{})}
	cmd.Stdout, cmd.Stderr = s.stderr, s.stderr
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	s.pid = cmd.Process.Pid
	go func() { cmd.Wait(); close(s.done) }()
	if o.cgroup != nil {
		if err := o.cgroup.add(s.pid); err != nil {
			s.stop()
			return nil, fmt.Errorf("-server-quota: %v", err)
		}
	}
	if err := waitAccepting(s, addr, 15*time.Second); err != nil {
		s.stop()
		return nil, err
	}
	return s, nil
}

// waitAccepting polls addr until a connection to it succeeds, the process
// exits, or the time is up. The probe connection is closed at once.
func waitAccepting(s *server, addr string, limit time.Duration) error {
	deadline := time.Now().Add(limit)
	for {
		if dead, why := s.exited(); dead {
			return fmt.Errorf("exited at start: %s", why)
		}
		c, err := net.DialTimeout("tcp", addr, 200*time.Millisecond)
		if err == nil {
			c.Close()
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("not accepting on %s after %v: %v: %s", addr, limit, err, s.stderr.tail())
		}
		time.Sleep(20 * time.Millisecond) // polling a child process's start-up, not synchronising a test
	}
}

// checkHalfClose sends 10 KiB and a FIN through the proxy: the C server
// echoes the bytes and closes at the FIN it was passed, so every byte and
// then EOF must come back.
func checkHalfClose(addr string) error {
	c, err := net.DialTimeout("tcp", addr, 2*time.Second)
	if err != nil {
		return err
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(5 * time.Second))
	msg := bytes.Repeat([]byte("half-close "), 1000)
	if _, err := c.Write(msg); err != nil {
		return err
	}
	if err := c.(*net.TCPConn).CloseWrite(); err != nil {
		return err
	}
	got, err := io.ReadAll(c)
	switch {
	case err != nil:
		return fmt.Errorf("half-close: %v after %d bytes", err, len(got))
	case !bytes.Equal(got, msg):
		return errors.New("half-close: got " + strconv.Itoa(len(got)) + " bytes back, not the 11,000 sent")
	}
	return nil
}

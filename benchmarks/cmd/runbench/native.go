package main

import (
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
)

// The native servers of the TLS scenarios: nginx and HAProxy, each with
// one worker (one thread) on the server CPU, TLS 1.3 only, the suite's
// certificate, and a fixed "Hello, World!" answer, configured by the runner
// in a directory of its own. Both keep their TLS defaults otherwise
// (OpenSSL's, session tickets on) but for the order of the TLS 1.3 cipher
// suites, which is crypto/tls's (AES-128-GCM first), so that every server
// negotiates the same suite with the same clients.

// nativeServer is a server program the runner configures.
type nativeServer struct {
	programs []string // where to look, first found wins
	install  string   // how to get it, for the report
	config   func(o *options, dir, addr string) (conf string, argv []string)
}

var nativeServers = map[string]*nativeServer{
	"nginx": {
		programs: []string{"nginx", "/usr/sbin/nginx"},
		install:  "apt-get install nginx-light",
		config:   nginxConfig,
	},
	"haproxy": {
		programs: []string{"haproxy", "/usr/sbin/haproxy"},
		install:  "apt-get install haproxy",
		config:   haproxyConfig,
	},
}

// tls13Suites is crypto/tls's TLS 1.3 preference on a CPU with AES
// instructions, in OpenSSL's names.
const tls13Suites = "TLS_AES_128_GCM_SHA256:TLS_AES_256_GCM_SHA384:TLS_CHACHA20_POLY1305_SHA256"

// program returns the path of the server's program, or "" if it is not
// installed.
func (n *nativeServer) program() string {
	for _, p := range n.programs {
		if path, err := exec.LookPath(p); err == nil {
			return path
		}
	}
	return ""
}

// missing says why native server name cannot run here, or "" if it can
// (or is not a native server).
func missing(name string) string {
	n := nativeServers[name]
	if n == nil || n.program() != "" {
		return ""
	}
	return fmt.Sprintf("%s not found (%s)", n.programs[0], n.install)
}

// argv writes the server's configuration for addr into a directory of its
// own under the run's TLS directory and returns its command line.
func (n *nativeServer) argv(o *options, addr string) ([]string, error) {
	prog := n.program()
	if prog == "" {
		return nil, fmt.Errorf("%s not found", n.programs[0])
	}
	_, port, err := net.SplitHostPort(addr)
	if err != nil {
		return nil, err
	}
	dir := filepath.Join(o.tls.dir, filepath.Base(prog)+"-"+port)
	if err := os.MkdirAll(filepath.Join(dir, "tmp"), 0o700); err != nil {
		return nil, err
	}
	conf, args := n.config(o, dir, addr)
	if err := os.WriteFile(filepath.Join(dir, "server.conf"), []byte(conf), 0o600); err != nil {
		return nil, err
	}
	return append([]string{prog}, args...), nil
}

// nginxConfig runs nginx in the foreground with its master process and one
// worker (the runner sums both processes' CPU), no access log, and
// keepalive_requests high enough that wrk never reconnects during a run
// (its default, 1,000, would add a handshake per 1,000 requests).
func nginxConfig(o *options, dir, addr string) (string, []string) {
	tmp := filepath.Join(dir, "tmp")
	conf := fmt.Sprintf(`daemon off;
master_process on;
worker_processes 1;
pid %[1]s/nginx.pid;
error_log stderr error;
events { worker_connections 4096; }
http {
	access_log off;
	client_body_temp_path %[2]s/body;
	proxy_temp_path %[2]s/proxy;
	fastcgi_temp_path %[2]s/fastcgi;
	uwsgi_temp_path %[2]s/uwsgi;
	scgi_temp_path %[2]s/scgi;
	keepalive_requests 100000000;
	keepalive_timeout 75s;
	server {
		listen %[3]s ssl;
		ssl_certificate %[4]s;
		ssl_certificate_key %[5]s;
		ssl_protocols TLSv1.3;
		ssl_conf_command Ciphersuites %[6]s;
		location / {
			default_type text/plain;
			return 200 "Hello, World!";
		}
	}
}
`, dir, tmp, addr, o.tls.cert, o.tls.key, tls13Suites)
	return conf, []string{"-p", dir, "-c", filepath.Join(dir, "server.conf"), "-e", "stderr"}
}

// haproxyConfig runs HAProxy in the foreground (-db), one thread, the
// answer made by http-request return (which adds no Date or Server
// header, where the other servers send both).
func haproxyConfig(o *options, dir, addr string) (string, []string) {
	conf := fmt.Sprintf(`global
	nbthread 1
	maxconn 4000
	ssl-default-bind-ciphersuites %[1]s
defaults
	mode http
	timeout connect 5s
	timeout client 30s
	timeout server 30s
	timeout http-keep-alive 30s
frontend https
	bind %[2]s ssl crt %[3]s ssl-min-ver TLSv1.3
	http-request return status 200 content-type text/plain string "Hello, World!"
`, tls13Suites, addr, o.tls.pem)
	return conf, []string{"-db", "-f", filepath.Join(dir, "server.conf")}
}

// nativeVersion is the first line of the program's version, for the
// report's versions table, or "".
func nativeVersion(name string) string {
	n := nativeServers[name]
	prog := n.program()
	if prog == "" {
		return ""
	}
	flag := "-v"
	if name == "nginx" {
		flag = "-V"
	}
	out, _ := exec.Command(prog, flag).CombinedOutput()
	lines := strings.Split(strings.TrimSpace(string(out)), "\n")
	v := strings.TrimSpace(lines[0])
	for _, l := range lines[1:] {
		if strings.HasPrefix(l, "built with OpenSSL") {
			v += "; " + strings.TrimSpace(l)
		}
	}
	return v
}

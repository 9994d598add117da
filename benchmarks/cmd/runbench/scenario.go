package main

import (
	"fmt"
	"runtime"
)

// kind is what a scenario measures.
type kind int

const (
	echoLoad    kind = iota // messages per second through an echo server
	httpLoad                // HTTP plaintext requests per second (wrk)
	idleConns               // memory and CPU of many idle connections
	churnServer             // connections per second an echo server accepts, serves once and closes (loadgen -C)
	churnClient             // connections per second a client opens, uses once and closes, against the C server
	httpsLoad               // HTTPS keep-alive requests per second (wrk over TLS 1.3)
	tlsFull                 // HTTPS, one request per connection, every handshake a full one (tlschurn)
	tlsResume               // the same, every handshake after the first resumed with a ticket (tlschurn -resume)
	proxyEcho               // messages per second through a proxy in front of the C echo server (proxy.go)
	proxyChurn              // connections per second through a proxy, each used for one message (proxy.go)
)

// scale says whether a scenario compares event-loop configurations rather
// than implementations, and where its processes run (see loops.go).
type scale int

const (
	split       scale = iota // no: implementations, server on -server-cpu, load on -client-cpu
	scaleOneCPU              // loops: every loop on -server-cpu, the load on -client-cpu
	scaleShared              // loops: server and load generator share every CPU
	scaleQuota               // the same, the server held to -loop-quota percent of a CPU per loop
)

// scenario is one row group of the report.
type scenario struct {
	name  string
	kind  kind
	conns int
	size  int // echo: message size in bytes
	depth int // echo: messages in flight per connection; http: pipelined requests
	what  string
	scale scale
}

var scenarios = []scenario{
	{"echo-100", echoLoad, 100, 64, 1, "echo, 100 connections, 64-byte messages, one in flight each", split},
	{"echo-100-4k-p4", echoLoad, 100, 4096, 4, "echo, 100 connections, 4 KiB messages, 4 in flight each", split},
	{"echo-1000", echoLoad, 1000, 64, 1, "echo, 1,000 connections, 64-byte messages, one in flight each", split},
	{"http-100", httpLoad, 100, 0, 1, "HTTP plaintext, 100 keep-alive connections, no pipelining", split},
	{"http-1000", httpLoad, 1000, 0, 1, "HTTP plaintext, 1,000 keep-alive connections, no pipelining", split},
	{"http-100-p16", httpLoad, 100, 0, 16, "HTTP plaintext, 100 connections, 16 pipelined requests per write", split},
	{"http-1000-p16", httpLoad, 1000, 0, 16, "HTTP plaintext, 1,000 connections, 16 pipelined requests per write", split},
	{"idle-10k", idleConns, 10_000, 0, 0, "10,000 idle echo connections: RSS growth per connection, idle CPU", split},
	// The most this machine allows under its hard RLIMIT_NOFILE of 20,000
	// (idle-100k is skipped here, with the reason): a second point, to
	// show whether the cost per connection stays flat as the count grows.
	{"idle-19k", idleConns, 19_500, 0, 0, "19,500 idle echo connections: RSS growth per connection, idle CPU", split},
	{"idle-100k", idleConns, 100_000, 0, 0, "100,000 idle echo connections: RSS growth per connection, idle CPU", split},
	{"churn-100", churnServer, 100, 64, 1, "connection churn, server side: 100 connections at a time from loadgen -C, " +
		"each a connect, 64 bytes echoed, and a close by the client, then the next; server CPU per connection", split},
	{"dial-churn-100", churnClient, 100, 64, 1, "connection churn, client side: the same churn from each client " +
		"against the C server; client CPU per connection, the whole client process (start-up and exit included, " +
		"no warm-up)", split},
	{"https-100", httpsLoad, 100, 0, 1, "HTTPS, TLS 1.3, 100 keep-alive connections (wrk over OpenSSL), no " +
		"pipelining: server CPU per request", split},
	{"https-churn-100", tlsFull, 100, 0, 1, "HTTPS connection churn, full handshakes: 100 connections at a time " +
		"from tlschurn, each a connect, a full TLS 1.3 handshake (no session kept), one GET with Connection: close, " +
		"its response, a close by the client; server CPU per handshake", split},
	{"https-resume-100", tlsResume, 100, 0, 1, "HTTPS connection churn, resumed handshakes: as https-churn-100, " +
		"every handshake after the first resumed with the server's last session ticket (TLS 1.3 PSK with a fresh " +
		"X25519 exchange); server CPU per resumed handshake", split},
	{"echo-100-loops", echoLoad, 100, 64, 1, "event loops: echo-100 against 1 and more loops, every loop on the " +
		"server CPU and the load generator on the client CPU, as in echo-100: the cost of more loops on one core", scaleOneCPU},
	{"echo-100-loops-2cpu", echoLoad, 100, 64, 1, "event loops: echo-100 against 1 and more loops, the server " +
		"and the load generator sharing every CPU, without limit", scaleShared},
	{"echo-100-loops-quota", echoLoad, 100, 64, 1, "event loops at a fixed CPU budget per loop: as " +
		"echo-100-loops-2cpu, the server held to -loop-quota percent of a CPU per loop (root)", scaleQuota},
	{"proxy-echo-100", proxyEcho, 100, 64, 1, "proxies in front of the C echo server: 100 connections, " +
		"64-byte messages, one in flight each", split},
	{"proxy-echo-100-4k-p4", proxyEcho, 100, 4096, 4, "proxies in front of the C echo server: 100 connections, " +
		"4 KiB messages, 4 in flight each", split},
	{"proxy-echo-1000", proxyEcho, 1000, 64, 1, "proxies in front of the C echo server: 1,000 connections, " +
		"64-byte messages, one in flight each", split},
	{"proxy-churn-100", proxyChurn, 100, 64, 1, "connection churn through proxies: loadgen -C, 100 connections " +
		"at a time, each a connect, 64 bytes echoed by the C server behind the proxy, and a close by the client; " +
		"proxy CPU per relayed connection (its accept, its dial to the backend, both closes)", split},
}

// impl is one server implementation, or in churnClient scenarios one
// client. name is benchsrv's -impl, or "c" for the C reference server
// (the C load generator for clients). loops, if not 0, replaces -loops;
// oneListener serves those loops from one listener instead of one
// SO_REUSEPORT listener per loop (epollnet only).
type impl struct {
	name, label string
	loops       int
	oneListener bool
}

const cref = "c"

// portableImpl is epollnet's server on its portable backend (Go's net
// package underneath, goroutines per connection): benchsrv built with
// -tags epollnet_portable, run with -impl epollnet. It prices portability.
const portableImpl = "epollnet-portable"

var echoImpls = []impl{
	{name: cref, label: "C epoll (reference)"},
	{name: "epollnet", label: "epollnet"},
	{name: portableImpl, label: "epollnet, portable backend"},
	{name: "gnet", label: "gnet v2"},
	{name: "nbio", label: "nbio"},
	{name: "evio", label: "evio"},
	{name: "netpoll", label: "cloudwego/netpoll"},
	{name: "net", label: "Go net, goroutine per conn"},
}

var httpImpls = []impl{
	{name: cref, label: "C epoll (reference)"},
	{name: "epollnet", label: "epollnet, minimal splitter"},
	{name: portableImpl, label: "epollnet portable backend, minimal splitter"},
	{name: "gnet", label: "gnet v2, minimal splitter"},
	{name: "nbio", label: "nbio nbhttp"},
	{name: "fasthttp", label: "fasthttp"},
	{name: "nethttp", label: "net/http"},
}

// httpsImpls serve the TLS scenarios; Go's net/http over crypto/tls, the
// bare crypto/tls server, is the reference of their ratios. nginx and
// HAProxy are native programs the runner configures (native.go); a
// missing one is skipped.
var httpsImpls = []impl{
	{name: "nethttp", label: "Go net/http + crypto/tls (reference)"},
	{name: "epollnet", label: "epollnet, minimal splitter, crypto/tls"},
	{name: "nbio", label: "nbio nbhttp, llib TLS, goroutine pool"},
	{name: "nginx", label: "nginx, OpenSSL"},
	{name: "haproxy", label: "HAProxy, OpenSSL"},
}

// clientImpls are the clients of the churnClient scenarios, each against
// the C server.
var clientImpls = []impl{
	{name: cref, label: "C loadgen -C (reference)"},
	{name: "epollnet", label: "epollnet bench --requests-per-conn 1"},
	{name: "net", label: "Go net.Dial loop (cmd/dialchurn)"},
}

// scaleImpls are the configurations of the scaling scenarios: the C
// reference (one thread), and epollnet with 1, 2 and, on a larger machine,
// as many loops as CPUs, the loops with SO_REUSEPORT listeners or one
// listener.
func scaleImpls() []impl {
	ims := []impl{{name: cref, label: "C epoll, one thread (reference)"}, {name: "epollnet", label: "epollnet, 1 loop", loops: 1}}
	for _, n := range []int{2, runtime.NumCPU()} {
		if n < 2 || (n == 2 && len(ims) > 2) {
			continue
		}
		ims = append(ims,
			impl{name: "epollnet", label: fmt.Sprintf("epollnet, %d loops, SO_REUSEPORT", n), loops: n},
			impl{name: "epollnet", label: fmt.Sprintf("epollnet, %d loops, one listener", n), loops: n, oneListener: true})
	}
	return ims
}

// proto is the server protocol a scenario needs.
func (s scenario) proto() string {
	switch {
	case s.tls():
		return "https"
	case s.kind == httpLoad:
		return "http"
	}
	return "echo"
}

// tls reports whether the scenario is one of the HTTPS scenarios.
func (s scenario) tls() bool {
	return s.kind == httpsLoad || s.kind == tlsFull || s.kind == tlsResume
}

// reference is the implementation the scenario's ratios divide by, and
// -corun's partner: the C reference, or for the TLS scenarios Go's
// net/http over crypto/tls. The proxy scenarios pair their rows with
// epollnet's proxy themselves (proxy.go); their reference is the direct row.
func (s scenario) reference() impl {
	name := cref
	if s.tls() {
		name = "nethttp"
	}
	if s.isProxy() {
		name = direct
	}
	for _, im := range s.impls() {
		if im.name == name {
			return im
		}
	}
	panic("runbench: scenario without its reference")
}

// impls returns the implementations that serve the scenario (clients, for
// churnClient).
func (s scenario) impls() []impl {
	switch {
	case s.kind == httpLoad:
		return httpImpls
	case s.tls():
		return httpsImpls
	case s.kind == churnClient:
		return clientImpls
	case s.scale != split:
		return scaleImpls()
	case s.isProxy():
		return proxyImpls()
	}
	return echoImpls
}

// server is the server a row of the scenario runs against: its own
// implementation, or the C reference for the churnClient rows, which vary
// the client.
func (s scenario) server(im impl) impl {
	if s.kind == churnClient {
		return impl{name: cref, label: "C epoll (reference)"}
	}
	return im
}

// unit is what the scenario's rate counts, per second.
func (s scenario) unit() string {
	switch s.kind {
	case httpLoad, httpsLoad:
		return "req/s"
	case churnServer, churnClient, proxyChurn:
		return "conn/s"
	case tlsFull, tlsResume:
		return "handshakes/s"
	}
	return "msg/s"
}

// cost names the CPU time per operation the scenario compares.
func (s scenario) cost() string {
	switch s.kind {
	case churnServer:
		return "server CPU µs per conn"
	case churnClient:
		return "client CPU µs per conn"
	case httpsLoad:
		return "server CPU µs per request"
	case tlsFull:
		return "server CPU µs per handshake"
	case tlsResume:
		return "server CPU µs per resumed handshake"
	case proxyChurn:
		return "proxy CPU µs per conn"
	case proxyEcho:
		return "proxy CPU µs per msg"
	}
	return "server CPU µs per op"
}

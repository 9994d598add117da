package main

// kind is what a scenario measures.
type kind int

const (
	echoLoad  kind = iota // messages per second through an echo server
	httpLoad              // HTTP plaintext requests per second (wrk)
	idleConns             // memory and CPU of many idle connections
)

// scenario is one row group of the report.
type scenario struct {
	name  string
	kind  kind
	conns int
	size  int // echo: message size in bytes
	depth int // echo: messages in flight per connection; http: pipelined requests
	what  string
}

var scenarios = []scenario{
	{"echo-100", echoLoad, 100, 64, 1, "echo, 100 connections, 64-byte messages, one in flight each"},
	{"echo-100-4k-p4", echoLoad, 100, 4096, 4, "echo, 100 connections, 4 KiB messages, 4 in flight each"},
	{"echo-1000", echoLoad, 1000, 64, 1, "echo, 1,000 connections, 64-byte messages, one in flight each"},
	{"http-100", httpLoad, 100, 0, 1, "HTTP plaintext, 100 keep-alive connections, no pipelining"},
	{"http-1000", httpLoad, 1000, 0, 1, "HTTP plaintext, 1,000 keep-alive connections, no pipelining"},
	{"http-100-p16", httpLoad, 100, 0, 16, "HTTP plaintext, 100 connections, 16 pipelined requests per write"},
	{"http-1000-p16", httpLoad, 1000, 0, 16, "HTTP plaintext, 1,000 connections, 16 pipelined requests per write"},
	{"idle-10k", idleConns, 10_000, 0, 0, "10,000 idle echo connections: RSS growth per connection, idle CPU"},
	// The most this machine allows under its hard RLIMIT_NOFILE of 20,000
	// (idle-100k is skipped here, with the reason): a second point, to
	// show whether the cost per connection stays flat as the count grows.
	{"idle-19k", idleConns, 19_500, 0, 0, "19,500 idle echo connections: RSS growth per connection, idle CPU"},
	{"idle-100k", idleConns, 100_000, 0, 0, "100,000 idle echo connections: RSS growth per connection, idle CPU"},
}

// impl is one server implementation. name is benchsrv's -impl, or "c" for
// the C reference server.
type impl struct {
	name, label string
}

const cref = "c"

var echoImpls = []impl{
	{cref, "C epoll (reference)"},
	{"epollnet", "epollnet"},
	{"gnet", "gnet v2"},
	{"nbio", "nbio"},
	{"evio", "evio"},
	{"netpoll", "cloudwego/netpoll"},
	{"net", "Go net, goroutine per conn"},
}

var httpImpls = []impl{
	{cref, "C epoll (reference)"},
	{"epollnet", "epollnet, minimal splitter"},
	{"gnet", "gnet v2, minimal splitter"},
	{"nbio", "nbio nbhttp"},
	{"fasthttp", "fasthttp"},
	{"nethttp", "net/http"},
}

// proto is the server protocol a scenario needs.
func (s scenario) proto() string {
	if s.kind == httpLoad {
		return "http"
	}
	return "echo"
}

// impls returns the implementations that serve the scenario.
func (s scenario) impls() []impl {
	if s.kind == httpLoad {
		return httpImpls
	}
	return echoImpls
}

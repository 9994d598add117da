// Command benchsrv runs one echo, HTTP plaintext or HTTPS server, or a TCP
// proxy, built on the implementation named by -impl, for the comparison
// suite (see benchmarks/README.md). Every implementation behaves the same:
// echo servers write back every byte they read; HTTP servers answer every
// request with the same 13-byte body and keep the connection alive; HTTPS
// servers do the same over TLS 1.3 with the certificate of -cert and -key;
// proxies relay every connection to -backend both ways, FINs passed on.
//
//	benchsrv -impl epollnet -proto echo -addr 127.0.0.1:7000 -loops 1
//	benchsrv -impl nethttp -proto https -cert cert.pem -key key.pem -addr 127.0.0.1:7443
//	benchsrv -impl epollnet -proto proxy -addr 127.0.0.1:7001 -backend 127.0.0.1:7000
//
// It prints "listening ADDR" once the socket accepts connections and runs
// until SIGINT or SIGTERM.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"runtime/pprof"
	"sort"
	"strings"
	"syscall"
)

// config is what every server needs.
type config struct {
	addr  string
	loops int
	// oneListener (epollnet): serve the loops from one listener, which one
	// loop accepts on and hands connections to the others, instead of one
	// SO_REUSEPORT listener per loop.
	oneListener bool
	backend     string // -proto proxy: the address every connection is relayed to
	// certFile and keyFile are the PEM certificate and key of the https
	// servers.
	certFile, keyFile string
}

// serveFunc starts a server. It returns once the server accepts
// connections (or failed to start); errc receives a later fatal error.
type serveFunc func(cfg config, errc chan<- error) error

// servers lists, per protocol, the implementations by name.
var servers = map[string]map[string]serveFunc{
	"echo": {
		"epollnet": epollnetEcho,
		"gnet":     gnetEcho,
		"nbio":     nbioEcho,
		"evio":     evioEcho,
		"netpoll":  netpollEcho,
		"net":      netEcho,
	},
	"http": {
		"epollnet": epollnetHTTP,
		"gnet":     gnetHTTP,
		"nbio":     nbhttpServe,
		"nethttp":  netHTTP,
		"fasthttp": fasthttpServe,
	},
	"https": {
		"epollnet": epollnetHTTPS,
		"nbio":     nbhttpsServe,
		"nethttp":  netHTTPS,
	},
}

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	os.Exit(run(ctx, os.Args[1:], os.Stdout, os.Stderr))
}

func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("benchsrv", flag.ContinueOnError)
	fs.SetOutput(stderr)
	impl := fs.String("impl", "epollnet", "implementation: "+names())
	proto := fs.String("proto", "echo", "protocol: echo, http, https, or proxy (a TCP relay to -backend)")
	addr := fs.String("addr", "127.0.0.1:7000", "listen address (loopback)")
	loops := fs.Int("loops", 1, "event loops (pollers) where the implementation has them")
	oneListener := fs.Bool("one-listener", false, "epollnet with -loops > 1: one listener shared by the loops, "+
		"not one SO_REUSEPORT listener per loop")
	backend := fs.String("backend", "", "-proto proxy: relay every connection to this address")
	certFile := fs.String("cert", "", "https: the certificate, PEM")
	keyFile := fs.String("key", "", "https: its private key, PEM")
	list := fs.Bool("list", false, "print the implementations of each protocol and exit")
	cpuprofile := fs.String("cpuprofile", "", "write a CPU profile of the whole run to this file")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	if *cpuprofile != "" {
		f, err := os.Create(*cpuprofile)
		if err != nil {
			fmt.Fprintf(stderr, "benchsrv: %v\n", err)
			return 1
		}
		defer f.Close()
		pprof.StartCPUProfile(f)
		defer pprof.StopCPUProfile()
	}
	if *list {
		fmt.Fprint(stdout, names())
		return 0
	}
	serve, ok := servers[*proto][*impl]
	if !ok || *loops < 1 || (*oneListener && *impl != "epollnet") {
		fmt.Fprintf(stderr, "benchsrv: no %s server %q (have: %s), or -loops < 1, or -one-listener for another impl than epollnet\n",
			*proto, *impl, names())
		return 2
	}
	errc := make(chan error, 1)
	if err := serve(config{addr: *addr, loops: *loops, oneListener: *oneListener,
		certFile: *certFile, keyFile: *keyFile, backend: *backend}, errc); err != nil {
		fmt.Fprintf(stderr, "benchsrv: %s %s: %v\n", *impl, *proto, err)
		return 1
	}
	fmt.Fprintf(stdout, "listening %s\n", *addr)
	select {
	case <-ctx.Done():
		return 0
	case err := <-errc:
		if err == nil || errors.Is(err, context.Canceled) {
			return 0
		}
		fmt.Fprintf(stderr, "benchsrv: %s %s: %v\n", *impl, *proto, err)
		return 1
	}
}

// names lists "proto: impl impl ..." for each protocol.
func names() string {
	var b strings.Builder
	var protos []string
	for p := range servers {
		protos = append(protos, p)
	}
	sort.Strings(protos)
	for _, p := range protos {
		var ns []string
		for n := range servers[p] {
			ns = append(ns, n)
		}
		sort.Strings(ns)
		fmt.Fprintf(&b, "%s: %s; ", p, strings.Join(ns, " "))
	}
	return strings.TrimSuffix(b.String(), "; ") + "\n"
}

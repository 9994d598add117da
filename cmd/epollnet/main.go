// Command epollnet shows what epoll and the kernel really do for
// non-blocking sockets, using the epollnet engine.
//
//	epollnet trace                        # a TCP handshake, request and close, as a sequence diagram
//	epollnet trace --scenario ack-dropped # the listener wakes on the final ACK, not at SYN+ACK
//	epollnet trace --list                 # every scenario
//	epollnet help trace                   # every flag
//	epollnet serve --proto http           # an HTTP/1.1 server on 127.0.0.1:8080
//	epollnet bench                        # load an in-process echo server (docs/cli.md)
//	epollnet proxy --backend 127.0.0.1:9001 --backend 127.0.0.1:9002
//
// Each command lives in a package of its own under internal/; this file
// only dispatches. See docs/trace.md for the output formats.
package main

import (
	"context"
	"fmt"
	"io"
	"os"

	"github.com/epollnet/epollnet/cmd/epollnet/internal/bench"
	"github.com/epollnet/epollnet/cmd/epollnet/internal/cli"
	"github.com/epollnet/epollnet/cmd/epollnet/internal/daemon"
	"github.com/epollnet/epollnet/cmd/epollnet/internal/proxy"
	"github.com/epollnet/epollnet/cmd/epollnet/internal/serve"
	"github.com/epollnet/epollnet/cmd/epollnet/internal/trace"
)

func main() {
	// serve and proxy may restart the process on SIGHUP, which they can
	// only do when they are the whole process.
	daemon.Restartable = true
	os.Exit(cli.Process(run, os.Args[1:]))
}

// command is one subcommand: adding one is an entry in commands and a
// package of its own.
type command struct {
	name    string
	summary string
	run     cli.RunFunc
	usage   func(w io.Writer)
}

// commands returns the subcommands in the order help lists them. It is a
// function, not a variable, because help refers back to the list.
func commands() []command {
	return []command{
		{"trace", "run a connection and draw what epoll and the kernel did, as a sequence diagram",
			trace.Run, trace.Usage},
		{"serve", "serve echo, discard or HTTP/1.1 on the engine until interrupted", serve.Run, serve.Usage},
		{"bench", "load-test a server (or an in-process one) and report latency percentiles", bench.Run, bench.Usage},
		{"proxy", "relay TCP connections to backends: balancing, health checks, PROXY protocol", proxy.Run, proxy.Usage},
	}
}

// run is the whole program minus process setup, so tests can call it: it
// parses args (without the program name) and returns the exit code.
func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		usage(stderr)
		return cli.ExitUsage
	}
	switch args[0] {
	case "help", "-h", "-help", "--help":
		return help(args[1:], stdout, stderr)
	}
	cmd, ok := lookup(args[0])
	if !ok {
		fmt.Fprintf(stderr, "epollnet: unknown command %q\n\n", args[0])
		usage(stderr)
		return cli.ExitUsage
	}
	return cmd.run(ctx, args[1:], stdout, stderr)
}

func lookup(name string) (command, bool) {
	for _, c := range commands() {
		if c.name == name {
			return c, true
		}
	}
	return command{}, false
}

// help prints the general usage, or a command's.
func help(args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		usage(stdout)
		return cli.ExitOK
	}
	cmd, ok := lookup(args[0])
	if !ok {
		fmt.Fprintf(stderr, "epollnet help: unknown command %q\n\n", args[0])
		usage(stderr)
		return cli.ExitUsage
	}
	cmd.usage(stdout)
	return cli.ExitOK
}

func usage(w io.Writer) {
	fmt.Fprint(w, "epollnet shows what epoll and the kernel really do for non-blocking sockets.\n\n")
	fmt.Fprint(w, "Usage:\n\n\tepollnet <command> [flags]\n\nCommands:\n\n")
	for _, c := range commands() {
		fmt.Fprintf(w, "\t%-8s %s\n", c.name, c.summary)
	}
	fmt.Fprint(w, "\t"+`help     print this help, or a command's: "epollnet help trace"`+"\n\n")
	fmt.Fprint(w, "Start with \"epollnet trace\".\n")
}

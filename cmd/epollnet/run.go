package main

import (
	"context"
	"fmt"
	"io"
)

// Exit codes.
const (
	exitOK    = 0
	exitFail  = 1 // the command ran and failed
	exitUsage = 2 // bad command line
)

// command is one subcommand. Adding one (serve, bench) is one entry in
// commands and a file of its own.
type command struct {
	name    string
	summary string
	run     func(ctx context.Context, args []string, stdout, stderr io.Writer) int
	usage   func(w io.Writer)
}

// commands returns the subcommands in the order help lists them. It is a
// function, not a variable, because help refers back to the list.
func commands() []command {
	return []command{
		{"trace", "run a connection and draw what epoll and the kernel did, as a sequence diagram",
			runTrace, traceUsage},
		{"serve", "serve echo, discard or HTTP/1.1 on the engine until interrupted", runServe, serveUsage},
		{"bench", "load-test a server (or an in-process one) and report latency percentiles", runBench, benchUsage},
	}
}

// run is the whole program minus process setup, so tests can call it: it
// parses args (without the program name) and returns the exit code.
func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		usage(stderr)
		return exitUsage
	}
	switch args[0] {
	case "help", "-h", "-help", "--help":
		return help(args[1:], stdout, stderr)
	}
	cmd, ok := lookup(args[0])
	if !ok {
		fmt.Fprintf(stderr, "epollnet: unknown command %q\n\n", args[0])
		usage(stderr)
		return exitUsage
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
		return exitOK
	}
	cmd, ok := lookup(args[0])
	if !ok {
		fmt.Fprintf(stderr, "epollnet help: unknown command %q\n\n", args[0])
		usage(stderr)
		return exitUsage
	}
	cmd.usage(stdout)
	return exitOK
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

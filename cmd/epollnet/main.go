// Command epollnet shows what epoll and the kernel really do for
// non-blocking sockets, using the epollnet engine.
//
//	epollnet trace                       # a TCP handshake, request and close, as a sequence diagram
//	epollnet trace --scenario ack-dropped # where the design note's diagram is wrong
//	epollnet trace --list                 # every scenario
//	epollnet help trace                   # every flag
//	epollnet serve --proto http           # an HTTP/1.1 server on 127.0.0.1:8080
//	epollnet bench                        # load an in-process echo server (docs/cli.md)
//
// See docs/trace.md for the output formats.
package main

import (
	"context"
	"os"
	"os/signal"
	"syscall"
)

func main() { os.Exit(runProcess(os.Args[1:])) }

// runProcess is run as the whole process: SIGINT and SIGTERM cancel its
// context, and serve may restart the process on SIGHUP (restartable).
func runProcess(args []string) int {
	restartable = true
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	return run(ctx, args, os.Stdout, os.Stderr)
}

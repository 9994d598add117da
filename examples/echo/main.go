// Command echo is the smallest useful epollnet server: it echoes every byte
// back, closes idle connections after a minute, and shuts down gracefully on
// SIGINT or SIGTERM.
//
//	go run ./examples/echo -listen 127.0.0.1:7000
//	nc 127.0.0.1 7000
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/epollnet/epollnet"
)

// echo writes back whatever it reads. Write never blocks: bytes the kernel
// cannot take yet are buffered and flushed when the socket is writable.
type echo struct{ epollnet.BaseHandler }

func (echo) OnData(c *epollnet.Conn, in []byte) int {
	c.Write(in)
	return len(in)
}

func main() {
	addr := flag.String("listen", "127.0.0.1:7000", "address to listen on")
	flag.Parse()
	if err := run(*addr); err != nil {
		fmt.Fprintln(os.Stderr, "echo:", err)
		os.Exit(1)
	}
}

func run(addr string) error {
	e, err := epollnet.New(epollnet.Options{IdleTimeout: time.Minute})
	if err != nil {
		return err
	}
	ln, err := e.Listen("tcp", addr, echo{}, &epollnet.ListenConfig{ReusePort: true})
	if err != nil {
		e.Abort()
		return err
	}
	fmt.Printf("echo: listening on %s with %d loops\n", ln.Addr(), e.Loops())
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	<-ctx.Done()
	shutdown, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	return e.Shutdown(shutdown)
}

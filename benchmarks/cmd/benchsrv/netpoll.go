package main

import (
	"context"

	"github.com/cloudwego/netpoll"
)

// netpollEcho echoes with cloudwego/netpoll. netpoll runs OnRequest on a
// goroutine pool, by design; Flush blocks until the echo is written, so
// the read buffer is released only after it.
func netpollEcho(cfg config, errc chan<- error) error {
	if err := netpoll.Configure(netpoll.Config{PollerNum: cfg.loops}); err != nil {
		return err
	}
	ln, err := netpoll.CreateListener("tcp", cfg.addr)
	if err != nil {
		return err
	}
	el, err := netpoll.NewEventLoop(func(_ context.Context, c netpoll.Connection) error {
		r, w := c.Reader(), c.Writer()
		buf, err := r.Next(r.Len())
		if err != nil {
			return err
		}
		w.WriteBinary(buf)
		err = w.Flush()
		r.Release()
		return err
	})
	if err != nil {
		return err
	}
	go func() { errc <- el.Serve(ln) }()
	return nil
}

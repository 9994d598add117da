package main

import (
	"github.com/epollnet/epollnet"
	"github.com/epollnet/epollnet/benchmarks/internal/plaintext"
)

type epollnetEchoHandler struct{ epollnet.BaseHandler }

func (epollnetEchoHandler) OnData(c *epollnet.Conn, in []byte) int {
	c.Write(in)
	return len(in)
}

type epollnetHTTPHandler struct{ epollnet.BaseHandler }

// OnData answers every complete request in in with one Write and leaves a
// partial request unconsumed, to be offered again with the next data. The
// Date comes from the loop's clock reading for the round (Conn.LoopTime),
// as the C reference reads the clock once per epoll_wait.
func (epollnetHTTPHandler) OnData(c *epollnet.Conn, in []byte) int {
	n, used, closing := plaintext.Scan(in)
	if closing {
		n--
	}
	for n > 0 {
		b := plaintext.ResponsesAt(n, c.LoopTime())
		c.Write(b)
		n -= len(b) / plaintext.Len
	}
	if closing {
		c.Write(plaintext.CloseResponse())
		c.Close()
		return len(in)
	}
	return used
}

func epollnetServe(cfg config, h epollnet.Handler) error {
	e, err := epollnet.New(epollnet.Options{Loops: cfg.loops})
	if err != nil {
		return err
	}
	_, err = e.Listen("tcp", cfg.addr, h, &epollnet.ListenConfig{ReusePort: cfg.loops > 1 && !cfg.oneListener})
	return err
}

func epollnetEcho(cfg config, _ chan<- error) error { return epollnetServe(cfg, epollnetEchoHandler{}) }
func epollnetHTTP(cfg config, _ chan<- error) error { return epollnetServe(cfg, epollnetHTTPHandler{}) }

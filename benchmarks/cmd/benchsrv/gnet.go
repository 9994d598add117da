package main

import (
	"github.com/epollnet/epollnet/benchmarks/internal/plaintext"
	"github.com/panjf2000/gnet/v2"
	"github.com/panjf2000/gnet/v2/pkg/logging"
)

type gnetEchoHandler struct{ gnet.BuiltinEventEngine }

func (*gnetEchoHandler) OnTraffic(c gnet.Conn) gnet.Action {
	buf, _ := c.Next(-1)
	c.Write(buf)
	return gnet.None
}

// gnetHTTPHandler is the request splitter of gnet's HTTP example reduced to
// the same plaintext responder the other minimal servers use.
type gnetHTTPHandler struct{ gnet.BuiltinEventEngine }

func (*gnetHTTPHandler) OnTraffic(c gnet.Conn) gnet.Action {
	buf, _ := c.Peek(-1)
	n, used, closing := plaintext.Scan(buf)
	if closing {
		n--
	}
	for n > 0 {
		b := plaintext.Responses(n)
		c.Write(b)
		n -= len(b) / plaintext.Len
	}
	if closing {
		c.Write(plaintext.CloseResponse())
		return gnet.Close
	}
	c.Discard(used)
	return gnet.None
}

func gnetServe(cfg config, errc chan<- error, h gnet.EventHandler) error {
	return background(cfg.addr, errc, func() error {
		return gnet.Run(h, "tcp://"+cfg.addr,
			gnet.WithNumEventLoop(cfg.loops),
			gnet.WithReusePort(cfg.loops > 1),
			gnet.WithReuseAddr(true), // as Go's net.Listen and the C server do
			gnet.WithTCPNoDelay(gnet.TCPNoDelay),
			gnet.WithLogLevel(logging.ErrorLevel))
	})
}

func gnetEcho(cfg config, errc chan<- error) error { return gnetServe(cfg, errc, &gnetEchoHandler{}) }
func gnetHTTP(cfg config, errc chan<- error) error { return gnetServe(cfg, errc, &gnetHTTPHandler{}) }

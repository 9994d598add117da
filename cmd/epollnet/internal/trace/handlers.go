package trace

import (
	"time"

	"github.com/epollnet/epollnet"
)

// The scenarios' little protocol: one line each way.
const (
	request = "GET /hello\n"
	reply   = "hello\n"
)

// serverMode is how the server answers.
type serverMode int

const (
	replyAtOnce    serverMode = iota // reply to each request, close after the client's FIN
	replyThenAbort                   // reply, then abort: data, then RST
	replyAtEOF                       // read until the client's FIN, then reply and close
	sink                             // read and discard, close after the client's FIN
)

// server is the handler of the traced listener. closes receives one value
// per closed connection.
type server struct {
	epollnet.BaseHandler
	mode   serverMode
	closes chan<- struct{}
}

func (h *server) OnData(c *epollnet.Conn, in []byte) int {
	switch h.mode {
	case replyAtOnce:
		c.Write([]byte(reply))
	case replyThenAbort:
		c.Write([]byte(reply))
		c.Abort()
	}
	return len(in)
}

func (h *server) OnReadEOF(c *epollnet.Conn) {
	if h.mode == replyAtEOF {
		c.Write([]byte(reply))
	}
	c.Close()
}

func (h *server) OnClose(c *epollnet.Conn, reason error) { notify(h.closes) }

// client is the handler of dialed connections.
type client struct {
	epollnet.BaseHandler
	request      string        // sent once open; "" sends nothing
	delay        time.Duration // wait this long after OnOpen before sending
	closeWrite   bool          // shut down the write side after the request
	closeOnOpen  bool          // close as soon as connected
	closeOnReply bool          // close after the first reply bytes
	replyTimeout time.Duration // close if no reply came in time; 0: wait forever
	closes       chan<- struct{}
}

func (h *client) OnOpen(c *epollnet.Conn) {
	switch {
	case h.closeOnOpen:
		c.Close()
	case h.request == "":
	case h.delay > 0:
		c.AfterFunc(h.delay, func() { h.send(c) })
	default:
		h.send(c)
	}
}

func (h *client) send(c *epollnet.Conn) {
	c.Write([]byte(h.request))
	if h.closeWrite {
		c.CloseWrite()
	}
	if h.replyTimeout > 0 {
		c.AfterFunc(h.replyTimeout, func() { c.Close() })
	}
}

func (h *client) OnData(c *epollnet.Conn, in []byte) int {
	if h.closeOnReply {
		c.Close()
	}
	return len(in)
}

func (h *client) OnClose(c *epollnet.Conn, reason error) { notify(h.closes) }

// notify sends without blocking a loop: the channel is sized for every
// connection a scenario makes.
func notify(ch chan<- struct{}) {
	select {
	case ch <- struct{}{}:
	default:
	}
}

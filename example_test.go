//go:build linux

package epollnet_test

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"io"
	"log"
	"net"
	"time"

	"github.com/epollnet/epollnet"
)

// echo writes back whatever it reads. BaseHandler supplies the other
// methods; its OnReadEOF closes the connection when the client is done.
type echo struct{ epollnet.BaseHandler }

func (echo) OnData(c *epollnet.Conn, in []byte) int {
	c.Write(in) // never blocks: what the kernel refuses is buffered
	return len(in)
}

// An echo server, and a client of the net package talking to it.
func ExampleEngine_Listen() {
	e, err := epollnet.New(epollnet.Options{})
	if err != nil {
		log.Fatal(err)
	}
	ln, err := e.Listen("tcp", "127.0.0.1:0", echo{}, nil) // port 0: the kernel picks one
	if err != nil {
		log.Fatal(err)
	}

	conn, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		log.Fatal(err)
	}
	fmt.Fprintln(conn, "hello, epollnet")
	line, err := bufio.NewReader(conn).ReadString('\n')
	if err != nil {
		log.Fatal(err)
	}
	fmt.Print(line)
	conn.Close()

	// Shutdown stops the listener, closes the connections gracefully and
	// waits for them, then stops the loops.
	if err := e.Shutdown(context.Background()); err != nil {
		log.Fatal(err)
	}
	// Output: hello, epollnet
}

// lines hands each line a connection receives to another goroutine.
// Handlers run on the loop goroutine and must not block, so the channel is
// buffered.
type lines struct {
	epollnet.BaseHandler
	ch chan string
}

func (h lines) OnData(c *epollnet.Conn, in []byte) int {
	line, _, ok := bytes.Cut(in, []byte("\n"))
	if !ok {
		return 0 // keep the partial line: OnData gets it again, with what follows
	}
	h.ch <- string(line)
	return len(line) + 1
}

// Dial waits for the connection: when it returns, OnOpen has run.
func ExampleEngine_Dial() {
	e, err := epollnet.New(epollnet.Options{})
	if err != nil {
		log.Fatal(err)
	}
	defer e.Shutdown(context.Background())
	ln, err := e.Listen("tcp", "127.0.0.1:0", echo{}, nil)
	if err != nil {
		log.Fatal(err)
	}

	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	client := lines{ch: make(chan string, 1)}
	c, err := e.Dial(ctx, "tcp", ln.Addr().String(), client, nil)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println("connected:", c.Role())
	c.Write([]byte("ping\n")) // Conn methods are safe from any goroutine
	fmt.Println("echoed:", <-client.ch)
	c.Close()
	// Output:
	// connected: dialed
	// echoed: ping
}

// pinger speaks first: it sends "ping" as soon as its connection opens,
// reports the reply and closes. It runs on the loop goroutine, so it hands
// what it sees to the example through a buffered channel, big enough for
// every event, instead of printing.
type pinger struct {
	epollnet.BaseHandler
	events chan string
}

func (p pinger) OnOpen(c *epollnet.Conn) {
	p.events <- "open"
	c.Write([]byte("ping\n"))
}

func (p pinger) OnData(c *epollnet.Conn, in []byte) int {
	line, _, ok := bytes.Cut(in, []byte("\n"))
	if !ok {
		return 0
	}
	p.events <- "reply: " + string(line)
	c.Close() // OnClose follows, on a later turn of the loop
	return len(in)
}

// OnClose is called exactly once: after Close, or with the dial error if
// the connection never opened (then OnOpen is never called).
func (p pinger) OnClose(c *epollnet.Conn, reason error) {
	p.events <- fmt.Sprintf("closed: %v", reason)
	close(p.events)
}

// DialAsync returns at once; the handler learns the outcome on the loop.
// It is the dial to use from inside a handler, where Dial would deadlock.
func ExampleEngine_DialAsync() {
	e, err := epollnet.New(epollnet.Options{})
	if err != nil {
		log.Fatal(err)
	}
	defer e.Shutdown(context.Background())
	ln, err := e.Listen("tcp", "127.0.0.1:0", echo{}, nil)
	if err != nil {
		log.Fatal(err)
	}

	p := pinger{events: make(chan string, 3)}
	if _, err := e.DialAsync("tcp", ln.Addr().String(), p, nil); err != nil {
		log.Fatal(err) // only for invalid arguments or a closed engine
	}
	for ev := range p.events {
		fmt.Println(ev)
	}
	// Output:
	// open
	// reply: ping
	// closed: <nil>
}

// Watermarks of the backpressure example, small to keep it quick.
const (
	highWater = 64 << 10
	lowWater  = 16 << 10
)

// producer sends total bytes to its client, one 64 KiB chunk at a time,
// without letting more than highWater pile up in the connection's output
// buffer: past it, it stops and waits for OnWritable. It serves a single
// connection; its fields are used on the loop goroutine only, until
// OnClose hands them over through closed.
type producer struct {
	epollnet.BaseHandler
	total, sent int
	pauses      int
	writables   int
	stopped     chan struct{} // closed when it first stops writing: paused or done
	closed      chan error    // OnClose's reason
}

func (p *producer) OnOpen(c *epollnet.Conn) { p.produce(c) }

// OnWritable: the output buffer drained to lowWater after being above
// highWater.
func (p *producer) OnWritable(c *epollnet.Conn) {
	p.writables++
	if p.sent < p.total {
		p.produce(c)
	}
}

func (p *producer) produce(c *epollnet.Conn) {
	chunk := make([]byte, 64<<10)
	for p.sent < p.total {
		// Write takes all of chunk, sending what the kernel accepts and
		// queueing the rest; Buffered tells how much is queued.
		if c.Buffered() > highWater {
			p.pauses++
			p.stop()
			return
		}
		n, err := c.Write(chunk)
		if err != nil {
			return // the connection failed; OnClose says why
		}
		p.sent += n
	}
	p.stop()
	// Graceful: the queued bytes are flushed, then the FIN is sent.
	c.Close()
}

func (p *producer) stop() {
	select {
	case <-p.stopped:
	default:
		close(p.stopped)
	}
}

func (p *producer) OnClose(c *epollnet.Conn, reason error) { p.closed <- reason }

// A server that respects backpressure (Options.WriteHighWater and
// Handler.OnWritable) and closes gracefully with output still queued.
func ExampleConn_Write_backpressure() {
	e, err := epollnet.New(epollnet.Options{WriteHighWater: highWater, WriteLowWater: lowWater})
	if err != nil {
		log.Fatal(err)
	}
	defer e.Shutdown(context.Background())
	p := &producer{total: 16 << 20, stopped: make(chan struct{}), closed: make(chan error, 1)}
	ln, err := e.Listen("tcp", "127.0.0.1:0", p, nil)
	if err != nil {
		log.Fatal(err)
	}

	conn, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		log.Fatal(err)
	}
	// Start reading only once the server stopped writing, so that the
	// kernel's socket buffers (a few MiB on loopback) fill up and the
	// example shows backpressure every time.
	<-p.stopped
	n, err := io.Copy(io.Discard, conn) // until EOF
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println("client read", n, "bytes")
	conn.Close() // a lingering server close may be waiting for this FIN

	reason := <-p.closed
	fmt.Println("server paused:", p.pauses > 0, "resumed by OnWritable:", p.writables > 0)
	fmt.Println("server close reason:", reason)
	// Output:
	// client read 16777216 bytes
	// server paused: true resumed by OnWritable: true
	// server close reason: <nil>
}

// ticker writes three ticks, 10 ms apart, on a timer of the connection's
// loop, then closes. The timer function runs on the loop goroutine, like a
// handler method, so it may use the handler's state without locks.
type ticker struct{ epollnet.BaseHandler }

func (ticker) OnOpen(c *epollnet.Conn) {
	n := 0
	var t *epollnet.Timer
	t = c.AfterFunc(10*time.Millisecond, func() {
		n++
		if _, err := fmt.Fprintf(c, "tick %d\n", n); err != nil {
			return // closed meanwhile: the timer outlives its connection
		}
		if n == 3 {
			c.Close()
			return
		}
		t.Reset(10 * time.Millisecond) // a Timer can be reused
	})
}

func ExampleConn_AfterFunc() {
	e, err := epollnet.New(epollnet.Options{})
	if err != nil {
		log.Fatal(err)
	}
	defer e.Shutdown(context.Background())
	ln, err := e.Listen("tcp", "127.0.0.1:0", ticker{}, nil)
	if err != nil {
		log.Fatal(err)
	}

	conn, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		log.Fatal(err)
	}
	defer conn.Close()
	out, err := io.ReadAll(conn) // until the server closes
	if err != nil {
		log.Fatal(err)
	}
	fmt.Print(string(out))
	// Output:
	// tick 1
	// tick 2
	// tick 3
}

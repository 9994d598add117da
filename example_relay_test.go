//go:build linux

package epollnet_test

import (
	"bufio"
	"context"
	"fmt"
	"log"
	"net"

	"github.com/epollnet/epollnet"
)

// proxy relays every client to one backend. The upstream is dialed on the
// client's own loop (Conn.DialAsync), so Pipe can join the two at once,
// while the upstream is still connecting: what the client sends meanwhile
// waits in the upstream's output.
type proxy struct {
	epollnet.BaseHandler
	backend string
}

func (p proxy) OnOpen(down *epollnet.Conn) {
	up, err := down.DialAsync("tcp", p.backend, epollnet.BaseHandler{}, nil)
	if err == nil {
		err = epollnet.Pipe(down, up, nil)
	}
	if err != nil {
		down.Abort()
	}
}

// A TCP proxy: an echo server behind it, a client of the net package in
// front.
func ExamplePipe() {
	e, err := epollnet.New(epollnet.Options{})
	if err != nil {
		log.Fatal(err)
	}
	backend, err := e.Listen("tcp", "127.0.0.1:0", echo{}, nil)
	if err != nil {
		log.Fatal(err)
	}
	front, err := e.Listen("tcp", "127.0.0.1:0", proxy{backend: backend.Addr().String()}, nil)
	if err != nil {
		log.Fatal(err)
	}

	conn, err := net.Dial("tcp", front.Addr().String())
	if err != nil {
		log.Fatal(err)
	}
	fmt.Fprintln(conn, "hello through the relay")
	line, err := bufio.NewReader(conn).ReadString('\n')
	if err != nil {
		log.Fatal(err)
	}
	fmt.Print(line)
	conn.Close()
	if err := e.Shutdown(context.Background()); err != nil {
		log.Fatal(err)
	}
	// Output: hello through the relay
}

// session is the state of one connection, in a handler of its own.
type session struct {
	epollnet.BaseHandler
	lines int
}

func (s *session) OnData(c *epollnet.Conn, in []byte) int {
	for _, b := range in {
		if b == '\n' {
			s.lines++
			fmt.Fprintf(c, "line %d\n", s.lines)
		}
	}
	return len(in)
}

// PerConn makes a handler for every connection, so that its state needs
// no Conn.Context and no type assertion.
func ExamplePerConn() {
	e, err := epollnet.New(epollnet.Options{})
	if err != nil {
		log.Fatal(err)
	}
	ln, err := e.Listen("tcp", "127.0.0.1:0", epollnet.PerConn(func(*epollnet.Conn) epollnet.Handler {
		return &session{}
	}), nil)
	if err != nil {
		log.Fatal(err)
	}
	conn, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		log.Fatal(err)
	}
	r := bufio.NewReader(conn)
	for _, msg := range []string{"a\n", "b\n"} {
		fmt.Fprint(conn, msg)
		line, err := r.ReadString('\n')
		if err != nil {
			log.Fatal(err)
		}
		fmt.Print(line)
	}
	conn.Close()
	if err := e.Shutdown(context.Background()); err != nil {
		log.Fatal(err)
	}
	// Output:
	// line 1
	// line 2
}

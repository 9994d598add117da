//go:build linux

package epollnet

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"syscall"
	"testing"
	"time"

	"github.com/epollnet/epollnet/internal/nettest"
)

// smallBuffers makes a socket's kernel buffers small, so that a relay's
// backpressure, not the kernel's buffering, decides how much is in flight.
func smallBuffers(fd int) error {
	if err := syscall.SetsockoptInt(fd, syscall.SOL_SOCKET, syscall.SO_RCVBUF, 32<<10); err != nil {
		return err
	}
	return syscall.SetsockoptInt(fd, syscall.SOL_SOCKET, syscall.SO_SNDBUF, 32<<10)
}

func smallBuffersControl(network, address string, rc syscall.RawConn) error {
	var err error
	rc.Control(func(fd uintptr) { err = smallBuffers(int(fd)) })
	return err
}

// A slow reader behind a relay holds the relay to its watermarks: the
// upstream's reads pause while the client's side is above its high
// watermark, so a server sending far more than the client's write cap
// loses nothing. Without the pause the client's pending output would pass
// MaxWriteBuffer and the connection would be closed with
// ErrWriteCapExceeded.
func TestPipeBackpressureBoundsMemory(t *testing.T) { bothPaths(t, testPipeBackpressureBoundsMemory) }

func testPipeBackpressureBoundsMemory(t *testing.T, splice bool) {
	nettest.NeedEpoll(t, "DialConfig.Socket and ListenFrom with small socket buffers")
	const total = 16 << 20
	e := newEngine(t, Options{Loops: 1, WriteHighWater: 64 << 10, WriteLowWater: 16 << 10, MaxWriteBuffer: 512 << 10})
	bl, err := (&net.ListenConfig{Control: smallBuffersControl}).Listen(context.Background(), "tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer bl.Close()
	written := make(chan int, 1)
	progress := make(chan int, 1024)
	go func() {
		c, err := bl.Accept()
		if err != nil {
			written <- 0
			return
		}
		defer c.Close()
		n, chunk := 0, make([]byte, 16<<10)
		for n < total {
			for i := range chunk {
				chunk[i] = byte((n + i) % 251)
			}
			m, err := c.Write(chunk)
			n += m
			if err != nil {
				break
			}
			select {
			case progress <- n:
			default:
			}
		}
		written <- n
	}()
	p := newRelayProxy(bl.Addr().String())
	p.splice = splice
	p.cfg = &DialConfig{Socket: func(family, sotype, proto int) (int, error) {
		fd, err := syscall.Socket(family, sotype, proto)
		if err == nil {
			err = smallBuffers(fd)
		}
		return fd, err
	}}
	lnGo, err := (&net.ListenConfig{Control: smallBuffersControl}).Listen(context.Background(), "tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer lnGo.Close()                    // ListenFrom serves a duplicate of its socket
	ln, err := e.ListenFrom(lnGo, p, nil) // accepted sockets inherit the small buffers
	if err != nil {
		t.Fatal(err)
	}
	c, err := (&net.Dialer{Control: smallBuffersControl}).Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()

	// Read nothing until the server is stuck (its writes stopped
	// progressing) or has written 4 MiB, eight times the client's write cap.
	waitStalled(progress, 4<<20)
	got, buf := 0, make([]byte, 64<<10)
	for {
		n, err := c.Read(buf)
		for i := 0; i < n; i++ {
			if buf[i] != byte((got+i)%251) {
				t.Fatalf("byte %d differs", got+i)
			}
		}
		got += n
		if err != nil {
			break
		}
	}
	if n := recv(t, written, "server"); got != total || n != total {
		t.Fatalf("server wrote %d, client read %d of %d", n, got, total)
	}
	c.Close() // the client's direction ends too
	if r := recv(t, p.results, "PipeResult"); r.Err() != nil || r.BToA != total || splice && r.Spliced < total/2 {
		t.Fatalf("pipe: %d bytes down, errors %v / %v", r.BToA, r.AErr, r.BErr)
	}
}

// waitStalled returns once the writer's progress reports stop coming for a
// while, or report at least limit. Either way the test goes on: stopping
// early only makes it weaker, never wrong.
func waitStalled(progress <-chan int, limit int) {
	for quiet := 0; quiet < 5; {
		select {
		case n := <-progress:
			quiet = 0
			if n >= limit {
				return
			}
		case <-time.After(20 * time.Millisecond):
			quiet++
		}
	}
}

// Pipe refuses what it cannot relay: the same connection twice,
// connections of two loops, a call off their loop.
func TestPipeArguments(t *testing.T) {
	e := newEngine(t, Options{Loops: 2, LoadBalance: RoundRobin})
	r := newRecorder()
	ln := listen(t, e, r, nil)
	dialTCP(t, ln)
	dialTCP(t, ln)
	a, b := recv(t, r.opened, "OnOpen"), recv(t, r.opened, "OnOpen")
	if a.LoopIndex() == b.LoopIndex() {
		t.Fatalf("both connections on loop %d", a.LoopIndex())
	}
	if err := Pipe(a, a, nil); !errors.Is(err, errPipeArgs) {
		t.Errorf("Pipe(a, a): %v", err)
	}
	if err := Pipe(a, b, nil); !errors.Is(err, errPipeLoops) {
		t.Errorf("Pipe across loops: %v", err)
	}
	// Two connections of one loop, joined from the test goroutine.
	c := r
	dialTCP(t, ln)
	dialTCP(t, ln)
	x, y := recv(t, c.opened, "OnOpen"), recv(t, c.opened, "OnOpen")
	if x.LoopIndex() != a.LoopIndex() {
		x = y
	}
	if !raceBuild {
		return // only a -race build checks the goroutine
	}
	if err := Pipe(a, x, nil); !errors.Is(err, errPipeOffLoop) {
		t.Errorf("Pipe off the loop: %v", err)
	}
}

// Conn.DialAsync puts the new connection on the dialing connection's loop,
// whatever the engine's balancing would choose.
func TestConnDialAsyncSameLoop(t *testing.T) {
	e := newEngine(t, Options{Loops: 4})
	p := newRelayProxy(goEchoBackend(t))
	p.loops = make(chan [2]int, 16)
	ln := listen(t, e, p, nil)
	for i := 0; i < 8; i++ {
		if err := relayRoundTrip(ln.Addr().String(), int64(i), 100); err != nil {
			t.Fatal(err)
		}
		if lp := recv(t, p.loops, "loops"); lp[0] != lp[1] {
			t.Fatalf("upstream on loop %d, client on loop %d", lp[1], lp[0])
		}
		recv(t, p.results, "PipeResult")
	}
}

// counter is a per-connection handler: its state is its own.
type counter struct {
	BaseHandler
	id     uint64
	n      int
	closed chan error
}

func (h *counter) OnData(c *Conn, in []byte) int {
	h.n += len(in)
	fmt.Fprintf(c, "%d:%d\n", h.id, h.n)
	return len(in)
}

func (h *counter) OnClose(c *Conn, why error) {
	if h.closed != nil {
		h.closed <- why
	}
}

// PerConn gives each connection a handler of its own, made before its
// first event; a failed dial's handler is made for its OnClose.
func TestPerConnHandlers(t *testing.T) {
	e := newEngine(t, Options{Loops: 1})
	made := make(chan uint64, 8)
	ln := listen(t, e, PerConn(func(c *Conn) Handler {
		made <- c.ID()
		return &counter{id: c.ID()}
	}), nil)
	c1, c2 := dialTCP(t, ln), dialTCP(t, ln)
	for _, step := range []struct {
		c *net.TCPConn
		n int
	}{{c1, 3}, {c2, 5}, {c1, 4}} {
		step.c.Write(make([]byte, step.n))
		buf := make([]byte, 64)
		n, err := step.c.Read(buf)
		if err != nil {
			t.Fatal(err)
		}
		var id uint64
		var total int
		fmt.Sscanf(string(buf[:n]), "%d:%d", &id, &total)
		if step.c == c1 && step.n == 4 && total != 7 || step.c == c2 && total != 5 {
			t.Fatalf("connection %d counted %d", id, total)
		}
	}
	if a, b := recv(t, made, "handler"), recv(t, made, "handler"); a == b {
		t.Fatalf("one handler made for both: %d", a)
	}

	dead, _ := net.Listen("tcp", "127.0.0.1:0")
	addr := dead.Addr().String()
	dead.Close()
	closed := make(chan error, 1)
	if _, err := e.DialAsync("tcp", addr, PerConn(func(c *Conn) Handler {
		return &counter{closed: closed}
	}), nil); err != nil {
		t.Fatal(err)
	}
	if err := recv(t, closed, "OnClose"); !errors.Is(err, syscall.ECONNREFUSED) {
		t.Fatalf("failed dial's OnClose: %v", err)
	}
}

// OverHighWater follows the watermarks: true once pending output passed
// the high one, false again when OnWritable reports the drain.
func TestOverHighWater(t *testing.T) {
	e := newEngine(t, Options{Loops: 1, WriteHighWater: 256 << 10, WriteLowWater: 64 << 10})
	r, cli, c := connect(t, e)
	if c.OverHighWater() {
		t.Fatal("OverHighWater before any write")
	}
	c.Write(make([]byte, 8<<20)) // far more than the kernel's buffers
	if !c.OverHighWater() {
		t.Fatalf("OverHighWater false with %d bytes pending", c.Buffered())
	}
	go io.Copy(io.Discard, cli)
	recv(t, r.writable, "OnWritable")
	if c.OverHighWater() {
		t.Fatalf("OverHighWater after OnWritable, %d bytes pending", c.Buffered())
	}
}

// A connection closing gracefully gets no OnWritable while its output
// drains: its handler is done producing.
func TestNoOnWritableAfterClose(t *testing.T) {
	e := newEngine(t, Options{Loops: 1, WriteHighWater: 256 << 10, WriteLowWater: 64 << 10})
	r, cli, c := connect(t, e)
	c.Write(make([]byte, 8<<20))
	c.Close()
	if n, err := io.Copy(io.Discard, cli); n != 8<<20 || err != nil {
		t.Fatalf("client read %d, %v", n, err)
	}
	recv(t, r.closed, "OnClose")
	select {
	case <-r.writable:
		t.Fatal("OnWritable after Close")
	default:
	}
}

// lateJoin keeps what the client sends (OnData consumes nothing) and joins
// the connection to the backend only at the client's FIN: the pipe must
// relay the kept bytes and then pass on the FIN it never saw itself.
type lateJoin struct {
	BaseHandler
	backend string
	results chan PipeResult
}

func (h *lateJoin) OnData(c *Conn, in []byte) int { return 0 }

func (h *lateJoin) OnReadEOF(down *Conn) {
	up, err := down.DialAsync("tcp", h.backend, BaseHandler{}, nil)
	if err == nil {
		err = Pipe(down, up, &PipeConfig{OnDone: func(r PipeResult) { h.results <- r }})
	}
	if err != nil {
		down.Abort()
	}
}

func TestPipePassesOnEarlierEOF(t *testing.T) {
	e := newEngine(t, Options{Loops: 1})
	h := &lateJoin{backend: goEchoBackend(t), results: make(chan PipeResult, 1)}
	ln := listen(t, e, h, nil)
	c := dialTCP(t, ln)
	c.Write([]byte("request"))
	c.CloseWrite()
	c.SetReadDeadline(time.Now().Add(10 * time.Second)) // a bound, so a lost FIN fails rather than hangs
	b, err := io.ReadAll(c)
	if err != nil || string(b) != "request" {
		t.Fatalf("client read %q, %v", b, err)
	}
	if r := recv(t, h.results, "PipeResult"); r.Err() != nil || r.AToB != 7 || r.BToA != 7 {
		t.Fatalf("pipe: %d up, %d down, %v / %v", r.AToB, r.BToA, r.AErr, r.BErr)
	}
}

//go:build linux

package epollnet

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"math/rand"
	"net"
	"sync"
	"syscall"
	"testing"

	"github.com/epollnet/epollnet/internal/nettest"
)

// relayProxy is a listener handler that relays each accepted connection to
// backend: reads pause until the upstream, dialed on the same loop, is
// joined to it with Pipe right away (either may still be connecting).
type relayProxy struct {
	BaseHandler
	backend string
	cfg     *DialConfig
	results chan PipeResult
	loops   chan [2]int // the loops of each pair, when asked for
	splice  bool        // PipeConfig.Splice
}

// bothPaths runs a relay test with the copying path and with splice.
func bothPaths(t *testing.T, f func(t *testing.T, splice bool)) {
	t.Run("copy", func(t *testing.T) { f(t, false) })
	t.Run("splice", func(t *testing.T) {
		nettest.NeedEpoll(t, "splice(2) through a kernel pipe (Pipe copies on the portable backend)")
		f(t, true)
	})
}

func newRelayProxy(backend string) *relayProxy {
	return &relayProxy{backend: backend, results: make(chan PipeResult, 256)}
}

func (p *relayProxy) OnOpen(down *Conn) {
	up, err := down.DialAsync("tcp", p.backend, BaseHandler{}, p.cfg)
	if err != nil {
		down.Abort()
		return
	}
	if p.loops != nil {
		p.loops <- [2]int{down.LoopIndex(), up.LoopIndex()}
	}
	if err := Pipe(down, up, &PipeConfig{OnDone: func(r PipeResult) { p.results <- r }, Splice: p.splice}); err != nil {
		down.Abort()
		up.Abort()
	}
}

// goEchoBackend is a backend of the net package: it echoes every connection and
// half-closes after the client's FIN, so each relay ends with a FIN each
// way.
func goEchoBackend(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	var mu sync.Mutex
	var conns []net.Conn
	t.Cleanup(func() {
		ln.Close()
		mu.Lock()
		for _, c := range conns { // a failed test may leave one waiting
			c.Close()
		}
		mu.Unlock()
		wg.Wait()
	})
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			mu.Lock()
			conns = append(conns, c)
			mu.Unlock()
			wg.Add(1)
			go func() {
				defer wg.Done()
				defer c.Close()
				// Hidden behind plain interfaces, so that io.Copy does not
				// splice: Go keeps its splice pipes in a pool, which the
				// descriptor leak check would count.
				io.Copy(struct{ io.Writer }{c}, struct{ io.Reader }{c})
				c.(*net.TCPConn).CloseWrite()
			}()
		}
	}()
	return ln.Addr().String()
}

// A relay passes every byte both ways, and half-close too: each client
// sends a random amount, shuts its write half, and must read back exactly
// what it sent, then EOF. Many at once, on two loops, each pair on one.
func TestPipeRelaysByteExactWithHalfClose(t *testing.T) {
	bothPaths(t, testPipeRelaysByteExactWithHalfClose)
}

func testPipeRelaysByteExactWithHalfClose(t *testing.T, splice bool) {
	e := newEngine(t, Options{Loops: 2})
	p := newRelayProxy(goEchoBackend(t))
	p.loops = make(chan [2]int, 64)
	p.splice = splice
	ln := listen(t, e, p, nil)

	const n = 40
	errs := make(chan error, n)
	for i := 0; i < n; i++ {
		size := rand.Intn(1 << 20)
		if i == 0 {
			size = 0 // a connection that only half-closes
		}
		go func(seed int64) { errs <- relayRoundTrip(ln.Addr().String(), seed, size) }(int64(i))
	}
	for i := 0; i < n; i++ {
		if err := recv(t, errs, "client"); err != nil {
			t.Error(err)
		}
	}
	for i := 0; i < n; i++ {
		r := recv(t, p.results, "PipeResult")
		// Replies come once the upstream is open, so a spliced relay
		// splices them; a copying one never does.
		spliceOK := r.Spliced == 0 && !splice || r.Spliced > 0 && splice || r.BToA < 64<<10
		if r.Err() != nil || r.AToB != r.BToA || !spliceOK {
			t.Errorf("pipe: %d bytes up, %d down, %d spliced, errors %v / %v", r.AToB, r.BToA, r.Spliced, r.AErr, r.BErr)
		}
		if lp := recv(t, p.loops, "loops"); lp[0] != lp[1] {
			t.Errorf("upstream on loop %d, client on loop %d", lp[1], lp[0])
		}
	}
}

// relayRoundTrip sends size random bytes through the relay, half-closes,
// and checks the echo.
func relayRoundTrip(addr string, seed int64, size int) error {
	c, err := net.Dial("tcp", addr)
	if err != nil {
		return err
	}
	defer c.Close()
	data := make([]byte, size)
	rand.New(rand.NewSource(seed)).Read(data)
	werr := make(chan error, 1)
	go func() {
		_, err := c.Write(data)
		if err == nil {
			err = c.(*net.TCPConn).CloseWrite()
		}
		werr <- err
	}()
	got, err := io.ReadAll(c)
	if err != nil {
		return fmt.Errorf("read: %w (after %d of %d bytes)", err, len(got), size)
	}
	if err := <-werr; err != nil {
		return fmt.Errorf("write: %w", err)
	}
	if !bytes.Equal(got, data) {
		return fmt.Errorf("got %d bytes back, sent %d: contents differ", len(got), size)
	}
	return nil
}

// The server may half-close first: its FIN reaches the client while the
// client's direction stays open, and what the client sends afterwards
// still reaches the server.
func TestPipeServerHalfClosesFirst(t *testing.T) { bothPaths(t, testPipeServerHalfClosesFirst) }

func testPipeServerHalfClosesFirst(t *testing.T, splice bool) {
	e := newEngine(t, Options{Loops: 1})
	bl, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer bl.Close()
	got := make(chan []byte, 1)
	go func() {
		c, err := bl.Accept()
		if err != nil {
			got <- nil
			return
		}
		defer c.Close()
		c.Write([]byte("banner"))
		c.(*net.TCPConn).CloseWrite()
		b, _ := io.ReadAll(c)
		got <- b
	}()
	p := newRelayProxy(bl.Addr().String())
	p.splice = splice
	ln := listen(t, e, p, nil)
	c := dialTCP(t, ln)
	b, err := io.ReadAll(c) // the banner, then the server's FIN
	if err != nil || string(b) != "banner" {
		t.Fatalf("client read %q, %v", b, err)
	}
	c.Write([]byte("after the server's FIN"))
	c.CloseWrite()
	if b := recv(t, got, "server's read"); string(b) != "after the server's FIN" {
		t.Fatalf("server read %q", b)
	}
	if r := recv(t, p.results, "PipeResult"); r.Err() != nil || r.AToB != 22 || r.BToA != 6 {
		t.Fatalf("pipe: %d up, %d down, %v / %v", r.AToB, r.BToA, r.AErr, r.BErr)
	}
}

// A refused upstream ends the pipe with the dial error, and the client is
// closed gracefully (a FIN, not a reset).
func TestPipeUpstreamRefused(t *testing.T) { bothPaths(t, testPipeUpstreamRefused) }

func testPipeUpstreamRefused(t *testing.T, splice bool) {
	e := newEngine(t, Options{Loops: 1})
	dead, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := dead.Addr().String()
	dead.Close()
	p := newRelayProxy(addr)
	p.splice = splice
	ln := listen(t, e, p, nil)
	c := dialTCP(t, ln)
	c.Write([]byte("lost: nobody to send it to"))
	if b, err := io.ReadAll(c); err != nil || len(b) != 0 {
		t.Fatalf("client read %q, %v; want a clean EOF", b, err)
	}
	r := recv(t, p.results, "PipeResult")
	if !errors.Is(r.BErr, syscall.ECONNREFUSED) || Classify(r.BErr) != ClassRefused || !errors.Is(r.Err(), syscall.ECONNREFUSED) {
		t.Fatalf("BErr %v (class %v), Err %v", r.BErr, Classify(r.BErr), r.Err())
	}
}

// An upstream reset midway: what it sent before the reset still reaches
// the client, which then sees its connection end; the pipe reports the
// reset.
func TestPipeUpstreamResetMidway(t *testing.T) { bothPaths(t, testPipeUpstreamResetMidway) }

func testPipeUpstreamResetMidway(t *testing.T, splice bool) {
	e := newEngine(t, Options{Loops: 1})
	bl, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer bl.Close()
	go func() {
		c, err := bl.Accept()
		if err != nil {
			return
		}
		buf := make([]byte, 5)
		io.ReadFull(c, buf) // "hello"
		c.Write([]byte("partial answer"))
		c.(*net.TCPConn).SetLinger(0)
		c.Close() // RST
	}()
	p := newRelayProxy(bl.Addr().String())
	p.splice = splice
	ln := listen(t, e, p, nil)
	c := dialTCP(t, ln)
	c.Write([]byte("hello"))
	b, _ := io.ReadAll(c)
	r := recv(t, p.results, "PipeResult")
	if !errors.Is(r.BErr, ErrPeerReset) || r.AToB != 5 {
		t.Fatalf("BErr %v, AToB %d", r.BErr, r.AToB)
	}
	if r.BToA == int64(len("partial answer")) && string(b) != "partial answer" {
		t.Fatalf("the relay took %d bytes from the upstream, the client got %q", r.BToA, b)
	}
}

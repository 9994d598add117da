//go:build linux

package epollnet

import (
	"bytes"
	"crypto/sha256"
	"errors"
	"io"
	"math/rand/v2"
	"net"
	"sync"
	"syscall"
	"testing"
)

func TestEchoIntegrity1000Conns(t *testing.T) {
	e := newEngine(t, Options{Loops: 2})
	ln := listen(t, e, echoHandler{}, nil)
	const conns = 1000
	errs := make(chan error, conns)
	var wg sync.WaitGroup
	for i := 0; i < conns; i++ {
		wg.Add(1)
		go func(seed uint64) {
			defer wg.Done()
			errs <- echoRoundTrip(ln.Addr().String(), seed)
		}(uint64(i))
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	if got := e.Stats().Total.Accepted; got != conns {
		t.Fatalf("accepted %d connections, want %d", got, conns)
	}
}

// echoRoundTrip sends random-sized chunks of random data, reads the echo
// concurrently in random-sized reads, and compares checksums.
func echoRoundTrip(addr string, seed uint64) error {
	c, err := net.Dial("tcp", addr)
	if err != nil {
		return err
	}
	defer c.Close()
	rng := rand.New(rand.NewPCG(seed, 7))
	total := 1 + rng.IntN(64<<10)
	payload := make([]byte, total)
	for i := range payload {
		payload[i] = byte(rng.Uint32())
	}
	done := make(chan error, 1)
	go func() {
		for off := 0; off < total; {
			n := min(1+rng.IntN(8<<10), total-off)
			if _, err := c.Write(payload[off : off+n]); err != nil {
				done <- err
				return
			}
			off += n
		}
		done <- nil
	}()
	got := make([]byte, 0, total)
	buf := make([]byte, 4096)
	for len(got) < total {
		n, err := c.Read(buf[:1+len(got)%len(buf)])
		if err != nil {
			return err
		}
		got = append(got, buf[:n]...)
	}
	if err := <-done; err != nil {
		return err
	}
	if sha256.Sum256(got) != sha256.Sum256(payload) {
		return errors.New("echo checksum mismatch")
	}
	return nil
}

// writeThenClose writes a payload from OnOpen and closes at once.
type writeThenClose struct {
	BaseHandler
	payload []byte
	closed  chan error
}

func (h *writeThenClose) OnOpen(c *Conn) {
	c.Write(h.payload)
	c.Close()
}

func (h *writeThenClose) OnClose(c *Conn, err error) { h.closed <- err }

func TestWriteThenCloseDeliversEveryByte(t *testing.T) {
	e := newEngine(t, Options{Loops: 1})
	payload := bytes.Repeat([]byte("0123456789abcdef"), 1<<18) // 4 MiB: far past the socket buffer
	h := &writeThenClose{payload: payload, closed: make(chan error, 1)}
	ln := listen(t, e, h, nil)
	c := dialTCP(t, ln)
	got, err := io.ReadAll(c)
	if err != nil {
		t.Fatalf("ReadAll: %v", err)
	}
	if !bytes.Equal(got, payload) {
		t.Fatalf("received %d bytes, want %d identical", len(got), len(payload))
	}
	c.Close()
	if err := recv(t, h.closed, "OnClose"); err != nil {
		t.Fatalf("OnClose reason %v, want nil after Close", err)
	}
}

func TestPeerHalfCloseReportedAndWritingStillWorks(t *testing.T) {
	e := newEngine(t, Options{Loops: 1})
	r := newRecorder()
	r.onEOF = func(c *Conn) {
		// The peer finished sending; we can still answer.
		c.Write([]byte("got:" + string(r.bytes())))
		c.Close()
	}
	ln := listen(t, e, r, nil)
	c := dialTCP(t, ln)
	c.Write([]byte("request"))
	c.CloseWrite()
	reply, err := io.ReadAll(c)
	if err != nil {
		t.Fatal(err)
	}
	if string(reply) != "got:request" {
		t.Fatalf("reply %q", reply)
	}
	recv(t, r.eof, "OnReadEOF")
	if err := recv(t, r.closed, "OnClose"); !errors.Is(err, ErrPeerClosed) {
		t.Fatalf("reason %v, want ErrPeerClosed", err)
	}
}

func TestCloseWriteFlushesThenSendsFIN(t *testing.T) {
	e := newEngine(t, Options{Loops: 1})
	r := newRecorder()
	r.onEOF = func(c *Conn) {} // keep the connection after the peer's FIN
	ln := listen(t, e, r, nil)
	c := dialTCP(t, ln)
	sc := recv(t, r.opened, "OnOpen")
	big := bytes.Repeat([]byte{'x'}, 1<<20)
	if _, err := sc.Write(big); err != nil {
		t.Fatal(err)
	}
	if err := sc.CloseWrite(); err != nil {
		t.Fatal(err)
	}
	if _, err := sc.Write([]byte("late")); !errors.Is(err, ErrClosed) {
		t.Fatalf("Write after CloseWrite: %v, want ErrClosed", err)
	}
	got, err := io.ReadAll(c) // EOF only after every byte
	if err != nil || len(got) != len(big) {
		t.Fatalf("read %d bytes, err %v; want %d then EOF", len(got), err, len(big))
	}
	// Our read half is still open: the client can keep sending.
	c.Write([]byte("after-fin"))
	c.CloseWrite()
	recv(t, r.eof, "OnReadEOF")
	if string(r.bytes()) != "after-fin" {
		t.Fatalf("server read %q", r.bytes())
	}
	if err := recv(t, r.closed, "OnClose"); !errors.Is(err, ErrPeerClosed) {
		t.Fatalf("reason %v, want ErrPeerClosed", err)
	}
}

func TestPeerResetReportedAsReset(t *testing.T) {
	e := newEngine(t, Options{Loops: 1})
	r := newRecorder()
	ln := listen(t, e, r, nil)
	c := dialTCP(t, ln)
	recv(t, r.opened, "OnOpen")
	c.Write([]byte("last words"))
	c.SetLinger(0)
	c.Close() // RST
	err := recv(t, r.closed, "OnClose")
	if !errors.Is(err, ErrPeerReset) || !errors.Is(err, syscall.ECONNRESET) {
		t.Fatalf("reason %v, want ErrPeerReset and ECONNRESET", err)
	}
	// Data that arrived before the RST is delivered first (see
	// docs/kernel.md, "Peer shutdown, close and reset").
	if string(r.bytes()) != "last words" {
		t.Fatalf("data before RST: %q", r.bytes())
	}
	if r.closes != 1 {
		t.Fatalf("OnClose called %d times", r.closes)
	}
}

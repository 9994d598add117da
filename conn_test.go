//go:build linux

package epollnet

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"runtime"
	"sync"
	"sync/atomic"
	"testing"
	"time"
	"unsafe"

	"github.com/epollnet/epollnet/internal/nettest"
	"github.com/epollnet/epollnet/internal/poller"
	"golang.org/x/sys/unix"
)

func TestWritesFrom100GoroutinesKeepOrder(t *testing.T) {
	e := newEngine(t, Options{Loops: 1, WriteHighWater: 8 << 20, MaxWriteBuffer: 64 << 20})
	_, c, sc := connect(t, e)
	const writers, perWriter = 100, 500
	var wg sync.WaitGroup
	for w := 0; w < writers; w++ {
		wg.Add(1)
		go func(w uint32) {
			defer wg.Done()
			var msg [8]byte
			for i := uint32(0); i < perWriter; i++ {
				binary.BigEndian.PutUint32(msg[:4], w)
				binary.BigEndian.PutUint32(msg[4:], i)
				if _, err := sc.Write(msg[:]); err != nil {
					panic(err) // cannot t.Fatal off the test goroutine; a failure here is a bug
				}
			}
		}(uint32(w))
	}
	next := make([]uint32, writers)
	br := bufio.NewReader(c)
	var msg [8]byte
	for n := 0; n < writers*perWriter; n++ {
		if _, err := io.ReadFull(br, msg[:]); err != nil {
			t.Fatalf("after %d messages: %v", n, err)
		}
		w, i := binary.BigEndian.Uint32(msg[:4]), binary.BigEndian.Uint32(msg[4:])
		if w >= writers || i != next[w] {
			t.Fatalf("writer %d: got message %d, want %d", w, i, next[w])
		}
		next[w]++
	}
	wg.Wait()
}

func TestSlowReaderHitsWriteCapMemoryBounded(t *testing.T) {
	const capBytes = 4 << 20
	e := newEngine(t, Options{Loops: 1, WriteHighWater: 1 << 20, WriteLowWater: 1 << 19, MaxWriteBuffer: capBytes})
	r := newRecorder()
	ln := listen(t, e, r, nil)
	c := dialTCP(t, ln) // never reads
	_ = c
	sc := recv(t, r.opened, "OnOpen")
	chunk := make([]byte, 64<<10)
	var writeErr error
	written := 0
	for i := 0; i < 4096 && writeErr == nil; i++ { // bounded: 256 MiB at most
		var n int
		n, writeErr = sc.Write(chunk)
		written += n
		if b := sc.Buffered(); b > capBytes {
			t.Fatalf("pending output %d exceeds cap %d", b, capBytes)
		}
	}
	if !errors.Is(writeErr, ErrWriteCapExceeded) {
		t.Fatalf("Write error %v after %d bytes, want ErrWriteCapExceeded", writeErr, written)
	}
	var opErr *net.OpError
	if !errors.As(writeErr, &opErr) || opErr.Op != "write" {
		t.Fatalf("error %#v is not a *net.OpError for write", writeErr)
	}
	if err := recv(t, r.closed, "OnClose"); !errors.Is(err, ErrWriteCapExceeded) {
		t.Fatalf("close reason %v, want ErrWriteCapExceeded", err)
	}
	if _, err := sc.Write(chunk); !errors.Is(err, ErrClosed) {
		t.Fatalf("Write after cap close: %v", err)
	}
	var ms runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&ms)
	if ms.HeapInuse > 256<<20 {
		t.Fatalf("heap in use %d MiB after the cap", ms.HeapInuse>>20)
	}
}

func TestBackpressureWatermarksCallOnWritable(t *testing.T) {
	e := newEngine(t, Options{Loops: 1, WriteHighWater: 256 << 10, WriteLowWater: 64 << 10})
	r, c, sc := connect(t, e)
	chunk := make([]byte, 64<<10)
	for sc.Buffered() <= 256<<10 {
		if _, err := sc.Write(chunk); err != nil {
			t.Fatal(err)
		}
	}
	if e.Stats().Total.HighWater != 1 {
		t.Fatalf("HighWater counter %d, want 1", e.Stats().Total.HighWater)
	}
	select {
	case <-r.writable:
		t.Fatal("OnWritable before the peer read anything")
	default:
	}
	go io.Copy(io.Discard, c)
	recv(t, r.writable, "OnWritable")
	if b := sc.Buffered(); b > 64<<10 {
		t.Fatalf("OnWritable with %d bytes pending, above the low watermark", b)
	}
}

func TestFDReuseNoCrossTalk(t *testing.T) {
	e := newEngine(t, Options{Loops: 1})
	r := newRecorder()
	ln := listen(t, e, r, nil)
	c1 := dialTCP(t, ln)
	old := recv(t, r.opened, "first OnOpen")
	c1.Close()
	recv(t, r.closed, "first OnClose")
	// The kernel hands out the lowest free descriptor: the next accept
	// reuses the old connection's number.
	c2 := dialTCP(t, ln)
	fresh := recv(t, r.opened, "second OnOpen")
	if fresh.fd != old.fd {
		t.Skipf("descriptor not reused (%d then %d); nothing to check", old.fd, fresh.fd)
	}
	if _, err := old.Write([]byte("stale")); !errors.Is(err, ErrClosed) {
		t.Fatalf("write to closed conn: %v", err)
	}
	fresh.Write([]byte("fresh"))
	buf := make([]byte, 16)
	n, err := c2.Read(buf)
	if err != nil || string(buf[:n]) != "fresh" {
		t.Fatalf("new connection read %q, %v; want only \"fresh\"", buf[:n], err)
	}
}

func TestStaleEventForReusedFDIsDropped(t *testing.T) {
	e := newEngine(t, Options{Loops: 1})
	r := newRecorder()
	ln := listen(t, e, r, nil)
	dialTCP(t, ln)
	sc := recv(t, r.opened, "OnOpen")
	l := sc.loop
	done := make(chan uint64)
	l.enqueue(task{kind: taskFunc, fn: func() {
		before := l.stats.stale.Load()
		// An event tagged with the previous generation of this fd, as
		// epoll would deliver for the descriptor that had the number before.
		l.handle(poller.Tag{FD: int32(sc.fd), Gen: sc.gen - 1}, poller.Readable)
		done <- l.stats.stale.Load() - before
	}})
	if n := recv(t, done, "stale check"); n != 1 {
		t.Fatalf("stale counter rose by %d, want 1", n)
	}
	if len(r.bytes()) != 0 || len(r.closed) != 0 {
		t.Fatal("stale event reached the connection")
	}
}

func TestMethodsAfterCloseReturnErrors(t *testing.T) {
	e := newEngine(t, Options{Loops: 1})
	r, c, sc := connect(t, e)
	c.Close()
	recv(t, r.closed, "OnClose")
	calls := map[string]func() error{
		"Write":          func() error { _, err := sc.Write([]byte("x")); return err },
		"Writev":         func() error { _, err := sc.Writev([][]byte{[]byte("x")}); return err },
		"Close":          sc.Close,
		"CloseWrite":     sc.CloseWrite,
		"Abort":          sc.Abort,
		"PauseRead":      sc.PauseRead,
		"ResumeRead":     sc.ResumeRead,
		"SetIdleTimeout": func() error { return sc.SetIdleTimeout(time.Second) },
		"SetReadTimeout": func() error { return sc.SetReadTimeout(time.Second) },
	}
	for name, call := range calls {
		if err := call(); !errors.Is(err, ErrClosed) {
			t.Errorf("%s after close: %v, want ErrClosed", name, err)
		}
	}
	_ = sc.LocalAddr()
	_ = sc.RemoteAddr()
	_ = sc.Buffered()
	if r.closes != 1 {
		t.Fatalf("OnClose called %d times", r.closes)
	}
}

func TestCloseCallbackExactlyOnce(t *testing.T) {
	e := newEngine(t, Options{Loops: 2})
	r := newRecorder()
	r.closed = make(chan error, 1000)
	r.opened = make(chan *Conn, 1000)
	ln := listen(t, e, r, nil)
	const n = 200
	for i := 0; i < n; i++ {
		c := dialTCP(t, ln)
		sc := recv(t, r.opened, "OnOpen")
		// Race every way of ending a connection against each other.
		switch i % 4 {
		case 0:
			go sc.Close()
			go sc.Abort()
			c.Close()
		case 1:
			c.SetLinger(0)
			c.Close()
			sc.Close()
		case 2:
			sc.Abort()
			sc.Close()
		case 3:
			sc.CloseWrite()
			go sc.Close()
			c.Close()
		}
	}
	for i := 0; i < n; i++ {
		recv(t, r.closed, fmt.Sprintf("OnClose %d", i))
	}
	if r.closes != n {
		t.Fatalf("OnClose called %d times for %d connections", r.closes, n)
	}
	select {
	case err := <-r.closed:
		t.Fatalf("extra OnClose: %v", err)
	default:
	}
}

func TestPauseAndResumeRead(t *testing.T) {
	e := newEngine(t, Options{Loops: 1})
	r := newRecorder()
	var paused sync.Once
	got := make(chan []byte, 16)
	r.onData = func(c *Conn, in []byte) int {
		paused.Do(func() { c.PauseRead() })
		got <- append([]byte(nil), in...)
		return len(in)
	}
	ln := listen(t, e, r, nil)
	c := dialTCP(t, ln)
	sc := recv(t, r.opened, "OnOpen")
	c.Write([]byte("first"))
	if s := recv(t, got, "first data"); string(s) != "first" {
		t.Fatalf("got %q", s)
	}
	c.Write([]byte("second"))
	// Prove that nothing is delivered while paused: a round trip through
	// the loop's task queue runs after any pending read event.
	for i := 0; i < 3; i++ {
		sync := make(chan struct{})
		e.loops[0].enqueue(task{kind: taskFunc, fn: func() { close(sync) }})
		<-sync
	}
	select {
	case s := <-got:
		t.Fatalf("delivered %q while paused", s)
	default:
	}
	sc.ResumeRead()
	if s := recv(t, got, "data after resume"); string(s) != "second" {
		t.Fatalf("got %q", s)
	}
}

func TestUnconsumedBytesAreOfferedAgain(t *testing.T) {
	e := newEngine(t, Options{Loops: 1})
	r := newRecorder()
	lines := make(chan string, 16)
	r.onData = func(c *Conn, in []byte) int {
		i := bytes.IndexByte(in, '\n')
		if i < 0 {
			return 0 // keep the partial line
		}
		lines <- string(in[:i])
		return i + 1
	}
	ln := listen(t, e, r, nil)
	c := dialTCP(t, ln)
	c.Write([]byte("hel"))
	recv(t, r.opened, "OnOpen")
	for i := 0; i < 3; i++ { // let the partial line be read and kept
		sync := make(chan struct{})
		e.loops[0].enqueue(task{kind: taskFunc, fn: func() { close(sync) }})
		<-sync
	}
	c.Write([]byte("lo\n"))
	if l := recv(t, lines, "line"); l != "hello" {
		t.Fatalf("line %q", l)
	}
}

func TestReadCapClosesConnection(t *testing.T) {
	e := newEngine(t, Options{Loops: 1, MaxReadBuffer: 64 << 10})
	r := newRecorder()
	r.onData = func(c *Conn, in []byte) int { return 0 } // never consumes
	ln := listen(t, e, r, nil)
	c := dialTCP(t, ln)
	go c.Write(make([]byte, 256<<10))
	if err := recv(t, r.closed, "OnClose"); !errors.Is(err, ErrReadCapExceeded) {
		t.Fatalf("reason %v", err)
	}
}

// TestOnWritableAfterPartialDrain: output that drains to the low watermark
// through partial writes, without ever emptying in one flush, still gets
// its OnWritable.
func TestOnWritableAfterPartialDrain(t *testing.T) {
	nettest.NeedEpoll(t, "SO_SNDBUF on the engine's descriptor")
	e := newEngine(t, Options{Loops: 1, WriteHighWater: 256 << 10, WriteLowWater: 64 << 10})
	r, c, sc := connect(t, e)
	done := make(chan error, 1)
	e.loops[0].enqueue(task{kind: taskFunc, fn: func() {
		// A small send buffer makes every flush partial.
		done <- unix.SetsockoptInt(sc.fd, unix.SOL_SOCKET, unix.SO_SNDBUF, 4096)
	}})
	if err := recv(t, done, "setsockopt"); err != nil {
		t.Fatal(err)
	}
	if _, err := sc.Write(make([]byte, 1<<20)); err != nil {
		t.Fatal(err)
	}
	go io.Copy(io.Discard, c)
	recv(t, r.writable, "OnWritable")
}

// TestNoOnDataAfterCloseInOnData: a handler that closes in OnData gets no
// further OnData, even with more input already readable.
func TestNoOnDataAfterCloseInOnData(t *testing.T) {
	e := newEngine(t, Options{Loops: 1, ReadBufferSize: 4096})
	r := newRecorder()
	var calls atomic.Int32
	r.onData = func(c *Conn, in []byte) int {
		calls.Add(1)
		c.Close()
		return len(in)
	}
	ln := listen(t, e, r, nil)
	syncLoops(e)
	release := blockLoop(e, 0) // let the whole burst arrive before the first read
	c := dialTCP(t, ln)
	c.Write(make([]byte, 200<<10))
	release()
	recv(t, r.closed, "OnClose")
	if n := calls.Load(); n != 1 {
		t.Fatalf("OnData called %d times, want 1", n)
	}
}

// TestConnSize holds Conn at 112 bytes, an allocation size class: every
// idle connection costs that plus its 16-byte descriptor slot, and a field
// added carelessly would move it up to the next class (128) or beyond.
func TestConnSize(t *testing.T) {
	if n := unsafe.Sizeof(Conn{}); n > 112 {
		t.Fatalf("Conn is %d bytes, want at most 112 (see the comment on Conn)", n)
	}
	if n := unsafe.Sizeof(fdEntry{}); n > 16 {
		t.Fatalf("fdEntry is %d bytes, want 16", n)
	}
}

// loopTimeHandler records two LoopTime readings taken in one OnData.
type loopTimeHandler struct {
	BaseHandler
	got chan [2]time.Time
}

func (h loopTimeHandler) OnData(c *Conn, in []byte) int {
	h.got <- [2]time.Time{c.LoopTime(), c.LoopTime()}
	return len(in)
}

// TestLoopTime: LoopTime is the same for every call in one round and lies
// between wall-clock readings taken around it.
func TestLoopTime(t *testing.T) {
	e := newEngine(t, Options{Loops: 1})
	h := loopTimeHandler{got: make(chan [2]time.Time, 1)}
	ln := listen(t, e, h, nil)
	c := dialTCP(t, ln)
	before := time.Now()
	c.Write([]byte("x"))
	s := recv(t, h.got, "OnData")
	after := time.Now()
	if !s[0].Equal(s[1]) {
		t.Fatalf("two calls in one callback: %v then %v", s[0], s[1])
	}
	if s[0].Before(before.Add(-time.Millisecond)) || s[0].After(after) {
		t.Fatalf("LoopTime %v outside [%v, %v]", s[0], before, after)
	}
}

// TestNoOnDataAfterWriteCapExceeded: once a Write in OnData fails with
// ErrWriteCapExceeded, the connection is done: the read batch in progress
// delivers nothing more, though the peer keeps sending and the receive
// queue holds more, and OnClose reports the cap.
func TestNoOnDataAfterWriteCapExceeded(t *testing.T) {
	e := newEngine(t, Options{Loops: 1, MaxWriteBuffer: 64 << 10, WriteHighWater: 32 << 10, WriteLowWater: 16 << 10})
	var failed, after int // loop goroutine only; read after OnClose
	r := newRecorder()
	r.onData = func(c *Conn, in []byte) int {
		if failed > 0 {
			after++
			return len(in)
		}
		if _, err := c.Write(in); errors.Is(err, ErrWriteCapExceeded) {
			failed++
		}
		return len(in)
	}
	ln := listen(t, e, r, nil)
	c := dialTCP(t, ln) // never reads: the echo backs up to the cap
	go func() {
		chunk := make([]byte, 1<<20)
		for range 64 { // bounded: 64 MiB; the reset ends it sooner
			if _, err := c.Write(chunk); err != nil {
				return
			}
		}
	}()
	if err := recv(t, r.closed, "OnClose"); !errors.Is(err, ErrWriteCapExceeded) {
		t.Fatalf("close reason %v, want ErrWriteCapExceeded", err)
	}
	if failed != 1 || after != 0 {
		t.Fatalf("%d Writes failed on the cap, then %d OnData calls; want 1 and 0", failed, after)
	}
}

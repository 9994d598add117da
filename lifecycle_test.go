//go:build linux

package epollnet

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"testing"
	"time"
)

func TestIdleTimeoutClosesSilentConnection(t *testing.T) {
	e := newEngine(t, Options{Loops: 1, IdleTimeout: 100 * time.Millisecond})
	r := newRecorder()
	ln := listen(t, e, r, nil)
	c := dialTCP(t, ln)
	err := recv(t, r.closed, "OnClose")
	var ne net.Error
	if !errors.Is(err, ErrIdleTimeout) || !errors.As(err, &ne) || !ne.Timeout() {
		t.Fatalf("reason %v: want ErrIdleTimeout, a net.Error with Timeout()", err)
	}
	if _, err := c.Read(make([]byte, 1)); err != io.EOF {
		t.Fatalf("client read %v, want EOF", err)
	}
}

func TestReadTimeoutSetPerConnection(t *testing.T) {
	e := newEngine(t, Options{Loops: 1})
	r := newRecorder()
	ln := listen(t, e, &openHook{recorder: r, f: func(c *Conn) {
		c.SetReadTimeout(100 * time.Millisecond)
	}}, nil)
	dialTCP(t, ln)
	sc := recv(t, r.opened, "OnOpen")
	sc.Write([]byte("writing does not count as reading"))
	if err := recv(t, r.closed, "OnClose"); !errors.Is(err, ErrReadTimeout) || !errors.Is(err, os.ErrDeadlineExceeded) {
		t.Fatalf("reason %v, want ErrReadTimeout", err)
	}
}

// TestReadTimeoutSetLaterCountsFromLastData: a read timeout set on a
// connection that had none still runs from its last data, not from the
// call: set after 600 ms of silence, a 500 ms timeout has already passed
// and closes the connection at once (counting from the call, it would take
// another 500 ms).
func TestReadTimeoutSetLaterCountsFromLastData(t *testing.T) {
	e := newEngine(t, Options{Loops: 1})
	r := newRecorder()
	got := make(chan struct{}, 1)
	r.onData = func(_ *Conn, in []byte) int { got <- struct{}{}; return len(in) }
	ln := listen(t, e, r, nil)
	c := dialTCP(t, ln)
	sc := recv(t, r.opened, "OnOpen")
	c.Write([]byte("x"))
	recv(t, got, "OnData")
	time.Sleep(600 * time.Millisecond) // the silence being measured, not synchronization
	set := time.Now()
	sc.SetReadTimeout(500 * time.Millisecond)
	if err := recv(t, r.closed, "OnClose"); !errors.Is(err, ErrReadTimeout) {
		t.Fatalf("reason %v, want ErrReadTimeout", err)
	}
	if d := time.Since(set); d > 400*time.Millisecond {
		t.Fatalf("closed %v after SetReadTimeout: the clock started at the call, not at the last data", d)
	}
}

func TestShutdownFlushesPendingOutput(t *testing.T) {
	leakCheck(t)
	e, err := New(Options{Loops: 1})
	if err != nil {
		t.Fatal(err)
	}
	r, c, sc := connect(t, e)
	payload := bytes.Repeat([]byte("z"), 8<<20)
	sc.Write(payload) // far more than the socket buffers hold
	if sc.Buffered() == 0 {
		t.Fatal("expected pending output")
	}
	got := make(chan int, 1)
	go func() {
		n, _ := io.Copy(io.Discard, c)
		got <- int(n)
	}()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := e.Shutdown(ctx); err != nil {
		t.Fatalf("Shutdown: %v", err)
	}
	if n := recv(t, got, "client EOF"); n != len(payload) {
		t.Fatalf("client got %d bytes, want %d", n, len(payload))
	}
	if err := recv(t, r.closed, "OnClose"); !errors.Is(err, ErrEngineShutdown) {
		t.Fatalf("reason %v", err)
	}
	if st := e.Stats().Total; st.Registered != 0 || st.Conns != 0 {
		t.Fatalf("left behind: %+v", st)
	}
	if err := e.Shutdown(ctx); !errors.Is(err, ErrEngineClosed) {
		t.Fatalf("second Shutdown: %v", err)
	}
	if _, err := e.Listen("tcp", "127.0.0.1:0", r, nil); !errors.Is(err, ErrEngineClosed) {
		t.Fatalf("Listen after Shutdown: %v", err)
	}
}

func TestShutdownDeadlineAbortsStuckConnections(t *testing.T) {
	leakCheck(t)
	e, err := New(Options{Loops: 1})
	if err != nil {
		t.Fatal(err)
	}
	r := newRecorder()
	ln := listen(t, e, r, nil)
	c := dialTCP(t, ln) // never reads
	sc := recv(t, r.opened, "OnOpen")
	sc.Write(make([]byte, 8<<20))
	ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel()
	if err := e.Shutdown(ctx); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Shutdown: %v, want DeadlineExceeded", err)
	}
	if err := recv(t, r.closed, "OnClose"); !errors.Is(err, ErrEngineShutdown) {
		t.Fatalf("reason %v", err)
	}
	// The abortive close sent RST: the client sees a reset, not a clean EOF.
	if _, err := io.Copy(io.Discard, c); !errors.Is(err, syscall.ECONNRESET) {
		t.Fatalf("client: %v, want ECONNRESET", err)
	}
}

func TestShutdownFromHandlerIsRefused(t *testing.T) {
	e := newEngine(t, Options{Loops: 1})
	res := make(chan error, 1)
	e.AfterFunc(0, func() { res <- e.Shutdown(context.Background()) })
	if err := recv(t, res, "Shutdown result"); err == nil || !strings.Contains(err.Error(), "event loop") {
		t.Fatalf("Shutdown on a loop: %v", err)
	}
}

// TestGracefulCloseLingersUntilPeerFIN closes while the peer's data is
// still arriving unread. A plain close() would answer with RST and discard
// the output not yet delivered; the lingering close delivers all of it.
func TestGracefulCloseLingersUntilPeerFIN(t *testing.T) {
	e := newEngine(t, Options{Loops: 1})
	payload := bytes.Repeat([]byte("q"), 4<<20)
	h := &writeThenClose{payload: payload, closed: make(chan error, 1)}
	ln := listen(t, e, h, nil)
	c := dialTCP(t, ln)
	if _, err := c.Write(bytes.Repeat([]byte("unread"), 1000)); err != nil {
		t.Fatal(err)
	}
	got, err := io.ReadAll(c)
	if err != nil {
		t.Fatalf("after %d bytes: %v (a close with unread input resets)", len(got), err)
	}
	if len(got) != len(payload) {
		t.Fatalf("got %d bytes, want %d", len(got), len(payload))
	}
	c.Close()
	if err := recv(t, h.closed, "OnClose"); err != nil {
		t.Fatalf("reason %v", err)
	}
}

func TestWriteAfterPeerResetNoSIGPIPE(t *testing.T) {
	sigs := make(chan os.Signal, 1)
	signal.Notify(sigs, syscall.SIGPIPE)
	defer signal.Stop(sigs)
	e := newEngine(t, Options{Loops: 1})
	r, c, sc := connect(t, e)
	c.SetLinger(0)
	c.Close()
	var werr error
	for i := 0; i < 1000 && werr == nil; i++ {
		_, werr = sc.Write([]byte("into the void"))
	}
	if werr == nil {
		t.Fatal("writes after the peer's RST kept succeeding")
	}
	recv(t, r.closed, "OnClose")
	select {
	case s := <-sigs:
		t.Fatalf("received %v", s)
	default:
	}
}

func TestAfterFuncRunsAndStopCancels(t *testing.T) {
	e := newEngine(t, Options{Loops: 1})
	fired := make(chan string, 3)
	e.AfterFunc(10*time.Millisecond, func() { fired <- "first" })
	stopped := e.AfterFunc(20*time.Millisecond, func() { fired <- "stopped" })
	if !stopped.Stop() {
		t.Fatal("Stop of a pending timer reported false")
	}
	e.AfterFunc(40*time.Millisecond, func() { fired <- "last" })
	if got := recv(t, fired, "first"); got != "first" {
		t.Fatalf("fired %q first", got)
	}
	if got := recv(t, fired, "last"); got != "last" {
		t.Fatalf("fired %q, the stopped timer ran", got)
	}
	if stopped.Stop() {
		t.Fatal("second Stop reported true")
	}
}

func TestTimerHeapOrder(t *testing.T) {
	var h timerHeap
	entries := make([]*timerEntry, 100)
	for i := range entries {
		entries[i] = &timerEntry{index: -1}
		h.schedule(entries[i], int64((i*37)%100))
	}
	h.remove(entries[50])
	h.schedule(entries[10], -1)
	prev := int64(-2)
	for len(h) > 0 {
		e := h[0]
		if e.when < prev {
			t.Fatalf("popped %d after %d", e.when, prev)
		}
		prev = e.when
		h.remove(e)
	}
	if entries[50].index != -1 {
		t.Fatal("removed entry still indexed")
	}
}

func TestOptionsValidation(t *testing.T) {
	bad := []Options{
		{Loops: -1},
		{Loops: 5000},
		{ReadBufferSize: 10},
		{WriteLowWater: 2 << 20, WriteHighWater: 1 << 20},
		{WriteHighWater: 32 << 20, MaxWriteBuffer: 16 << 20},
		{LoadBalance: 7},
		{IdleTimeout: -time.Second},
		{AcceptBatch: -1},
	}
	for _, o := range bad {
		if e, err := New(o); err == nil {
			e.Abort()
			t.Errorf("New(%+v) succeeded", o)
		} else if !strings.HasPrefix(err.Error(), "epollnet: ") {
			t.Errorf("error %q lacks the package prefix", err)
		}
	}
}

func TestTimerResetReusesTheTimer(t *testing.T) {
	e := newEngine(t, Options{Loops: 1})
	fired := make(chan time.Time, 4)
	tm := e.AfterFunc(time.Hour, func() { fired <- time.Now() })
	if !tm.Reset(10 * time.Millisecond) {
		t.Fatal("Reset of a pending timer reported false")
	}
	recv(t, fired, "the reset timer")
	if tm.Reset(10 * time.Millisecond) {
		t.Fatal("Reset of a fired timer reported true")
	}
	recv(t, fired, "the timer reset after firing")
	tm.Stop()
	if tm.Reset(time.Hour) {
		t.Fatal("Reset of a stopped timer reported true")
	}
	if !tm.Stop() {
		t.Fatal("Stop after Reset reported false")
	}
	select {
	case <-fired:
		t.Fatal("fired more often than reset")
	default:
	}
}

// TestReadTimeoutDuringCloseKeepsLoopAlive: a read timeout that expires
// while a graceful close waits to flush must not re-arm the timer in the
// past, which made the loop fire it forever and serve nothing else.
func TestReadTimeoutDuringCloseKeepsLoopAlive(t *testing.T) {
	e := newEngine(t, Options{Loops: 1, ReadTimeout: 50 * time.Millisecond, LingerTimeout: 5 * time.Second})
	h := &writeThenClose{payload: make([]byte, 8<<20), closed: make(chan error, 1)} // never read
	ln := listen(t, e, h, nil)
	dialTCP(t, ln)
	time.Sleep(150 * time.Millisecond) // let the read deadline pass while closing
	fired := make(chan struct{})
	e.AfterFunc(time.Millisecond, func() { close(fired) })
	recv(t, fired, "a timer on the same loop")
}

// TestPausedConnectionResetDoesNotSpin: ERR/HUP cannot be masked, so a
// paused connection that is reset must be parked, not polled forever.
func TestPausedConnectionResetDoesNotSpin(t *testing.T) {
	e := newEngine(t, Options{Loops: 1})
	r := newRecorder()
	ln := listen(t, e, &openHook{recorder: r, f: func(c *Conn) { c.PauseRead() }}, nil)
	c := dialTCP(t, ln)
	recv(t, r.opened, "OnOpen")
	syncLoops(e) // the pause task has run
	c.SetLinger(0)
	c.Close() // RST
	time.Sleep(50 * time.Millisecond)
	w0 := e.Stats().Total.Wakeups
	time.Sleep(200 * time.Millisecond)
	if n := e.Stats().Total.Wakeups - w0; n > 50 {
		t.Fatalf("%d wake-ups in 200 ms while a paused connection was reset", n)
	}
	// Parked, the connection is open but outside the epoll set: only the
	// listener counts as registered.
	if st := e.Stats().Total; st.Conns != 1 || st.Registered != 1 {
		t.Fatalf("parked: Conns %d, Registered %d; want 1 and 1 (the listener)", st.Conns, st.Registered)
	}
}

//go:build linux

package epollnet

import (
	"context"
	"net"
	"os"
	"runtime"
	"sync"
	"testing"
	"time"
)

// openFDs counts this process's open descriptors.
func openFDs(t testing.TB) int {
	t.Helper()
	ents, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		t.Fatalf("reading /proc/self/fd: %v", err)
	}
	return len(ents) - 1 // the directory being read
}

// leakCheck records descriptors and goroutines now and, when the test ends,
// fails it if either grew. Goroutines and sockets of finished clients go
// away asynchronously, so the check waits for them, bounded.
func leakCheck(t *testing.T) {
	t.Helper()
	fds, gs := openFDs(t), runtime.NumGoroutine()
	t.Cleanup(func() {
		deadline := time.Now().Add(5 * time.Second)
		for {
			nf, ng := openFDs(t), runtime.NumGoroutine()
			if nf <= fds && ng <= gs {
				return
			}
			if time.Now().After(deadline) {
				buf := make([]byte, 1<<16)
				buf = buf[:runtime.Stack(buf, true)]
				t.Errorf("leak: fds %d -> %d %v, goroutines %d -> %d\n%s", fds, nf, fdTargets(), gs, ng, buf)
				return
			}
			time.Sleep(5 * time.Millisecond)
		}
	})
}

// fdTargets lists what this process's descriptors point to, for a leak
// report.
func fdTargets() []string {
	ents, _ := os.ReadDir("/proc/self/fd")
	var out []string
	for _, e := range ents {
		target, _ := os.Readlink("/proc/self/fd/" + e.Name())
		out = append(out, e.Name()+"->"+target)
	}
	return out
}

// newEngine starts an engine that is shut down, and checked for leftover
// registrations and connections, when the test ends. The leak check is
// registered first so that it runs after the shutdown.
func newEngine(t *testing.T, o Options) *Engine {
	t.Helper()
	leakCheck(t)
	e, err := New(o)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		e.Shutdown(ctx)
		st := e.Stats().Total
		if st.Registered != 0 || st.Conns != 0 {
			t.Errorf("after Shutdown: %d registrations, %d connections left", st.Registered, st.Conns)
		}
	})
	return e
}

func listen(t *testing.T, e *Engine, h Handler, cfg *ListenConfig) *Listener {
	t.Helper()
	ln, err := e.Listen("tcp", "127.0.0.1:0", h, cfg)
	if err != nil {
		t.Fatalf("Listen: %v", err)
	}
	return ln
}

func dialTCP(t *testing.T, ln *Listener) *net.TCPConn {
	t.Helper()
	c, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatalf("Dial: %v", err)
	}
	t.Cleanup(func() { c.Close() })
	return c.(*net.TCPConn)
}

// echoHandler writes back everything it reads.
type echoHandler struct{ BaseHandler }

func (echoHandler) OnData(c *Conn, in []byte) int {
	c.Write(in)
	return len(in)
}

// recorder is a handler that records events for assertions, counting
// OnClose calls to prove "exactly once".
type recorder struct {
	BaseHandler
	mu       sync.Mutex
	data     []byte
	opened   chan *Conn
	closed   chan error
	eof      chan struct{}
	closes   int
	onData   func(c *Conn, in []byte) int
	onEOF    func(c *Conn)
	writable chan struct{}
}

func newRecorder() *recorder {
	return &recorder{opened: make(chan *Conn, 4096), closed: make(chan error, 4096),
		eof: make(chan struct{}, 4096), writable: make(chan struct{}, 4096)}
}

func (r *recorder) OnOpen(c *Conn) { r.opened <- c }

func (r *recorder) OnData(c *Conn, in []byte) int {
	if r.onData != nil {
		return r.onData(c, in)
	}
	r.mu.Lock()
	r.data = append(r.data, in...)
	r.mu.Unlock()
	return len(in)
}

func (r *recorder) OnReadEOF(c *Conn) {
	r.eof <- struct{}{}
	if r.onEOF != nil {
		r.onEOF(c)
		return
	}
	c.Close()
}

func (r *recorder) OnWritable(c *Conn) { r.writable <- struct{}{} }

func (r *recorder) OnClose(c *Conn, err error) {
	r.mu.Lock()
	r.closes++
	r.mu.Unlock()
	r.closed <- err
}

func (r *recorder) bytes() []byte {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]byte(nil), r.data...)
}

func recv[T any](t *testing.T, ch <-chan T, what string) T {
	t.Helper()
	select {
	case v := <-ch:
		return v
	case <-time.After(10 * time.Second):
		t.Fatalf("timed out waiting for %s", what)
		var zero T
		return zero
	}
}

// syncLoops returns once every loop has run all tasks queued before the
// call: tasks run in order, so e.g. a Listen's registration is done.
func syncLoops(e *Engine) {
	for _, l := range e.loops {
		done := make(chan struct{})
		l.enqueue(task{kind: taskFunc, fn: func() { close(done) }})
		<-done
	}
}

// connect opens one connection to a fresh listener served by a recorder:
// the recorder, the client's end and the server's end, once OnOpen ran.
func connect(t *testing.T, e *Engine) (*recorder, *net.TCPConn, *Conn) {
	t.Helper()
	r := newRecorder()
	ln := listen(t, e, r, nil)
	c := dialTCP(t, ln)
	return r, c, recv(t, r.opened, "OnOpen")
}

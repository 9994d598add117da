//go:build linux

package epollnet

import (
	"io"
	"net"
	"testing"
	"time"
)

// benchEcho measures request/response round trips of size bytes against an
// echo server on one loop. Allocations are counted process-wide, so the
// engine's share must be zero for the benchmark to report 0 allocs/op.
func benchEcho(b *testing.B, size int, tracer func(*TraceEvent)) {
	e, err := New(Options{Loops: 1, Tracer: tracer})
	if err != nil {
		b.Fatal(err)
	}
	defer e.Abort()
	ln, err := e.Listen("tcp", "127.0.0.1:0", echoHandler{}, nil)
	if err != nil {
		b.Fatal(err)
	}
	c, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		b.Fatal(err)
	}
	defer c.Close()
	msg, buf := make([]byte, size), make([]byte, size)
	roundTrip := func() {
		if _, err := c.Write(msg); err != nil {
			b.Fatal(err)
		}
		if _, err := io.ReadFull(c, buf); err != nil {
			b.Fatal(err)
		}
	}
	for i := 0; i < 100; i++ { // warm up: buffers, pools, the fd table
		roundTrip()
	}
	b.SetBytes(int64(size))
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		roundTrip()
	}
}

func BenchmarkEchoRoundTrip64(b *testing.B)  { benchEcho(b, 64, nil) }
func BenchmarkEchoRoundTrip4K(b *testing.B)  { benchEcho(b, 4096, nil) }
func BenchmarkEchoRoundTrip64K(b *testing.B) { benchEcho(b, 64<<10, nil) }

// BenchmarkEchoRoundTrip64Traced is the same with a tracer that discards
// events: compared with BenchmarkEchoRoundTrip64 it shows what tracing
// costs, and that with no tracer it costs nothing.
func BenchmarkEchoRoundTrip64Traced(b *testing.B) { benchEcho(b, 64, func(*TraceEvent) {}) }

// BenchmarkEchoParallel runs one connection per client goroutine against a
// two-loop engine.
func BenchmarkEchoParallel(b *testing.B) {
	e, err := New(Options{Loops: 2})
	if err != nil {
		b.Fatal(err)
	}
	defer e.Abort()
	ln, err := e.Listen("tcp", "127.0.0.1:0", echoHandler{}, nil)
	if err != nil {
		b.Fatal(err)
	}
	b.SetBytes(64)
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		c, err := net.Dial("tcp", ln.Addr().String())
		if err != nil {
			b.Error(err)
			return
		}
		defer c.Close()
		msg, buf := make([]byte, 64), make([]byte, 64)
		for pb.Next() {
			c.Write(msg)
			if _, err := io.ReadFull(c, buf); err != nil {
				b.Error(err)
				return
			}
		}
	})
}

// BenchmarkTimerSchedule measures re-arming a timer entry in a heap of 10k.
func BenchmarkTimerSchedule(b *testing.B) {
	var h timerHeap
	entries := make([]timerEntry, 10000)
	for i := range entries {
		entries[i].index = -1
		h.schedule(&entries[i], int64(i))
	}
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		h.schedule(&entries[i%len(entries)], int64(i*7919%20000))
	}
}

// BenchmarkTraceOff measures a trace point with no tracer set: the inlined
// nil check that every system call result on the hot path goes through.
func BenchmarkTraceOff(b *testing.B) {
	e, err := New(Options{Loops: 1})
	if err != nil {
		b.Fatal(err)
	}
	defer e.Abort()
	l := e.loops[0]
	b.ReportAllocs()
	for i := 0; i < b.N; i++ {
		l.trace(TraceRead, 7, nil, RoleAccepted, 0, i, nil)
	}
}

// BenchmarkTraceOn is the same trace point with a tracer that discards.
func BenchmarkTraceOn(b *testing.B) {
	e, err := New(Options{Loops: 1, Tracer: func(*TraceEvent) {}})
	if err != nil {
		b.Fatal(err)
	}
	defer e.Abort()
	l := e.loops[0]
	b.ReportAllocs()
	for i := 0; i < b.N; i++ {
		l.trace(TraceRead, 7, nil, RoleAccepted, 0, i, nil)
	}
}

// BenchmarkTimerResetOffLoop measures queuing work for a loop from another
// goroutine: each Timer.Reset hands the loop a task by value and wakes it
// if it sleeps, the path Close, PauseRead and a Write waiting for EPOLLOUT
// take too.
func BenchmarkTimerResetOffLoop(b *testing.B) {
	e, err := New(Options{Loops: 1})
	if err != nil {
		b.Fatal(err)
	}
	defer e.Abort()
	t := e.AfterFunc(time.Hour, func() {})
	b.ReportAllocs()
	for i := 0; i < b.N; i++ {
		t.Reset(time.Hour)
	}
}

// BenchmarkTimeoutSweep measures one sweep of the engine-wide idle and read
// timeouts over 10,000 open connections none of which has timed out: the
// price, per sweep period, of a loop holding that many idle connections.
// It reports the time per connection swept.
func BenchmarkTimeoutSweep(b *testing.B) {
	const n = 10000
	e, err := New(Options{Loops: 1, IdleTimeout: time.Minute, ReadTimeout: time.Minute})
	if err != nil {
		b.Fatal(err)
	}
	defer e.Close()
	l, err := newLoop(e, 1)
	if err != nil {
		b.Fatal(err)
	}
	defer l.p.Close()
	src := &connSource{h: BaseHandler{}}
	for fd := range n {
		c := &Conn{loop: l, fd: fd, src: src, state: stateOpen}
		c.touchRead(l.now)
		l.fds.slot(fd).conn = c
	}
	b.ResetTimer()
	for range b.N {
		l.sweepConns()
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/n, "ns/conn")
}

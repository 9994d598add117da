//go:build linux

package epollnet

import (
	"crypto/tls"
	"io"
	"net"
	"sync"
	"syscall"
	"testing"
	"time"
)

// cpuTimer reports the process's CPU time per operation as cpu-ns/op.
type cpuTimer struct{ start time.Duration }

func processCPU() time.Duration {
	var ru syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

func startCPU(b *testing.B) *cpuTimer {
	b.ReportAllocs()
	b.ResetTimer()
	return &cpuTimer{start: processCPU()}
}

func (t *cpuTimer) stop(b *testing.B) {
	b.StopTimer()
	b.ReportMetric(float64(processCPU()-t.start)/float64(b.N), "cpu-ns/op")
}

// The TLS benchmarks run each measurement twice: against the engine's TLS
// server on one loop, and against Go's net and crypto/tls with a
// goroutine per connection (the ...GoNet variants), with the same Go
// client, certificate (ECDSA P-256) and TLS 1.3, so that one run gives
// both and their ratio:
//
//	go test -run '^$' -bench 'TLS' -benchmem .
//
// Client and server share the process, and on a machine with few CPUs
// the wall time per operation depends much on how the scheduler hands
// work between goroutines and threads; cpu-ns/op, the process's CPU time
// (user and system, from getrusage) per operation, is the cost. The
// client's share is the same in both variants.

// tlsBenchServer starts a TLS echo server and returns its address and a
// function that stops it.
type tlsBenchServer func(b *testing.B, cfg *tls.Config) (addr string, stop func())

// engineTLSServer is the engine's: one loop, echoing in OnData.
func engineTLSServer(b *testing.B, cfg *tls.Config) (string, func()) {
	e, err := New(Options{Loops: 1})
	if err != nil {
		b.Fatal(err)
	}
	ln, err := e.Listen("tcp", "127.0.0.1:0", echoHandler{}, &ListenConfig{TLSConfig: cfg})
	if err != nil {
		b.Fatal(err)
	}
	return ln.Addr().String(), func() { e.Abort() }
}

// goNetTLSServer is Go's net and crypto/tls, a goroutine per connection
// running io.Copy.
func goNetTLSServer(b *testing.B, cfg *tls.Config) (string, func()) {
	ln, err := tls.Listen("tcp", "127.0.0.1:0", cfg)
	if err != nil {
		b.Fatal(err)
	}
	var wg sync.WaitGroup
	wg.Go(func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			wg.Go(func() {
				defer c.Close()
				io.Copy(c, c)
			})
		}
	})
	return ln.Addr().String(), func() { ln.Close(); wg.Wait() }
}

func benchTLSConfig(b *testing.B) (server, client *tls.Config) {
	p := certs(b)
	return p.serverConfig(), p.clientConfig("localhost")
}

// benchTLSEcho measures 64-byte round trips on one TLS connection.
func benchTLSEcho(b *testing.B, start tlsBenchServer) {
	scfg, ccfg := benchTLSConfig(b)
	addr, stop := start(b, scfg)
	defer stop()
	c, err := tls.Dial("tcp", addr, ccfg)
	if err != nil {
		b.Fatal(err)
	}
	defer c.Close()
	msg, buf := make([]byte, 64), make([]byte, 64)
	roundTrip := func() {
		if _, err := c.Write(msg); err != nil {
			b.Fatal(err)
		}
		if _, err := io.ReadFull(c, buf); err != nil {
			b.Fatal(err)
		}
	}
	for range 100 { // warm up: buffers, pools, the loop's TLS buffer
		roundTrip()
	}
	b.SetBytes(64)
	cpu := startCPU(b)
	for range b.N {
		roundTrip()
	}
	cpu.stop(b)
}

func BenchmarkTLSEchoRoundTrip64(b *testing.B)      { benchTLSEcho(b, engineTLSServer) }
func BenchmarkTLSEchoRoundTrip64GoNet(b *testing.B) { benchTLSEcho(b, goNetTLSServer) }

// benchTLSHandshake measures a connection's life: TCP connect, the
// handshake (full, or resumed from a session ticket), a 1-byte round trip
// (so that the server finished its side) and close. Client and server run
// in this process, so the time is both sides' CPU; the server's share is
// what differs between the two variants.
func benchTLSHandshake(b *testing.B, start tlsBenchServer, resume bool) {
	scfg, ccfg := benchTLSConfig(b)
	if resume {
		ccfg.ClientSessionCache = tls.NewLRUClientSessionCache(1)
	}
	addr, stop := start(b, scfg)
	defer stop()
	d := &net.Dialer{Timeout: 10 * time.Second}
	one := make([]byte, 1)
	warm := true // the first connection of a resumed run gets the ticket
	conn := func() {
		c, err := tls.DialWithDialer(d, "tcp", addr, ccfg)
		if err != nil {
			b.Fatal(err)
		}
		if resume && !warm && !c.ConnectionState().DidResume {
			b.Fatal("the session was not resumed")
		}
		if _, err := c.Write(one); err != nil {
			b.Fatal(err)
		}
		if _, err := io.ReadFull(c, one); err != nil {
			b.Fatal(err)
		}
		c.Close()
	}
	for range 10 {
		conn()
		warm = false
	}
	cpu := startCPU(b)
	for range b.N {
		conn()
	}
	cpu.stop(b)
}

func BenchmarkTLSHandshake(b *testing.B)             { benchTLSHandshake(b, engineTLSServer, false) }
func BenchmarkTLSHandshakeGoNet(b *testing.B)        { benchTLSHandshake(b, goNetTLSServer, false) }
func BenchmarkTLSHandshakeResumed(b *testing.B)      { benchTLSHandshake(b, engineTLSServer, true) }
func BenchmarkTLSHandshakeResumedGoNet(b *testing.B) { benchTLSHandshake(b, goNetTLSServer, true) }

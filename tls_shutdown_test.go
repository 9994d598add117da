//go:build linux

package epollnet

import (
	"context"
	"crypto/tls"
	"sync"
	"testing"
	"time"
)

// flightWatch is a Tracer that sends on flights the ID of each accepted
// connection once its server handshake wrote its first flight: the
// handshake then waits for the client's next one.
type flightWatch struct {
	mu      sync.Mutex
	seen    map[uint64]bool
	flights chan uint64
}

func newFlightWatch() *flightWatch {
	return &flightWatch{seen: map[uint64]bool{}, flights: make(chan uint64, 64)}
}

// trace may run on any goroutine: the handshake's writes are traced on
// the handshake's.
func (w *flightWatch) trace(ev *TraceEvent) {
	if ev.Kind != TraceWrite || ev.Role != RoleAccepted || ev.N <= 0 {
		return
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	if !w.seen[ev.Conn] {
		w.seen[ev.Conn] = true
		w.flights <- ev.Conn
	}
}

// TestTLSEngineStopDuringHandshakes: Engine.Shutdown and Engine.Abort,
// on two loops, close connections whose server handshake is running (the
// ClientHello answered, the client's Finished awaited) without reporting
// them: no OnTLSError, nothing in TLSHandshakeErrors, no handler call,
// nothing left open.
func TestTLSEngineStopDuringHandshakes(t *testing.T) {
	hello := clientHello(t)
	for _, stop := range []string{"Shutdown", "Close"} {
		t.Run(stop, func(t *testing.T) {
			w := newFlightWatch()
			e := newEngine(t, Options{Loops: 2, Tracer: w.trace})
			f := newTLSFailures()
			srv := newRecorder()
			ln := listenTLS(t, e, srv, &ListenConfig{OnTLSError: f.hook})
			const n = 6
			for range n {
				dialTCP(t, ln).Write(hello)
			}
			for range n {
				recv(t, w.flights, "a server flight")
			}
			if stop == "Close" {
				e.Abort()
			} else {
				ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
				defer cancel()
				if err := e.Shutdown(ctx); err != nil {
					t.Fatalf("Shutdown: %v", err)
				}
			}
			if len(f.ch) != 0 || len(srv.opened) != 0 || len(srv.closed) != 0 {
				t.Fatalf("handshakes cut by %s were reported: %d OnTLSError (first: %v), %d OnOpen, %d OnClose",
					stop, len(f.ch), firstOf(f.ch), len(srv.opened), len(srv.closed))
			}
			st := e.Stats().Total
			if st.TLSHandshakeErrors != 0 || st.TLSHandshakes != 0 || st.Conns != 0 || st.Registered != 0 {
				t.Fatalf("TLSHandshakeErrors %d, TLSHandshakes %d, Conns %d, Registered %d",
					st.TLSHandshakeErrors, st.TLSHandshakes, st.Conns, st.Registered)
			}
		})
	}
}

// firstOf returns what ch holds first, or nil.
func firstOf(ch chan error) error {
	select {
	case err := <-ch:
		return err
	default:
		return nil
	}
}

// TestTLSListenerCloseKeepsHandshakes: Listener.Close stops accepting but
// leaves accepted connections alone, those in their handshake too: the
// handshake completes afterwards, the connection opens and serves, and
// nothing is reported or counted as a failure.
func TestTLSListenerCloseKeepsHandshakes(t *testing.T) {
	w := newFlightWatch()
	e := newEngine(t, Options{Loops: 1, Tracer: w.trace})
	f := newTLSFailures()
	srv := newTLSRecorder()
	srv.onData = func(c *Conn, in []byte) int { c.Write(in); return len(in) }
	ln := listenTLS(t, e, srv, &ListenConfig{OnTLSError: f.hook})

	raw := dialTCP(t, ln)
	gate := make(chan struct{})
	gc := tls.Client(&stalledConn{Conn: raw, gate: gate}, certs(t).clientConfig("localhost"))
	gc.SetDeadline(time.Now().Add(10 * time.Second))
	done := make(chan error, 1)
	go func() { done <- gc.Handshake() }()
	recv(t, w.flights, "the server's flight")
	if err := ln.Close(); err != nil {
		t.Fatalf("Listener.Close: %v", err)
	}
	close(gate) // the client reads the server's flight and finishes
	if err := recv(t, done, "the client's handshake"); err != nil {
		t.Fatalf("client handshake after Listener.Close: %v", err)
	}
	if cs := recv(t, srv.states, "OnOpen"); !cs.HandshakeComplete {
		t.Fatal("OnOpen before the handshake completed")
	}
	echoCheck(t, gc, []byte("still served"))
	gc.Close()
	recv(t, srv.closed, "OnClose")
	if st := e.Stats().Total; len(f.ch) != 0 || st.TLSHandshakeErrors != 0 || st.TLSHandshakes != 1 {
		t.Fatalf("%d OnTLSError, TLSHandshakeErrors %d, TLSHandshakes %d", len(f.ch), st.TLSHandshakeErrors, st.TLSHandshakes)
	}
}

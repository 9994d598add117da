package proxy

import (
	"errors"
	"io"
	"net"
	"testing"
	"time"

	"github.com/epollnet/epollnet"
	"github.com/epollnet/epollnet/cmd/epollnet/internal/clitest"
)

// TestProxyRelaysStreamsToTwoBackends: 40 concurrent 1 MiB streams, each
// half-closed by its client after sending, come back byte-exact through
// two echo backends (serve's), and round robin gave each backend half.
func TestProxyRelaysStreamsToTwoBackends(t *testing.T) {
	clitest.CheckLeaks(t)
	a, _ := echoBackend(t)
	b, _ := echoBackend(t)
	p, addr := startProxy(t, []string{a, b}, nil)
	if errs := clitest.Streams(addr, 40, 1<<20); clitest.Failures(errs) != "0 failed" {
		t.Fatal(clitest.Failures(errs))
	}
	waitFor(t, "the relays to end", func() bool { return p.open.Load() == 0 })
	for _, be := range []string{a, b} {
		total, _ := metric(p, "epollnet_proxy_backend_connections_total", "backend", be)
		sent, _ := metric(p, "epollnet_proxy_backend_sent_bytes_total", "backend", be)
		recv, _ := metric(p, "epollnet_proxy_backend_received_bytes_total", "backend", be)
		if total != 20 || sent != 20<<20 || recv != 20<<20 {
			t.Errorf("backend %s: %v connections, %v bytes sent, %v received; want 20 and 20 MiB each way", be, total, sent, recv)
		}
	}
}

// TestProxySpliceRelaysStreams: with --splice the same streams come back
// byte-exact, through kernel pipes.
func TestProxySpliceRelaysStreams(t *testing.T) {
	clitest.CheckLeaks(t)
	a, _ := echoBackend(t)
	p, addr := startProxy(t, []string{a}, func(o *proxyOptions) { o.splice = true })
	if errs := clitest.Streams(addr, 20, 1<<20); clitest.Failures(errs) != "0 failed" {
		t.Fatal(clitest.Failures(errs))
	}
	waitFor(t, "the relays to end", func() bool { return p.open.Load() == 0 })
	if sent, _ := metric(p, "epollnet_proxy_backend_sent_bytes_total", "backend", a); sent != 20<<20 {
		t.Errorf("%v bytes sent to the backend, want 20 MiB", sent)
	}
}

// TestProxyRetriesRefusedBackend: a backend that refuses costs no client
// anything: each client it was chosen for is sent on to the other, and
// after --fails refusals it is down and chosen no more.
func TestProxyRetriesRefusedBackend(t *testing.T) {
	clitest.CheckLeaks(t)
	good, _ := echoBackend(t)
	bad := refusedAddr(t)
	p, addr := startProxy(t, []string{bad, good}, func(o *proxyOptions) { o.fails = 2 })
	if errs := clitest.Streams(addr, 10, 1000); clitest.Failures(errs) != "0 failed" {
		t.Fatal(clitest.Failures(errs))
	}
	refused, _ := metric(p, "epollnet_proxy_backend_connect_failures_total", "backend", bad, "class", "refused")
	retries, _ := metric(p, "epollnet_proxy_backend_retries_total", "backend", bad)
	up, _ := metric(p, "epollnet_proxy_backend_up", "backend", bad)
	downs, _ := metric(p, "epollnet_proxy_backend_transitions_total", "backend", bad, "to", "down")
	total, _ := metric(p, "epollnet_proxy_backend_connections_total", "backend", good)
	// The streams run concurrently, so more than --fails clients may have
	// picked the bad backend before it was marked down, but not all.
	if refused < 2 || refused != retries || refused >= 10 || up != 0 || downs != 1 || total != 10 {
		t.Errorf("refused %v, retries %v, up %v, down transitions %v, good backend's connections %v", refused, retries, up, downs, total)
	}
	if errs := clitest.Streams(addr, 5, 1000); clitest.Failures(errs) != "0 failed" {
		t.Fatal(clitest.Failures(errs))
	}
	if again, _ := metric(p, "epollnet_proxy_backend_connect_failures_total", "backend", bad, "class", "refused"); again != refused {
		t.Errorf("a backend that is down was dialed again within --down-time: %v refusals, %v before", again, refused)
	}
}

// TestProxyNoBackendClosesClient: when every backend refuses, the client
// is closed, having been relayed nothing, and counted as unrelayed; every
// backend was tried once (--retries 2 is enough for three).
func TestProxyNoBackendClosesClient(t *testing.T) {
	clitest.CheckLeaks(t)
	bs := []string{refusedAddr(t), refusedAddr(t), refusedAddr(t)}
	p, addr := startProxy(t, bs, nil)
	// The client may see the close before its write or half-close went
	// out (ENOTCONN, EPIPE, a reset): any end but a timeout.
	got, err := clitest.Stream(addr, []byte("hello"))
	var ne net.Error
	if len(got) != 0 || errors.As(err, &ne) && ne.Timeout() {
		t.Fatalf("got %q, %v; want the connection closed", got, err)
	}
	waitFor(t, "the client to be counted", func() bool { return p.unrelayed.Load() == 1 })
	for _, b := range bs {
		if n, _ := metric(p, "epollnet_proxy_backend_connect_failures_total", "backend", b, "class", "refused"); n != 1 {
			t.Errorf("backend %s refused %v times, want 1", b, n)
		}
	}
}

// TestProxyBackendResetMidway: a backend that resets after answering part
// of a request ends the relay; the client gets what was sent before the
// reset and then a FIN (the pipe closes it gracefully), and the reset is
// counted against the backend.
func TestProxyBackendResetMidway(t *testing.T) {
	clitest.CheckLeaks(t)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	done := make(chan error, 1)
	go func() {
		c, err := ln.Accept()
		if err == nil {
			buf := make([]byte, 5)
			_, err = io.ReadFull(c, buf)
			if err == nil {
				_, err = c.Write([]byte("partial"))
			}
			c.(*net.TCPConn).SetLinger(0)
			c.Close() // RST
		}
		done <- err
	}()
	p, addr := startProxy(t, []string{ln.Addr().String()}, nil)
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(10 * time.Second))
	if _, err := c.Write([]byte("hello")); err != nil {
		t.Fatal(err)
	}
	got, err := io.ReadAll(c)
	if string(got) != "partial" || err != nil {
		t.Errorf("client got %q, %v; want \"partial\" then EOF", got, err)
	}
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the relay to end", func() bool { return p.open.Load() == 0 })
	if n, _ := metric(p, "epollnet_proxy_backend_errors_total", "backend", ln.Addr().String(), "class", "reset"); n != 1 {
		t.Errorf("resets counted: %v, want 1", n)
	}
}

// TestProxySlowBackendBoundsMemory: a client sends 32 MiB to a backend
// that reads nothing for a while, then slowly. The relay's pending output
// towards the backend never exceeds --buffer plus one read, because the
// client is not read meanwhile (TCP's window stops it), and every byte
// arrives. Without the pause the proxy would hold all that the kernel's
// buffers do not: tens of MiB.
func TestProxySlowBackendBoundsMemory(t *testing.T) {
	clitest.CheckLeaks(t)
	const total = 32 << 20
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	startReading := make(chan struct{})
	received := make(chan int64, 1)
	go func() {
		c, err := ln.Accept()
		if err != nil {
			received <- -1
			return
		}
		defer c.Close()
		<-startReading
		n, _ := io.CopyBuffer(io.Discard, c, make([]byte, 4096)) // small reads: slow
		received <- n
	}()
	ups := make(chan *epollnet.Conn, 1)
	p, addr := startProxy(t, []string{ln.Addr().String()}, func(o *proxyOptions) {
		o.buffer = 64 << 10
		o.onPipe = func(_, up *epollnet.Conn) { ups <- up }
	})
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	sent := make(chan error, 1)
	go func() {
		_, err := c.Write(make([]byte, total))
		if err == nil {
			err = c.(*net.TCPConn).CloseWrite()
		}
		sent <- err
	}()
	up := <-ups
	limit := p.o.buffer + readSize
	peak := 0
	sample := func() {
		peak = max(peak, up.Buffered())
	}
	waitFor(t, "the backend side to pass its high watermark", func() bool { sample(); return up.OverHighWater() })
	for range 200 {
		sample()
		time.Sleep(time.Millisecond)
	}
	close(startReading)
	for {
		select {
		case err := <-sent:
			if err != nil {
				t.Fatal(err)
			}
			if n := <-received; n != total {
				t.Errorf("backend received %d bytes, want %d", n, total)
			}
			t.Logf("peak pending output towards the backend: %d bytes (limit %d)", peak, limit)
			if peak > limit {
				t.Errorf("pending output reached %d bytes, above --buffer %d plus one read", peak, p.o.buffer)
			}
			return
		default:
			sample()
			time.Sleep(time.Millisecond)
		}
	}
}

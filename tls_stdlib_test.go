//go:build linux

package epollnet

import (
	"bytes"
	"crypto/tls"
	"errors"
	"io"
	"net"
	"sync"
	"testing"
	"time"
)

// These tests pin the behaviours of Go's crypto/tls that the TLS layer
// (tls.go) relies on, on crypto/tls alone, over memConn: if a Go release
// changes one, the test named after it fails rather than the engine
// misbehaving somewhere else.

// memConn is one end of an in-memory connection: Write appends to the
// peer's input; Read waits for input, or in non-blocking mode returns
// errWouldBlock (a temporary net.Error) when there is none, like tlsPipe.
type memConn struct {
	mu       sync.Mutex
	cond     *sync.Cond
	in       []byte
	eof      bool
	nonblock bool
	reads    int
	peer     *memConn
}

func memPair() (*memConn, *memConn) {
	a, b := &memConn{}, &memConn{}
	a.cond, b.cond = sync.NewCond(&a.mu), sync.NewCond(&b.mu)
	a.peer, b.peer = b, a
	return a, b
}

func (m *memConn) Read(p []byte) (int, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.reads++
	for len(m.in) == 0 && !m.eof && !m.nonblock {
		m.cond.Wait()
	}
	switch {
	case len(m.in) > 0:
		n := copy(p, m.in)
		m.in = m.in[n:]
		return n, nil
	case m.eof:
		return 0, io.EOF
	}
	return 0, errWouldBlock
}

func (m *memConn) Write(p []byte) (int, error) {
	m.peer.feed(p)
	return len(p), nil
}

func (m *memConn) feed(p []byte) {
	m.mu.Lock()
	m.in = append(m.in, p...)
	m.cond.Broadcast()
	m.mu.Unlock()
}

// take removes and returns the buffered input.
func (m *memConn) take() []byte {
	m.mu.Lock()
	defer m.mu.Unlock()
	b := m.in
	m.in = nil
	return b
}

func (m *memConn) set(f func(m *memConn)) {
	m.mu.Lock()
	f(m)
	m.cond.Broadcast()
	m.mu.Unlock()
}

func (m *memConn) Close() error                     { return nil }
func (m *memConn) LocalAddr() net.Addr              { return &net.TCPAddr{} }
func (m *memConn) RemoteAddr() net.Addr             { return &net.TCPAddr{} }
func (m *memConn) SetDeadline(time.Time) error      { return nil }
func (m *memConn) SetReadDeadline(time.Time) error  { return nil }
func (m *memConn) SetWriteDeadline(time.Time) error { return nil }

// handshakePair returns a client and a server that completed their
// handshake over memConn ends in blocking mode, and the client's end.
func handshakePair(t *testing.T, ccfg, scfg *tls.Config) (client, server *tls.Conn, cend *memConn) {
	t.Helper()
	cend, send := memPair()
	client, server = tls.Client(cend, ccfg), tls.Server(send, scfg)
	errc := make(chan error, 1)
	go func() { errc <- server.Handshake() }()
	if err := client.Handshake(); err != nil {
		t.Fatalf("client handshake: %v", err)
	}
	if err := <-errc; err != nil {
		t.Fatalf("server handshake: %v", err)
	}
	return client, server, cend
}

// record returns the ciphertext of one application data record carrying
// msg, as server would send it: the bytes its Write put in cend.
func record(t *testing.T, server *tls.Conn, cend *memConn, msg string) []byte {
	t.Helper()
	cend.take() // whatever came before, such as TLS 1.3 session tickets
	if _, err := server.Write([]byte(msg)); err != nil {
		t.Fatal(err)
	}
	return cend.take()
}

// TestStdTLSDoesNotLatchTemporaryReadError: after the handshake, a
// temporary net.Error from the underlying Read is passed up and not
// recorded, with the bytes read so far kept; the next Read resumes, even
// when the record arrives one byte at a time (a partial header, a partial
// body). The loop drives a tls.Conn this way without a goroutine.
func TestStdTLSDoesNotLatchTemporaryReadError(t *testing.T) {
	for _, v := range []uint16{tls.VersionTLS12, tls.VersionTLS13} {
		t.Run(tls.VersionName(v), func(t *testing.T) {
			p := certs(t)
			ccfg := p.clientConfig("localhost")
			ccfg.MaxVersion = v
			client, server, cend := handshakePair(t, ccfg, p.serverConfig())
			rec := record(t, server, cend, "hello")
			cend.set(func(m *memConn) { m.nonblock = true })
			buf := make([]byte, 64)
			for i := range rec {
				n, err := client.Read(buf)
				if n != 0 || err != errWouldBlock {
					t.Fatalf("byte %d of %d: Read = %d, %v; want 0, errWouldBlock", i, len(rec), n, err)
				}
				cend.feed(rec[i : i+1])
			}
			n, err := client.Read(buf)
			if err != nil || string(buf[:n]) != "hello" {
				t.Fatalf("Read = %q, %v; want hello", buf[:n], err)
			}
			if n, err := client.Read(buf); n != 0 || err != errWouldBlock {
				t.Fatalf("Read after the record = %d, %v; want errWouldBlock", n, err)
			}
		})
	}
}

// TestStdTLSHandshakeLatchesTemporaryReadError: during the handshake, any
// error from the underlying Read, a temporary one included, ends it for
// good: Handshake returns the same error again without reading, even once
// data is there. Hence the handshake runs on a goroutine over a blocking
// Read.
func TestStdTLSHandshakeLatchesTemporaryReadError(t *testing.T) {
	p := certs(t)
	cend, send := memPair()
	cend.nonblock = true
	client := tls.Client(cend, p.clientConfig("localhost"))
	err1 := client.Handshake()
	if !errors.Is(err1, errWouldBlock) {
		t.Fatalf("first Handshake: %v, want the temporary error", err1)
	}
	cend.mu.Lock()
	reads := cend.reads
	cend.mu.Unlock()
	// The ClientHello went out; answer it, so that data is there.
	server := tls.Server(send, p.serverConfig())
	go server.Handshake()
	cend.set(func(m *memConn) { m.nonblock = false })
	err2 := client.Handshake()
	cend.mu.Lock()
	again := cend.reads - reads
	cend.mu.Unlock()
	if err2 != err1 || again != 0 {
		t.Fatalf("second Handshake: %v after %d reads; want the first error (%v) and no read", err2, again, err1)
	}
	send.set(func(m *memConn) { m.eof = true }) // ends the server's handshake
}

// TestStdTLSEOFAtRecordBoundary: EOF without close_notify is io.EOF when
// it comes between records (what crypto/tls accepts, since popular sites
// close that way), and io.ErrUnexpectedEOF inside a record, recorded for
// good.
func TestStdTLSEOFAtRecordBoundary(t *testing.T) {
	p := certs(t)
	client, server, cend := handshakePair(t, p.clientConfig("localhost"), p.serverConfig())
	rec := record(t, server, cend, "last")
	cend.set(func(m *memConn) { m.nonblock = true })
	cend.feed(rec)
	cend.set(func(m *memConn) { m.eof = true })
	buf := make([]byte, 64)
	n, err := client.Read(buf)
	if string(buf[:n]) != "last" || (err != nil && err != io.EOF) {
		t.Fatalf("Read = %q, %v; want last", buf[:n], err)
	}
	if err == nil {
		n, err = client.Read(buf)
	}
	if n != 0 || err != io.EOF {
		t.Fatalf("Read at the boundary = %d, %v; want io.EOF", n, err)
	}

	client, server, cend = handshakePair(t, p.clientConfig("localhost"), p.serverConfig())
	rec = record(t, server, cend, "cut short")
	cend.set(func(m *memConn) { m.nonblock = true })
	cend.feed(rec[:len(rec)-1])
	cend.set(func(m *memConn) { m.eof = true })
	for range 2 {
		if n, err := client.Read(buf); n != 0 || err != io.ErrUnexpectedEOF {
			t.Fatalf("Read inside a record = %d, %v; want io.ErrUnexpectedEOF", n, err)
		}
	}
}

// countingCache is a ClientSessionCache that counts the sessions stored.
type countingCache struct {
	tls.ClientSessionCache
	mu   sync.Mutex
	puts int
}

func (c *countingCache) Put(key string, cs *tls.ClientSessionState) {
	c.mu.Lock()
	c.puts++
	c.mu.Unlock()
	c.ClientSessionCache.Put(key, cs)
}

func (c *countingCache) count() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.puts
}

// TestStdTLSPostHandshakeMessageAcrossReads: a TLS 1.3 client takes the
// server's session tickets, which come after the handshake, in Read; fed
// one byte at a time with errWouldBlock in between, they are still
// processed (the cache gets them) and the data behind them delivered. (A
// Go server that asks for no client certificate sends its tickets with its
// Finished, where the client's handshake reads them; one that asks sends
// them after the client's Finished, as other servers do.)
func TestStdTLSPostHandshakeMessageAcrossReads(t *testing.T) {
	p := certs(t)
	cache := &countingCache{ClientSessionCache: tls.NewLRUClientSessionCache(4)}
	ccfg := p.clientConfig("localhost")
	ccfg.ClientSessionCache = cache
	scfg := p.serverConfig()
	scfg.ClientAuth = tls.RequestClientCert
	client, server, cend := handshakePair(t, ccfg, scfg)
	tickets := cend.take()
	if len(tickets) == 0 || cache.count() != 0 {
		t.Fatalf("%d bytes after the handshake, %d sessions stored; want tickets not yet read", len(tickets), cache.count())
	}
	server.Write([]byte("after"))
	in := append(tickets, cend.take()...)
	cend.set(func(m *memConn) { m.nonblock = true })
	buf := make([]byte, 64)
	var got []byte
	for i := range in {
		cend.feed(in[i : i+1])
		n, err := client.Read(buf)
		got = append(got, buf[:n]...)
		if err != nil && err != errWouldBlock {
			t.Fatalf("byte %d: %v", i, err)
		}
	}
	if string(got) != "after" || cache.count() == 0 {
		t.Fatalf("read %q with %d sessions stored; want after, and the tickets", got, cache.count())
	}
	if !bytes.Equal(cend.take(), nil) {
		t.Fatal("input left over")
	}
}

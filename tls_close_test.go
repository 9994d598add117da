//go:build linux

package epollnet

import (
	"bytes"
	"crypto/tls"
	"errors"
	"io"
	"net"
	"sync/atomic"
	"testing"
	"time"
)

// dialRawTLS connects to ln over TCP and runs Go's TLS client on that
// connection, so that a test can write raw bytes under TLS afterwards.
func dialRawTLS(t *testing.T, ln *Listener) (*tls.Conn, *net.TCPConn) {
	t.Helper()
	raw := dialTCP(t, ln)
	c := tls.Client(raw, certs(t).clientConfig("localhost"))
	c.SetDeadline(time.Now().Add(10 * time.Second))
	if err := c.Handshake(); err != nil {
		t.Fatalf("handshake: %v", err)
	}
	return c, raw
}

// TestTLSPeerCloseNotifyIsReadEOF: the peer's close_notify, with its TCP
// connection still open (Go's CloseWrite sends only close_notify), is
// OnReadEOF, once, after its data; writing still works, and the server's
// CloseWrite (close_notify, then FIN) is the client's io.EOF after the
// reply.
func TestTLSPeerCloseNotifyIsReadEOF(t *testing.T) {
	e := newEngine(t, Options{Loops: 1})
	r := newRecorder()
	data := collect(r)
	r.onEOF = func(c *Conn) {
		c.Write([]byte("pong"))
		c.CloseWrite()
	}
	ln := listenTLS(t, e, r, nil)
	c := dialGoTLS(t, ln, nil)
	c.Write([]byte("ping"))
	if err := c.CloseWrite(); err != nil {
		t.Fatal(err)
	}
	if got := readN(t, data, 4); string(got) != "ping" {
		t.Fatalf("server read %q", got)
	}
	recv(t, r.eof, "OnReadEOF")
	c.SetReadDeadline(time.Now().Add(10 * time.Second))
	got, err := io.ReadAll(c)
	if err != nil || string(got) != "pong" {
		t.Fatalf("client read %q, %v; want pong and io.EOF", got, err)
	}
	c.NetConn().Close()
	recv(t, r.closed, "OnClose")
	if len(r.eof) != 0 {
		t.Fatal("OnReadEOF called twice")
	}
}

// TestTLSCloseWriteKeepsReading: the server's CloseWrite is the client's
// io.EOF (close_notify, then FIN), and the server still reads what the
// client sends after.
func TestTLSCloseWriteKeepsReading(t *testing.T) {
	e := newEngine(t, Options{Loops: 1})
	r := newRecorder()
	data := collect(r)
	r.opened = make(chan *Conn, 1)
	ln := listenTLS(t, e, &openHook{recorder: r, f: func(c *Conn) {
		c.Write([]byte("bye"))
		c.CloseWrite()
		if _, err := c.Write([]byte("late")); !errors.Is(err, ErrClosed) {
			t.Errorf("Write after CloseWrite: %v, want ErrClosed", err)
		}
	}}, nil)
	c, raw := dialRawTLS(t, ln)
	got, err := io.ReadAll(c)
	if err != nil || string(got) != "bye" {
		t.Fatalf("client read %q, %v; want bye and io.EOF", got, err)
	}
	// The FIN came too: the TCP stream is over.
	if n, err := raw.Read(make([]byte, 1)); n != 0 || err != io.EOF {
		t.Fatalf("raw read after close_notify: %d, %v; want the FIN", n, err)
	}
	c.Write([]byte("still here"))
	if got := readN(t, data, 10); string(got) != "still here" {
		t.Fatalf("server read %q", got)
	}
	c.Close()
	recv(t, r.eof, "OnReadEOF")
	recv(t, r.closed, "OnClose")
}

// TestTLSRawEOFAtRecordBoundaryIsReadEOF: a peer that closes its TCP
// connection without close_notify, between records, ends the stream as
// crypto/tls accepts it: OnReadEOF after the data.
func TestTLSRawEOFAtRecordBoundaryIsReadEOF(t *testing.T) {
	e := newEngine(t, Options{Loops: 1})
	r := newRecorder()
	data := collect(r)
	ln := listenTLS(t, e, r, nil)
	c, raw := dialRawTLS(t, ln)
	c.Write([]byte("last words"))
	raw.CloseWrite()
	if got := readN(t, data, 10); string(got) != "last words" {
		t.Fatalf("server read %q", got)
	}
	recv(t, r.eof, "OnReadEOF")
	if err := recv(t, r.closed, "OnClose"); err != nil && !errors.Is(err, ErrPeerClosed) {
		t.Fatalf("OnClose: %v", err)
	}
}

// TestTLSTruncatedRecordIsRecordError: a stream that ends inside a record
// closes the connection with ErrTLSRecord and io.ErrUnexpectedEOF, not
// OnReadEOF; so does a record that does not decrypt, with crypto/tls's
// alert.
func TestTLSTruncatedRecordIsRecordError(t *testing.T) {
	for name, tc := range map[string]struct {
		junk []byte
		want error
	}{
		"truncated":   {append([]byte{23, 3, 3, 0, 64}, make([]byte, 10)...), io.ErrUnexpectedEOF},
		"bad-record":  {append([]byte{23, 3, 3, 0, 32}, make([]byte, 32)...), nil},
		"record-type": {append([]byte{99, 3, 3, 0, 32}, make([]byte, 32)...), nil},
	} {
		t.Run(name, func(t *testing.T) {
			e := newEngine(t, Options{Loops: 1})
			r := newRecorder()
			data := collect(r)
			ln := listenTLS(t, e, r, nil)
			c, raw := dialRawTLS(t, ln)
			c.Write([]byte("ok"))
			readN(t, data, 2)
			raw.Write(tc.junk)
			raw.CloseWrite()
			err := recv(t, r.closed, "OnClose")
			if !errors.Is(err, ErrTLSRecord) || (tc.want != nil && !errors.Is(err, tc.want)) || Classify(err) != ClassTLS {
				t.Fatalf("OnClose: %v (class %v), want ErrTLSRecord and %v", err, Classify(err), tc.want)
			}
			if len(r.eof) != 0 {
				t.Fatal("OnReadEOF for a broken stream")
			}
		})
	}
}

// TestTLSGracefulCloseDeliversEverything: a large write followed at once
// by Close reaches the peer whole, followed by close_notify (io.EOF, not
// an error) and the FIN.
func TestTLSGracefulCloseDeliversEverything(t *testing.T) {
	const size = 8 << 20
	e := newEngine(t, Options{Loops: 1})
	r := newRecorder()
	r.opened = make(chan *Conn, 1)
	msg := make([]byte, size)
	for i := range msg {
		msg[i] = byte(i % 251)
	}
	ln := listenTLS(t, e, &openHook{recorder: r, f: func(c *Conn) {
		if _, err := c.Write(msg); err != nil {
			t.Errorf("Write: %v", err)
		}
		c.Close()
	}}, nil)
	c := dialGoTLS(t, ln, nil)
	c.SetReadDeadline(time.Now().Add(30 * time.Second))
	got, err := io.ReadAll(c)
	if err != nil || !bytes.Equal(got, msg) {
		t.Fatalf("read %d of %d bytes, %v", len(got), size, err)
	}
	c.Close()
	if err := recv(t, r.closed, "OnClose"); err != nil {
		t.Fatalf("OnClose: %v", err)
	}
}

// TestTLSBackpressureCountsCiphertext: the watermarks and the write cap
// measure the engine's pending output, which is ciphertext: output above
// WriteHighWater brings OnWritable once the peer drained it, and a write
// past MaxWriteBuffer fails with ErrWriteCapExceeded and closes.
func TestTLSBackpressureCountsCiphertext(t *testing.T) {
	e := newEngine(t, Options{Loops: 1, WriteHighWater: 64 << 10, WriteLowWater: 16 << 10, MaxWriteBuffer: 4 << 20})
	r := newRecorder()
	ln := listenTLS(t, e, r, nil)
	c := dialGoTLS(t, ln, nil)
	s := recv(t, r.opened, "OnOpen")
	chunk := make([]byte, 64<<10)
	written := 0
	for s.Buffered() <= 64<<10 { // the kernel's buffers fill first
		if _, err := s.Write(chunk); err != nil {
			t.Fatalf("Write: %v", err)
		}
		written += len(chunk)
	}
	if s.Buffered() < 64<<10 {
		t.Fatalf("Buffered %d", s.Buffered())
	}
	go io.CopyN(io.Discard, c, int64(written))
	recv(t, r.writable, "OnWritable")

	c.SetReadDeadline(time.Now().Add(10 * time.Second)) // the reader above stops at written
	for {
		_, err := s.Write(chunk)
		if err != nil {
			if !errors.Is(err, ErrWriteCapExceeded) {
				t.Fatalf("Write past the cap: %v", err)
			}
			break
		}
	}
	if err := recv(t, r.closed, "OnClose"); !errors.Is(err, ErrWriteCapExceeded) {
		t.Fatalf("OnClose: %v", err)
	}
}

// TestTLSPauseResumeDeliversHeldInput: PauseRead in OnData stops delivery
// at once; what was already received (plaintext the handler left,
// records crypto/tls holds, ciphertext in the pipe) is delivered in order
// on ResumeRead, then the rest. A small read buffer makes the records
// straddle reads.
func TestTLSPauseResumeDeliversHeldInput(t *testing.T) {
	e := newEngine(t, Options{Loops: 1, ReadBufferSize: 1024})
	r := newRecorder()
	var paused atomic.Bool
	var got bytes.Buffer // loop-owned until the loop is synced
	consumed := make(chan int, 1024)
	r.onData = func(c *Conn, in []byte) int {
		if paused.Load() {
			t.Errorf("OnData while paused")
		}
		n := len(in)
		if got.Len() == 0 {
			n = 10
			paused.Store(true)
			c.PauseRead()
		}
		got.Write(in[:n])
		consumed <- n
		return n
	}
	ln := listenTLS(t, e, r, nil)
	c := dialGoTLS(t, ln, nil)
	s := recv(t, r.opened, "OnOpen")
	var msg []byte
	for i := range 8 { // 8 records of 900 bytes, in one burst
		msg = append(msg, bytes.Repeat([]byte{'a' + byte(i)}, 900)...)
	}
	release := blockLoop(e, 0)
	for i := 0; i < len(msg); i += 900 {
		c.Write(msg[i : i+900])
	}
	release()
	if n := recv(t, consumed, "first OnData"); n != 10 {
		t.Fatalf("consumed %d", n)
	}
	syncLoops(e) // the pause is applied, and the loop went round
	syncLoops(e)
	paused.Store(false)
	s.ResumeRead()
	for total := 10; total < len(msg); {
		total += recv(t, consumed, "OnData after ResumeRead")
	}
	syncLoops(e)
	if !bytes.Equal(got.Bytes(), msg) {
		t.Fatalf("received %d bytes, not the %d sent in order", got.Len(), len(msg))
	}
}

// TestTLSReadCapAppliesToPlaintext: Options.MaxReadBuffer caps the
// plaintext a handler leaves unconsumed.
func TestTLSReadCapAppliesToPlaintext(t *testing.T) {
	e := newEngine(t, Options{Loops: 1, MaxReadBuffer: 4096})
	r := newRecorder()
	r.onData = func(c *Conn, in []byte) int { return 0 }
	ln := listenTLS(t, e, r, nil)
	c := dialGoTLS(t, ln, nil)
	for range 4 {
		c.Write(make([]byte, 2000))
	}
	if err := recv(t, r.closed, "OnClose"); !errors.Is(err, ErrReadCapExceeded) {
		t.Fatalf("OnClose: %v, want ErrReadCapExceeded", err)
	}
}

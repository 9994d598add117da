//go:build !linux || epollnet_portable

package sys

import (
	"io"
	"net"
	"sync"
	"syscall"
	"time"
)

// Queue bounds: what the kernel's socket buffers are on Linux. Input stops
// being read (so TCP flow control pushes back on the peer) above rxLimit;
// Send takes no more than txLimit pending bytes and says EAGAIN beyond.
const (
	rxLimit  = 256 << 10
	txLimit  = 256 << 10
	minChunk = 4 << 10
	maxChunk = 64 << 10

	// closeFlushTimeout bounds how long output queued at Close is still
	// written, as the kernel goes on sending after close(2): a peer that
	// stopped reading cannot keep the writer goroutine for ever.
	closeFlushTimeout = 30 * time.Second

	// closeLinger bounds the wait for the peer's FIN after Close sent ours.
	closeLinger = 2 * time.Second
)

// chunkPools recycle input chunks by size class, 4 KiB to 64 KiB.
var chunkPools [5]sync.Pool

func chunkClass(size int) int {
	c := 0
	for s := minChunk; s < size; s <<= 1 {
		c++
	}
	return c
}

func getChunk(size int) []byte {
	if b, ok := chunkPools[chunkClass(size)].Get().(*[]byte); ok {
		return (*b)[:size]
	}
	return make([]byte, size)
}

func putChunk(b []byte) {
	if c := cap(b); c >= minChunk && c <= maxChunk && c&(c-1) == 0 {
		b = b[:c]
		chunkPools[chunkClass(c)].Put(&b)
	}
}

// stream is a connected handle's state; the handle's mu guards it.
type stream struct {
	conn net.Conn
	rc   syscall.RawConn // for directSend, or nil

	// Input, filled by the reader goroutine.
	rx        [][]byte
	rxN       int
	rxEOF     bool
	rxErr     syscall.Errno
	rxWaiting bool // the reader waits for room

	// Output, drained by the writer goroutine.
	tx        []byte
	txSpare   []byte
	inflight  int // bytes the writer holds in conn.Write
	txErr     syscall.Errno
	shutWr    bool // shutdown(SHUT_WR) asked: FIN after the queue
	shutDone  bool
	txWaiting bool // the writer waits for work
	alive     int  // reader and writer goroutines still running
}

func (s *stream) readiness(soErr bool) uint32 {
	var r uint32
	if s.rxN > 0 || s.rxEOF || s.rxErr != 0 {
		r |= EvReadable
	}
	if s.rxEOF || s.rxErr != 0 {
		r |= EvReadHangup
	}
	if s.rxErr != 0 || s.txErr != 0 || soErr {
		r |= EvError | EvHangup
	}
	if s.rxEOF && s.shutDone {
		r |= EvHangup
	}
	if s.shutWr || s.txErr != 0 || len(s.tx)+s.inflight < txLimit {
		r |= EvWritable
	}
	return r
}

// newConnHandle wraps a connected net.Conn and starts its goroutines.
func newConnHandle(c net.Conn, family int, noDelay int8) int {
	if tc, ok := c.(*net.TCPConn); ok && noDelay < 0 {
		tc.SetNoDelay(false)
	}
	h := &handle{kind: kindConn, family: family, noDelay: noDelay, stream: &stream{conn: c, rc: rawConnOf(c), alive: 2}}
	fd := install(h)
	go h.readLoop()
	go h.writeLoop()
	return fd
}

// readLoop reads the connection into chunks until EOF or an error. A chunk
// grows while reads fill it and shrinks when they do not, so an idle
// connection holds a small one. After Close it reads on and discards,
// until the peer's FIN or the linger deadline (see close).
func (h *handle) readLoop() {
	s := h.stream
	size := minChunk
	for {
		buf := getChunk(size)
		n, err := s.conn.Read(buf)
		switch {
		case n == len(buf) && size < maxChunk:
			size <<= 1
		case n < size/4 && size > minChunk:
			size >>= 1
		}
		h.mu.Lock()
		if h.closed {
			putChunk(buf)
			if err == nil {
				h.mu.Unlock()
				continue
			}
			last := s.exitLocked()
			h.mu.Unlock()
			if last {
				s.conn.Close()
			}
			return
		}
		if n > 0 {
			s.rx = append(s.rx, buf[:n])
			s.rxN += n
		} else {
			putChunk(buf)
		}
		if err != nil {
			if err == io.EOF {
				s.rxEOF = true
			} else {
				s.rxErr = errnoOf(err)
				if h.soError == 0 {
					h.soError = s.rxErr
				}
			}
			s.exitLocked() // not closed: the writer or Close closes conn
		}
		w, wfd := h.watcher()
		h.mu.Unlock()
		notify(w, wfd)
		if err != nil {
			return
		}
		h.mu.Lock()
		for s.rxN >= rxLimit && !h.closed {
			s.rxWaiting = true
			h.cond.Wait()
		}
		s.rxWaiting = false
		h.mu.Unlock()
	}
}

// exitLocked counts a goroutine out and reports whether it was the last
// of a closed handle's, which then closes the connection.
func (s *stream) exitLocked() bool {
	s.alive--
	return s.alive == 0
}

// writeLoop writes queued output and shuts the write half down when
// asked. Once the handle is closed and its output written, it sends the
// FIN and gives the reader until the linger deadline to see the peer's.
func (h *handle) writeLoop() {
	s := h.stream
	h.mu.Lock()
	for {
		for len(s.tx) == 0 && !h.closed && !(s.shutWr && !s.shutDone) && s.txErr == 0 {
			s.txWaiting = true
			h.cond.Wait()
		}
		s.txWaiting = false
		switch {
		case s.txErr != 0 && !h.closed:
			s.exitLocked() // Close will find the writer gone
			h.mu.Unlock()
			return
		case s.txErr != 0 || (h.closed && len(s.tx) == 0):
			fin := s.txErr == 0 && !s.shutDone && !h.lingerZero
			s.shutDone = true
			h.mu.Unlock()
			if fin {
				closeWrite(s.conn)
			}
			s.conn.SetReadDeadline(time.Now().Add(closeLinger))
			h.mu.Lock()
			last := s.exitLocked()
			h.mu.Unlock()
			if last {
				s.conn.Close()
			}
			return
		case len(s.tx) == 0: // shutWr asked, everything written
			s.shutDone = true
			h.mu.Unlock()
			err := closeWrite(s.conn)
			h.mu.Lock()
			if err != nil && s.txErr == 0 {
				s.txErr = errnoOf(err)
			}
			w, wfd := h.watcher()
			h.mu.Unlock()
			notify(w, wfd)
			h.mu.Lock()
			continue
		}
		out := s.tx
		s.tx, s.txSpare = s.txSpare[:0], nil
		s.inflight = len(out)
		h.mu.Unlock()
		_, err := s.conn.Write(out)
		h.mu.Lock()
		s.inflight = 0
		if cap(out) <= 4*txLimit {
			s.txSpare = out[:0]
		}
		if err != nil && s.txErr == 0 {
			s.txErr = errnoOf(err)
			if h.soError == 0 {
				h.soError = s.txErr
			}
		}
		w, wfd := h.watcher()
		h.mu.Unlock()
		notify(w, wfd)
		h.mu.Lock()
	}
}

func closeWrite(c net.Conn) error {
	if cw, ok := c.(interface{ CloseWrite() error }); ok {
		return cw.CloseWrite()
	}
	return nil
}

// read serves Read from the input queue.
func (s *stream) read(h *handle, p []byte) (int, error) {
	if s.rxN == 0 {
		switch {
		case s.rxErr != 0:
			return 0, s.rxErr
		case s.rxEOF:
			return 0, nil
		}
		return 0, syscall.EAGAIN
	}
	n := 0
	for n < len(p) && len(s.rx) > 0 {
		c := copy(p[n:], s.rx[0])
		n += c
		if c == len(s.rx[0]) {
			putChunk(s.rx[0])
			s.rx[0] = nil
			s.rx = s.rx[1:]
		} else {
			s.rx[0] = s.rx[0][c:]
		}
	}
	s.rxN -= n
	if len(s.rx) == 0 {
		s.rx = nil
	}
	if s.rxWaiting && s.rxN < rxLimit {
		h.cond.Broadcast()
	}
	return n, nil
}

// write queues what fits of bufs (at most limit buffers) for the writer.
func (s *stream) write(h *handle, bufs [][]byte, limit int) (int, error) {
	switch {
	case s.txErr != 0:
		return 0, s.txErr
	case s.rxErr == syscall.ECONNRESET:
		// The peer's RST arrived: Linux fails the next send at once.
		return 0, syscall.EPIPE
	case s.shutWr:
		return 0, syscall.EPIPE
	}
	sent := 0
	if len(s.tx) == 0 && s.inflight == 0 && s.rc != nil {
		// The writer is idle and holds nothing: sending now keeps the
		// order, and spares the hand-off to it.
		var e syscall.Errno
		sent, e = directSend(s.rc, bufs, limit)
		if e != 0 {
			s.txErr = e
			h.cond.Broadcast() // the writer leaves
			if h.soError == 0 {
				h.soError = e
			}
			if sent == 0 {
				return 0, e
			}
			return sent, nil // the error waits for the next call, as send(2) does
		}
	}
	room := txLimit - len(s.tx) - s.inflight
	if room <= 0 {
		if sent > 0 {
			return sent, nil
		}
		return 0, syscall.EAGAIN
	}
	n := sent
	skip := sent
	for i, b := range bufs {
		if i == limit || room == 0 {
			break
		}
		if skip >= len(b) {
			skip -= len(b)
			continue
		}
		b = b[skip:]
		skip = 0
		k := min(len(b), room)
		if s.tx == nil {
			s.tx = make([]byte, 0, min(max(k, 4<<10), txLimit))
		}
		s.tx = append(s.tx, b[:k]...)
		n += k
		room -= k
	}
	if n > sent && s.txWaiting {
		h.cond.Broadcast()
	}
	return n, nil
}

// close closes a connection. With SetLingerZero it resets it at once,
// dropping queued output. Otherwise, as close(2) does, the output already
// queued is still written (for up to closeFlushTimeout), then a FIN is
// sent; and where Linux would reset a connection closed with input unread,
// which the engine avoids by reading the socket dry first, here input
// still on its way from the operating system could not be seen: so the
// reader goes on reading and discarding until the peer's FIN, for up to
// closeLinger, and the connection is closed after it.
func (s *stream) close(h *handle) {
	for _, b := range s.rx {
		putChunk(b)
	}
	s.rx, s.rxN = nil, 0
	h.cond.Broadcast()
	switch {
	case h.lingerZero:
		if tc, ok := s.conn.(*net.TCPConn); ok {
			tc.SetLinger(0)
		}
		s.tx = nil
		s.conn.Close()
	case s.alive == 0 || (s.rxEOF && len(s.tx)+s.inflight == 0):
		// Nothing to write and the peer's FIN is in: close now, as
		// close(2) frees the descriptor at once (a listener paused at
		// EMFILE is re-armed right after).
		s.conn.Close()
	case len(s.tx)+s.inflight > 0:
		s.conn.SetWriteDeadline(time.Now().Add(closeFlushTimeout))
	}
}

// outQueue returns the bytes not yet handed to the operating system.
func (s *stream) outQueue() int { return len(s.tx) + s.inflight }

// shutdown asks for a FIN after the queued output.
func (s *stream) shutdown(h *handle, how int) {
	if how == SHUT_RDWR {
		s.rxEOF = true
	}
	if !s.shutWr {
		s.shutWr = true
		h.cond.Broadcast()
	}
}

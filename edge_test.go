//go:build linux

package epollnet

import (
	"bytes"
	"io"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// countHandler counts the bytes it is given and signals once it has want.
type countHandler struct {
	BaseHandler
	got  atomic.Int64
	want int64
	all  chan struct{}
	stop func(c *Conn) // called in the first OnData, if set
	once atomic.Bool
}

// await fails the test unless the handler gets all it wants soon.
func (h *countHandler) await(t *testing.T, what string) {
	t.Helper()
	select {
	case <-h.all:
	case <-time.After(5 * time.Second):
		t.Fatalf("%s: the handler got %d of %d bytes, and no more came", what, h.got.Load(), h.want)
	}
}

func (h *countHandler) OnData(c *Conn, in []byte) int {
	if h.stop != nil && h.once.CompareAndSwap(false, true) {
		h.stop(c)
	}
	if h.got.Add(int64(len(in))) == h.want {
		close(h.all)
	}
	return len(in)
}

// TestReadCapReadsAgainNextRound: a loop reads at most four buffers per
// event and then serves the others; edge-triggered, no event comes for the
// rest, which the client sent all at once and then nothing more. The loop
// must come back for it by itself (readAgain), or it is never read.
func TestReadCapReadsAgainNextRound(t *testing.T) {
	e := newEngine(t, Options{Loops: 1, ReadBufferSize: 512})
	const total = 256 << 10 // 128 times four buffers
	h := &countHandler{want: total, all: make(chan struct{})}
	ln := listen(t, e, h, nil)
	c := dialTCP(t, ln)
	if _, err := c.Write(bytes.Repeat([]byte{'x'}, total)); err != nil {
		t.Fatal(err)
	}
	h.await(t, "sent in one write")
}

// TestPauseInOnDataThenResumeReadsTheRest: PauseRead in OnData after a full
// buffer leaves data in the kernel that no new event will announce; after
// ResumeRead all of it is delivered.
func TestPauseInOnDataThenResumeReadsTheRest(t *testing.T) {
	e := newEngine(t, Options{Loops: 1, ReadBufferSize: 512})
	const total = 64 << 10
	paused := make(chan *Conn, 1)
	h := &countHandler{want: total, all: make(chan struct{})}
	h.stop = func(c *Conn) { c.PauseRead(); paused <- c }
	ln := listen(t, e, h, nil)
	cl := dialTCP(t, ln)
	if _, err := cl.Write(bytes.Repeat([]byte{'y'}, total)); err != nil {
		t.Fatal(err)
	}
	c := <-paused
	if err := c.ResumeRead(); err != nil {
		t.Fatal(err)
	}
	h.await(t, "after ResumeRead")
}

// TestCloseWithOutputPendingDrainsQueuedInput: Close in OnData with a
// large reply still pending and much more input queued than one read
// takes. Edge-triggered, no event announces the queued input; the closing
// connection must still flush the reply as the client reads (EPOLLOUT
// edges) and then close with a FIN, not a reset for unread input.
func TestCloseWithOutputPendingDrainsQueuedInput(t *testing.T) {
	e := newEngine(t, Options{Loops: 1, ReadBufferSize: 512})
	const in, out = 64 << 10, 4 << 20
	reply := bytes.Repeat([]byte{'r'}, out)
	h := &countHandler{want: -1, all: make(chan struct{})}
	h.stop = func(c *Conn) { c.Write(reply); c.Close() }
	ln := listen(t, e, h, nil)
	cl := dialTCP(t, ln)
	if _, err := cl.Write(bytes.Repeat([]byte{'z'}, in)); err != nil {
		t.Fatal(err)
	}
	cl.CloseWrite()
	cl.SetReadDeadline(time.Now().Add(10 * time.Second))
	got, err := io.ReadAll(cl)
	if err != nil || len(got) != out {
		t.Fatalf("read %d bytes, %v; want the %d-byte reply, then EOF", len(got), err, out)
	}
}

// TestCloseAfterAcknowledgedReplyDrainsInputAndSendsFIN: Close in OnData
// with the reply sent at once and more input queued than one read takes.
// The peer acknowledges the reply at once, so the close does not linger;
// it must still read and drop the queued input first, or close() sends RST
// and a client reading to EOF sees its connection reset after "bye".
func TestCloseAfterAcknowledgedReplyDrainsInputAndSendsFIN(t *testing.T) {
	e := newEngine(t, Options{Loops: 1, ReadBufferSize: 512})
	const total = 4 << 10
	h := &countHandler{want: -1, all: make(chan struct{})}
	h.stop = func(c *Conn) { c.Write([]byte("bye")); c.Close() }
	ln := listen(t, e, h, nil)
	cl := dialTCP(t, ln)
	if _, err := cl.Write(bytes.Repeat([]byte{'z'}, total)); err != nil {
		t.Fatal(err)
	}
	cl.SetReadDeadline(time.Now().Add(5 * time.Second))
	got, err := io.ReadAll(cl)
	if err != nil || string(got) != "bye" {
		t.Fatalf("read %q, %v; want \"bye\" then EOF, not a reset", got, err)
	}
}

// TestDialWriteAndPauseBeforeOpenFlushes: Write and PauseRead while the
// dial is still resolving its name: when the connect completes, the only
// interest left is EPOLLOUT, as it was while connecting. The open must
// still re-arm it (EPOLL_CTL_MOD reports the current state), since the
// connect's own EPOLLOUT edge is used up, or the early bytes never leave.
func TestDialWriteAndPauseBeforeOpenFlushes(t *testing.T) {
	e := newEngine(t, Options{Loops: 1})
	srv, cli := newDialHandler(), newDialHandler()
	c := dialByNameWriting(t, e, listen(t, e, srv, nil), cli, "early")
	if err := c.PauseRead(); err != nil {
		t.Fatal(err)
	}
	recv(t, cli.opened, "OnOpen")
	if got := recv(t, srv.data, "server data"); string(got) != "early" {
		t.Errorf("server got %q", got)
	}
}

// urgentHandler pauses each connection at open and collects its input.
type urgentHandler struct {
	BaseHandler
	conns chan *Conn
	mu    sync.Mutex
	got   []byte
	all   chan struct{}
}

func (h *urgentHandler) OnOpen(c *Conn) { c.PauseRead(); h.conns <- c }

func (h *urgentHandler) OnData(c *Conn, in []byte) int {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.got = append(h.got, in...)
	if len(h.got) == len("abcdef") {
		close(h.all)
	}
	return len(in)
}

// TestUrgentDataDoesNotStallReads: a TCP read stops short at the urgent
// mark (tcp_recvmsg breaks there once it has copied anything) though more
// data follows. Edge-triggered, that would leave "def" unread with no event
// to come; EPOLLPRI in the interest makes the event read until EAGAIN. The
// urgent byte itself is out of band (no SO_OOBINLINE) and not delivered.
func TestUrgentDataDoesNotStallReads(t *testing.T) {
	e := newEngine(t, Options{Loops: 1})
	h := &urgentHandler{conns: make(chan *Conn, 1), all: make(chan struct{})}
	ln := listen(t, e, h, nil)
	cl := dialTCP(t, ln)
	c := recv(t, h.conns, "OnOpen")
	raw, err := cl.SyscallConn()
	if err != nil {
		t.Fatal(err)
	}
	var serr error
	raw.Write(func(fd uintptr) bool {
		for _, m := range []struct {
			b     string
			flags int
		}{{"abc", 0}, {"!", unix.MSG_OOB}, {"def", 0}} {
			if serr = unix.Sendto(int(fd), []byte(m.b), m.flags, nil); serr != nil {
				return true
			}
		}
		// Wait until the server's kernel has acknowledged all of it, so
		// that all three are queued there before reading resumes.
		for i := 0; i < 1000; i++ {
			if q, err := unix.IoctlGetInt(int(fd), unix.SIOCOUTQ); err != nil || q == 0 {
				break
			}
			time.Sleep(time.Millisecond)
		}
		return true
	})
	if serr != nil {
		t.Fatal(serr)
	}
	if err := c.ResumeRead(); err != nil {
		t.Fatal(err)
	}
	select {
	case <-h.all:
	case <-time.After(5 * time.Second):
		h.mu.Lock()
		defer h.mu.Unlock()
		t.Fatalf("got %q, want \"abcdef\": reading stalled at the urgent mark", h.got)
	}
}

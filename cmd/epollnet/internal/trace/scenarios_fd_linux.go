//go:build !epollnet_portable

package trace

import (
	"context"
	"errors"
	"fmt"
	"os"
	"sync"
	"syscall"
	"time"

	"github.com/epollnet/epollnet"
	"github.com/epollnet/epollnet/cmd/epollnet/internal/tracefmt"
	"golang.org/x/sys/unix"
)

// The scenarios in this file hold a listening socket outside the engine
// for a while: the kernel queues connections, but nobody accepts them.

// runBacklogFull fills a backlog-1 accept queue (it holds 2) with two
// clients; the third client's SYN is dropped silently and it connects only
// at its SYN retransmission, 1 s later, after the server started accepting.
func runBacklogFull(ctx context.Context, s *session) error {
	const slow = 500 * time.Millisecond
	pl, err := listenPending(1)
	if err != nil {
		return err
	}
	defer pl.close()
	addr := fmt.Sprintf("127.0.0.1:%d", pl.port)
	s.d.Subtitle = fmt.Sprintf("listen(backlog 1) on %s and accept nothing for %v; three clients connect and close.", addr, slow)
	s.note(tracefmt.SideServer, "listen(fd %d, backlog 1): the accept queue holds 2; nobody accepts yet", pl.fd)
	for range 3 {
		if _, err := s.eng.DialAsync("tcp", addr, &client{closeOnOpen: true, closes: s.closes}, nil); err != nil {
			return err
		}
	}
	if err := s.rec.waitFor(ctx, 2, kind("open", "dialed")); err != nil {
		return err
	}
	if err := sleep(ctx, slow); err != nil {
		return err
	}
	s.note(tracefmt.SideServer, "the server starts accepting (Engine.ListenFD)")
	if err := pl.serve(s.eng, &server{mode: sink, closes: s.closes}, &epollnet.ListenConfig{Backlog: 1}); err != nil {
		return err
	}
	return s.waitCloses(ctx, 6)
}

// runEMFILE lets a client connect, then lowers RLIMIT_NOFILE so that
// accept4 finds no free descriptor number, and starts accepting: the engine
// must pause the still-readable listener rather than spin, and re-arm it.
// After two failures the limit is restored and the connection is served.
//
// The limit is process-wide, so nothing else in this process may open
// files meanwhile; the runtime's own poller already exists (the engine's
// loops park in it), and the window lasts about 200 ms.
func runEMFILE(ctx context.Context, s *session) error {
	pl, err := listenPending(16)
	if err != nil {
		return err
	}
	defer pl.close()
	addr := fmt.Sprintf("127.0.0.1:%d", pl.port)
	s.d.Subtitle = fmt.Sprintf("A client connects to %s; then RLIMIT_NOFILE leaves no descriptor for accept4.", addr)
	s.note(tracefmt.SideServer, "listen(fd %d): connections queue, nobody accepts yet", pl.fd)
	cl := &client{request: request, closeOnReply: true, closes: s.closes}
	if _, err := s.eng.DialAsync("tcp", addr, cl, nil); err != nil {
		return err
	}
	if err := s.rec.waitFor(ctx, 1, kind("open", "dialed")); err != nil {
		return err
	}
	limit, restore, err := exhaustFDs(pl.fd)
	if err != nil {
		return err
	}
	defer restore()
	s.note(tracefmt.SideServer, "RLIMIT_NOFILE lowered to %d: no descriptor number is free", limit)
	if err := pl.serve(s.eng, &server{mode: replyAtOnce, closes: s.closes}, nil); err != nil {
		return err
	}
	isEMFILE := func(r tracefmt.Record) bool { return r.Kind == "accept4" && r.Err == "EMFILE" }
	if err := s.rec.waitFor(ctx, 2, isEMFILE); err != nil {
		return err
	}
	if err := restore(); err != nil {
		return err
	}
	s.note(tracefmt.SideServer, "RLIMIT_NOFILE restored")
	return s.waitCloses(ctx, 2)
}

// exhaustFDs lowers the soft RLIMIT_NOFILE to the lowest free descriptor
// number, so the next descriptor anyone asks for fails with EMFILE. It
// returns the limit and a function, safe to call twice, that restores it.
func exhaustFDs(anyFD int) (uint64, func() error, error) {
	var old syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &old); err != nil {
		return 0, nil, os.NewSyscallError("getrlimit", err)
	}
	free, err := unix.FcntlInt(uintptr(anyFD), unix.F_DUPFD_CLOEXEC, 0)
	if err != nil {
		return 0, nil, os.NewSyscallError("fcntl", err)
	}
	unix.Close(free)
	low := old
	low.Cur = uint64(free)
	if err := syscall.Setrlimit(syscall.RLIMIT_NOFILE, &low); err != nil {
		return 0, nil, os.NewSyscallError("setrlimit", err)
	}
	var once sync.Once
	var rerr error
	restore := func() error {
		once.Do(func() { rerr = os.NewSyscallError("setrlimit", syscall.Setrlimit(syscall.RLIMIT_NOFILE, &old)) })
		return rerr
	}
	return low.Cur, restore, nil
}

// pendingListener is a listening socket made outside the engine, which the
// scenario owns (and closes) until the engine takes it.
type pendingListener struct {
	fd, port int
	taken    bool
}

func listenPending(backlog int) (*pendingListener, error) {
	fd, port, err := listenRaw(backlog)
	if err != nil {
		return nil, err
	}
	return &pendingListener{fd: fd, port: port}, nil
}

// serve hands the socket to the engine (Engine.ListenFD).
func (p *pendingListener) serve(eng *epollnet.Engine, h epollnet.Handler, cfg *epollnet.ListenConfig) error {
	if _, err := eng.ListenFD(p.fd, h, cfg); err != nil {
		return err
	}
	p.taken = true
	return nil
}

func (p *pendingListener) close() {
	if !p.taken {
		closeFD(p.fd)
	}
}

// listenRaw creates a listening TCP socket on 127.0.0.1, port 0, outside
// the engine, and returns it with its port.
func listenRaw(backlog int) (int, int, error) {
	fd, port, err := boundSocket()
	if err != nil {
		return -1, 0, err
	}
	if err := unix.Listen(fd, backlog); err != nil {
		closeFD(fd)
		return -1, 0, os.NewSyscallError("listen", err)
	}
	return fd, port, nil
}

// reservePort binds a TCP socket to 127.0.0.1, port 0, without listening:
// a SYN to that port is answered with RST, and nobody else can take it.
func reservePort() (int, int, error) { return boundSocket() }

func boundSocket() (int, int, error) {
	fd, err := unix.Socket(unix.AF_INET, unix.SOCK_STREAM|unix.SOCK_NONBLOCK|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return -1, 0, os.NewSyscallError("socket", err)
	}
	if err := unix.Bind(fd, &unix.SockaddrInet4{Addr: [4]byte{127, 0, 0, 1}}); err != nil {
		closeFD(fd)
		return -1, 0, os.NewSyscallError("bind", err)
	}
	sa, err := unix.Getsockname(fd)
	in4, ok := sa.(*unix.SockaddrInet4)
	if err != nil || !ok {
		closeFD(fd)
		return -1, 0, errors.Join(os.NewSyscallError("getsockname", err), errors.New("not an IPv4 address"))
	}
	return fd, in4.Port, nil
}

func closeFD(fd int) { unix.Close(fd) }

//go:build !epollnet_portable

package trace

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/epollnet/epollnet"
	"github.com/epollnet/epollnet/cmd/epollnet/internal/tracefmt"
)

// scenarioRuns holds the code of each scenario in the scenarios list.
var scenarioRuns = map[string]func(ctx context.Context, s *session) error{
	"ok":           runOK,
	"refused":      runRefused,
	"timeout":      runTimeout,
	"ack-dropped":  runACKDropped,
	"backlog-full": runBacklogFull,
	"defer-accept": runDeferAccept,
	"unix":         runUnix,
	"half-close":   runHalfClose,
	"reset":        runReset,
	"emfile":       runEMFILE,
	"tls":          runTLS,
	"proxy":        runProxy,
}

// exchange is the common shape: a listener with mode, one client, both
// connections closing. It returns the listener's address.
func exchange(ctx context.Context, s *session, network, addr string, mode serverMode,
	cfg *epollnet.ListenConfig, cl *client) (string, error) {
	ln, err := s.eng.Listen(network, addr, &server{mode: mode, closes: s.closes}, cfg)
	if err != nil {
		return "", err
	}
	cl.closes = s.closes
	if _, err := s.eng.DialAsync(network, ln.Addr().String(), cl, nil); err != nil {
		return "", err
	}
	return ln.Addr().String(), s.waitCloses(ctx, 2)
}

func runOK(ctx context.Context, s *session) error {
	addr, err := exchange(ctx, s, "tcp", "127.0.0.1:0", replyAtOnce, nil,
		&client{request: request, closeOnReply: true})
	s.d.Subtitle = fmt.Sprintf("One process on loopback: listen on %s, dial it, send %q, read the reply, close.", addr, request)
	return err
}

func runDeferAccept(ctx context.Context, s *session) error {
	const delay = 300 * time.Millisecond
	s.note(tracefmt.SideServer, "TCP_DEFER_ACCEPT (1 s) on the listener")
	addr, err := exchange(ctx, s, "tcp", "127.0.0.1:0", replyAtOnce,
		&epollnet.ListenConfig{DeferAccept: time.Second},
		&client{request: request, delay: delay, closeOnReply: true})
	s.d.Subtitle = fmt.Sprintf("Listener on %s with TCP_DEFER_ACCEPT; the client sends its request %v after connecting.", addr, delay)
	return err
}

func runUnix(ctx context.Context, s *session) error {
	dir, err := os.MkdirTemp("", "epollnet-trace-")
	if err != nil {
		return err
	}
	s.cleanup(func() { os.RemoveAll(dir) })
	path := filepath.Join(dir, "trace.sock")
	_, err = exchange(ctx, s, "unix", path, replyAtOnce, nil,
		&client{request: request, closeOnReply: true})
	s.d.Subtitle = fmt.Sprintf("The ok scenario over an AF_UNIX stream socket, %s.", path)
	return err
}

func runHalfClose(ctx context.Context, s *session) error {
	addr, err := exchange(ctx, s, "tcp", "127.0.0.1:0", replyAtEOF, nil,
		&client{request: request, closeWrite: true})
	s.d.Subtitle = fmt.Sprintf("Loopback, %s: the client sends its request and shuts down its write side (FIN); "+
		"the server replies after EOF.", addr)
	return err
}

func runReset(ctx context.Context, s *session) error {
	addr, err := exchange(ctx, s, "tcp", "127.0.0.1:0", replyThenAbort, nil,
		&client{request: request})
	s.d.Subtitle = fmt.Sprintf("Loopback, %s: the server replies, then aborts the connection "+
		"(SO_LINGER 0, close: RST).", addr)
	return err
}

// runRefused dials a port that is bound but not listening: the kernel
// answers the SYN with RST. Holding the port bound keeps anyone else from
// listening on it meanwhile.
func runRefused(ctx context.Context, s *session) error {
	fd, port, err := reservePort()
	if err != nil {
		return err
	}
	s.cleanup(func() { closeFD(fd) })
	addr := fmt.Sprintf("127.0.0.1:%d", port)
	s.d.Subtitle = fmt.Sprintf("Dial %s, a port that is bound but where nobody listens.", addr)
	s.note(tracefmt.SideServer, "nobody listens on port %d: the kernel answers a SYN with RST", port)
	if _, err := s.eng.DialAsync("tcp", addr, &client{request: request, closes: s.closes}, nil); err != nil {
		return err
	}
	return s.waitCloses(ctx, 1)
}

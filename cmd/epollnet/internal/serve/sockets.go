//go:build linux && !epollnet_portable

package serve

import (
	"fmt"
	"log/slog"
	"os"
	"strconv"

	"github.com/epollnet/epollnet"
	"github.com/epollnet/epollnet/cmd/epollnet/internal/cli"
	"github.com/epollnet/epollnet/cmd/epollnet/internal/daemon"
	"golang.org/x/sys/unix"
)

// openServer starts serve's engine on its sockets: those systemd passed
// (socket activation), then every --listen address, or 127.0.0.1:8080
// when there is neither. In a process started by a restart the same
// sockets come from the previous process instead (see handover).
//
// serve creates its sockets itself and gives the engine duplicates
// (Engine.ListenFD) rather than calling Engine.Listen: a restart needs
// the descriptors, which the engine does not expose.
func openServer(o serveOptions, hv *daemon.Handover, logger *slog.Logger) (*runningServer, error) {
	sd, err := systemdSockets(hv)
	if err != nil {
		return nil, err
	}
	if len(o.listen) == 0 && len(sd) == 0 {
		o.listen = []string{defaultListen}
	}
	s, err := newServer(o, len(sd)+len(o.listen), logger)
	if err != nil {
		for _, sk := range sd {
			unix.Close(sk.fd)
		}
		return nil, err
	}
	for i, sk := range sd {
		if err != nil {
			unix.Close(sk.fd)
			continue
		}
		if err = s.serveFD(sk.fd, sk.origin); err != nil {
			err = fmt.Errorf("systemd socket %d: %w", i, err)
		}
	}
	for _, a := range o.listen {
		if err == nil {
			err = s.listenAddr(a, hv)
		}
	}
	if err != nil {
		s.eng.Abort()
		s.paths.Remove()
		return nil, err
	}
	return s, nil
}

// activated is a socket from systemd: a descriptor for the engine and
// where it came from, for the status line.
type activated struct {
	fd     int
	origin string
}

// systemdSockets returns the sockets of systemd's socket activation
// (LISTEN_FDS, LISTEN_PID, LISTEN_FDNAMES; sd_listen_fds(3)), registered
// for the next process, or, after a restart, the ones the previous process
// had from systemd.
func systemdSockets(hv *daemon.Handover) ([]activated, error) {
	var out []activated
	closeAll := func() {
		for _, a := range out {
			unix.Close(a.fd)
		}
	}
	if hv.Inheriting() {
		for i := 0; ; i++ {
			fd, err := hv.Inherited(systemdName(i))
			if err != nil {
				closeAll()
				return nil, err
			}
			if fd < 0 {
				return out, nil
			}
			out = append(out, activated{fd, "inherited systemd socket"})
		}
	}
	socks, err := epollnet.ActivatedSockets()
	if err != nil {
		return nil, err
	}
	for i, sk := range socks {
		fd, err := hv.Keep(systemdName(i), os.NewFile(uintptr(sk.FD), sk.Name))
		if err != nil {
			closeAll()
			return nil, fmt.Errorf("systemd socket %q: %w", sk.Name, err)
		}
		out = append(out, activated{fd, fmt.Sprintf("from systemd socket %q", sk.Name)})
	}
	return out, nil
}

func systemdName(i int) string { return "systemd " + strconv.Itoa(i) }

// listenAddr serves one --listen address: one socket, or with --reuseport
// one per loop, each inherited from the previous process when there is
// one. The loop goes on while sockets are inherited, so that all of a
// reuseport group are served even if this process has fewer loops than
// the last: a socket left unserved would be closed, and close resets the
// connections queued on a reuseport socket (unless
// net.ipv4.tcp_migrate_req=1 moves them to a sibling; see docs/kernel.md).
func (s *runningServer) listenAddr(a string, hv *daemon.Handover) error {
	network, address, err := cli.SplitAddr(a)
	if err != nil {
		return err
	}
	n := 1
	if s.o.reusePort {
		n = s.eng.Loops()
	}
	for i := 0; ; i++ {
		name := fmt.Sprintf("listen %s %d", a, i)
		var fd int
		var inherited bool
		if i < n {
			fd, inherited, err = hv.Socket(name, network, address, s.o.reusePort)
		} else if fd, err = hv.Inherited(name); err == nil && fd < 0 {
			return nil // beyond this process's n, only inherited sockets
		} else {
			inherited = true
		}
		if err != nil {
			return err
		}
		origin := s.paths.Track(network, address, inherited)
		if err := s.serveFD(fd, origin); err != nil {
			return fmt.Errorf("--listen %s: %w", a, err)
		}
		// Port 0: the other sockets of a reuseport group bind the port the
		// kernel chose for the first.
		address = s.lns[len(s.lns)-1].Addr().String()
	}
}

// serveFD hands a listening socket to the engine, which owns fd from then on.
func (s *runningServer) serveFD(fd int, origin string) error {
	ln, err := s.eng.ListenFD(fd, s.h, s.listenConfig())
	if err != nil {
		unix.Close(fd)
		return err
	}
	s.lns = append(s.lns, ln)
	s.origins = append(s.origins, origin)
	return nil
}

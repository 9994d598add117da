package epollnet

import (
	"fmt"
	"net"
	"os"
	"strconv"
	"strings"

	"github.com/epollnet/epollnet/internal/sys"
)

// listenFDsStart is SD_LISTEN_FDS_START: systemd passes activated sockets
// as descriptors 3, 4, ... (sd_listen_fds(3)).
const listenFDsStart = 3

// ActivatedSocket is a socket passed by systemd socket activation.
type ActivatedSocket struct {
	FD   int    // the descriptor, close-on-exec
	Name string // from LISTEN_FDNAMES (FileDescriptorName=), or "unknown"
}

// ActivatedSockets returns the sockets passed by systemd's socket
// activation, following sd_listen_fds(3): LISTEN_PID must name this process
// and LISTEN_FDS counts descriptors from 3; LISTEN_FDNAMES names them. The
// three variables are removed from the environment so that child processes
// do not take the sockets for theirs, and the descriptors are made
// close-on-exec. Without activation it returns nil and no error.
func ActivatedSockets() ([]ActivatedSocket, error) {
	pid, fds := os.Getenv("LISTEN_PID"), os.Getenv("LISTEN_FDS")
	if fds == "" {
		return nil, nil
	}
	defer func() {
		os.Unsetenv("LISTEN_PID")
		os.Unsetenv("LISTEN_FDS")
		os.Unsetenv("LISTEN_FDNAMES")
	}()
	if p, err := strconv.Atoi(pid); err != nil || p != os.Getpid() {
		return nil, nil // meant for another process (e.g. our parent)
	}
	n, err := strconv.Atoi(fds)
	if err != nil || n < 0 || n > 1<<16 {
		return nil, fmt.Errorf("epollnet: invalid LISTEN_FDS %q", fds)
	}
	names := strings.Split(os.Getenv("LISTEN_FDNAMES"), ":")
	out := make([]ActivatedSocket, n)
	for i := range out {
		fd := listenFDsStart + i
		if err := sys.SetCloseOnExec(fd); err != nil {
			return nil, fmt.Errorf("epollnet: activated descriptor %d: %w", fd, err)
		}
		name := "unknown"
		if i < len(names) && names[i] != "" {
			name = names[i]
		}
		out[i] = ActivatedSocket{FD: fd, Name: name}
	}
	return out, nil
}

// ListenActivated serves every listening socket passed by systemd socket
// activation with h, in the order of LISTEN_FDS; see ActivatedSockets. A
// passed socket that is not a listening stream socket (a datagram socket, a
// FIFO) is an error, and nothing is served then. It returns no listeners
// and no error when the process was not socket-activated.
func (e *Engine) ListenActivated(h Handler, cfg *ListenConfig) ([]*Listener, error) {
	socks, err := ActivatedSockets()
	if err != nil {
		return nil, err
	}
	var lns []*Listener
	for _, s := range socks {
		ln, err := e.ListenFD(s.FD, h, cfg)
		if err != nil {
			for _, l := range lns {
				l.Close()
			}
			return nil, &net.OpError{Op: "listen", Net: "systemd:" + s.Name, Err: err}
		}
		lns = append(lns, ln)
	}
	return lns, nil
}

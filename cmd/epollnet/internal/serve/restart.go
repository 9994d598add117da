//go:build linux && !epollnet_portable

package serve

import (
	"fmt"
	"io"
	"net"
	"os"
	"os/signal"
	"sync"
	"syscall"
	"time"

	"github.com/cloudflare/tableflip"
	"golang.org/x/sys/unix"
)

// Restartable is set by the program's main when serve runs as the whole
// process: a restart starts a new copy of the program, and tableflip
// allows one Upgrader per process, so serve called in-process by tests
// runs without.
var Restartable bool

// handover passes serve's listening sockets to a new copy of the program
// on SIGHUP, as nginx hands its sockets to a new binary on SIGUSR2: the new
// process inherits the very same sockets (descriptors passed through
// exec), starts serving them, says it is ready, and only then does the old
// one stop accepting and drain. The sockets never close, so no connection
// attempt is refused and none queued in the accept backlog is lost: the
// backlog belongs to the socket, which both processes share. Handing over
// SO_REUSEPORT siblings works the same way. Opening new sockets in the new
// process and closing the old ones instead would reset every connection
// queued on a closed reuseport socket unless net.ipv4.tcp_migrate_req=1
// (see docs/kernel.md).
//
// The protocol is github.com/cloudflare/tableflip's: descriptors and
// their names through exec, a readiness pipe, a pipe that tells the new
// process when the old one has exited (until then no further restart
// starts), a timeout after which an unready new process is killed. It fits
// the engine with one precaution. Sockets are kept as tableflip "files"
// (Fds.AddFile, Fds.File) and reach the engine through ListenFD as
// duplicates made under SyscallConn's Control (dupFD), as
// Engine.ListenFrom makes its own, never through (*os.File).Fd: Fd puts a
// pollable descriptor into blocking mode, and O_NONBLOCK belongs to the
// open file description, shared with the old process, whose engine would
// then block in accept4.
type handover struct {
	upg        *tableflip.Upgrader // nil: restarts unavailable
	hup        chan os.Signal      // SIGHUP, caught from the start (see newHandover)
	took       chan struct{}       // closed when a new process took over
	quit       chan struct{}       // closed by stop
	wg         *sync.WaitGroup     // the SIGHUP watcher
	stopOnce   sync.Once
	handedOver bool // a new process took over the sockets
}

// upgradeTimeout bounds how long a new process may take to become ready
// before it is killed and the old one goes on serving.
const upgradeTimeout = time.Minute

// newHandover returns a handover, inheriting sockets when this process was
// started by a restart. Without Restartable it hands nothing over.
func newHandover() (*handover, error) {
	if !Restartable {
		return &handover{}, nil
	}
	upg, err := tableflip.New(tableflip.Options{UpgradeTimeout: upgradeTimeout})
	if err != nil {
		return nil, fmt.Errorf("restart support: %w", err)
	}
	// Catch SIGHUP now, before ready tells the old process to go: a
	// SIGHUP that came between the two would otherwise terminate this
	// process (its default action). watch acts on it once serving.
	hup := make(chan os.Signal, 1)
	signal.Notify(hup, syscall.SIGHUP)
	return &handover{upg: upg, hup: hup}, nil
}

// inheriting reports whether this process was started by a restart.
func (h *handover) inheriting() bool { return h.upg != nil && h.upg.HasParent() }

// inherited returns a duplicate of the socket called name that the
// previous process passed, for Engine.ListenFD, or -1.
func (h *handover) inherited(name string) (int, error) {
	if h.upg == nil {
		return -1, nil
	}
	f, err := h.upg.File(name)
	if err != nil || f == nil {
		return -1, err
	}
	defer f.Close()
	return dupFD(f)
}

// keep registers a new listening socket for the next process and returns
// a duplicate for Engine.ListenFD. f is closed.
func (h *handover) keep(name string, f *os.File) (int, error) {
	defer f.Close()
	if h.upg != nil {
		if err := h.upg.AddFile(name, f); err != nil {
			return -1, err
		}
	}
	return dupFD(f)
}

// listen returns a net/http listener (the metrics endpoint's), inherited
// or new. net.FileListener is safe here: tableflip's inherited files come
// from os.NewFile, whose Fd leaves the blocking mode alone.
func (h *handover) listen(network, address string) (net.Listener, error) {
	if h.upg == nil {
		return net.Listen(network, address)
	}
	return h.upg.Listen(network, address)
}

// ready tells the previous process, if any, that this one serves, so that
// it stops accepting and drains.
func (h *handover) ready() error {
	if h.upg == nil {
		return nil
	}
	return h.upg.Ready()
}

// watch starts a restart on every SIGHUP, until stop. A failed restart
// (the new process exited, or was not ready in time) is reported and the
// old process goes on serving; a successful one closes tookOver.
func (h *handover) watch(w io.Writer) {
	h.took = make(chan struct{})
	h.quit = make(chan struct{})
	h.wg = new(sync.WaitGroup)
	if h.upg == nil {
		return
	}
	h.wg.Add(1)
	go func() {
		defer h.wg.Done()
		for {
			select {
			case <-h.quit:
				return
			case <-h.hup:
			}
			fmt.Fprintf(w, "epollnet serve: pid %d: SIGHUP: starting a new process\n", os.Getpid())
			if err := h.upg.Upgrade(); err != nil {
				fmt.Fprintf(w, "epollnet serve: pid %d: restart failed, still serving: %v\n", os.Getpid(), err)
				continue
			}
			h.handedOver = true
			close(h.took)
			return
		}
	}()
}

// tookOver returns a channel closed once a new process is ready and
// serves the sockets: this one must stop accepting and drain.
func (h *handover) tookOver() <-chan struct{} { return h.took }

// stop ends restart support: it stops watching SIGHUP, interrupts a
// restart in progress (killing the new process), and, unless a new process
// took over, closes the sockets kept for one. After stop, handedOver is
// final.
func (h *handover) stop() {
	if h.upg == nil {
		return
	}
	h.stopOnce.Do(func() {
		signal.Stop(h.hup)
		h.upg.Stop()
		if h.quit != nil {
			close(h.quit)
			h.wg.Wait()
		}
	})
}

// dupFD duplicates f's descriptor, close-on-exec, through SyscallConn:
// (*os.File).Fd would put a socket from the net package into blocking
// mode (see handover).
func dupFD(f syscall.Conn) (int, error) {
	rc, err := f.SyscallConn()
	if err != nil {
		return -1, err
	}
	fd, derr := -1, error(nil)
	if err := rc.Control(func(s uintptr) {
		fd, derr = unix.FcntlInt(s, unix.F_DUPFD_CLOEXEC, 0)
	}); err != nil {
		return -1, err
	}
	if derr != nil {
		return -1, os.NewSyscallError("fcntl", derr)
	}
	return fd, nil
}

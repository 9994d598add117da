//go:build linux && !epollnet_portable

package daemon

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

// Restartable is set by the program's main when a command runs as the
// whole process: a restart starts a new copy of the program, and
// tableflip allows one Upgrader per process, so commands called
// in-process by tests run without.
var Restartable bool

// Handover passes a command's listening sockets to a new copy of the program
// on SIGHUP (or SIGUSR2, nginx's signal for the same): the new
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
// duplicates made under SyscallConn's Control (DupFD), as
// Engine.ListenFrom makes its own, never through (*os.File).Fd: Fd puts a
// pollable descriptor into blocking mode, and O_NONBLOCK belongs to the
// open file description, shared with the old process, whose engine would
// then block in accept4.
type Handover struct {
	upg        *tableflip.Upgrader // nil: restarts unavailable
	hup        chan os.Signal      // SIGHUP and SIGUSR2, caught from the start (see NewHandover)
	took       chan struct{}       // closed when a new process took over
	quit       chan struct{}       // closed by stop
	wg         *sync.WaitGroup     // the SIGHUP watcher
	stopOnce   sync.Once
	handedOver bool // a new process took over the sockets
	command    string
}

// upgradeTimeout bounds how long a new process may take to become ready
// before it is killed and the old one goes on serving.
const upgradeTimeout = time.Minute

// NewHandover returns a Handover for command ("serve", "proxy": the
// name its messages begin with), inheriting sockets when this process was
// started by a restart. Without Restartable it hands nothing over.
func NewHandover(command string) (*Handover, error) {
	if !Restartable {
		return &Handover{command: command}, nil
	}
	upg, err := tableflip.New(tableflip.Options{UpgradeTimeout: upgradeTimeout})
	if err != nil {
		return nil, fmt.Errorf("restart support: %w", err)
	}
	// Catch SIGHUP and SIGUSR2 now, before Ready tells the old process to
	// go: one that came between the two would otherwise terminate this
	// process (their default action). Watch acts on them once serving.
	hup := make(chan os.Signal, 1)
	signal.Notify(hup, syscall.SIGHUP, syscall.SIGUSR2)
	return &Handover{upg: upg, hup: hup, command: command}, nil
}

// Restarts reports whether SIGHUP starts a new process: only when the
// command is the whole process (Restartable).
func (h *Handover) Restarts() bool { return h.upg != nil }

// Inheriting reports whether this process was started by a restart.
func (h *Handover) Inheriting() bool { return h.upg != nil && h.upg.HasParent() }

// Inherited returns a duplicate of the socket called name that the
// previous process passed, for Engine.ListenFD, or -1.
func (h *Handover) Inherited(name string) (int, error) {
	if h.upg == nil {
		return -1, nil
	}
	f, err := h.upg.File(name)
	if err != nil || f == nil {
		return -1, err
	}
	defer f.Close()
	return DupFD(f)
}

// Keep registers a new listening socket for the next process and returns
// a duplicate for Engine.ListenFD. f is closed.
func (h *Handover) Keep(name string, f *os.File) (int, error) {
	defer f.Close()
	if h.upg != nil {
		if err := h.upg.AddFile(name, f); err != nil {
			return -1, err
		}
	}
	return DupFD(f)
}

// Listen returns a net/http listener (the metrics endpoint's), inherited
// or new. net.FileListener is safe here: tableflip's inherited files come
// from os.NewFile, whose Fd leaves the blocking mode alone.
func (h *Handover) Listen(network, address string) (net.Listener, error) {
	if h.upg == nil {
		return net.Listen(network, address)
	}
	return h.upg.Listen(network, address)
}

// Ready tells the previous process, if any, that this one serves, so that
// it stops accepting and drains.
func (h *Handover) Ready() error {
	if h.upg == nil {
		return nil
	}
	return h.upg.Ready()
}

// Watch starts a restart on every SIGHUP or SIGUSR2, until Stop. A failed
// restart (the new process exited, or was not ready in time) is reported
// and the old process goes on serving; a successful one closes TookOver's
// channel. w receives one line for each.
func (h *Handover) Watch(w io.Writer) {
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
			case sig := <-h.hup:
				fmt.Fprintf(w, "epollnet %s: pid %d: %s: starting a new process\n", h.command, os.Getpid(), signalName(sig))
			}
			if err := h.upg.Upgrade(); err != nil {
				fmt.Fprintf(w, "epollnet %s: pid %d: restart failed, still serving: %v\n", h.command, os.Getpid(), err)
				continue
			}
			h.handedOver = true
			close(h.took)
			return
		}
	}()
}

// TookOver returns a channel closed once a new process is ready and
// serves the sockets: this one must stop accepting and drain.
func (h *Handover) TookOver() <-chan struct{} { return h.took }

// HandedOver reports whether a new process took over the sockets. It is
// final once Stop returned.
func (h *Handover) HandedOver() bool { return h.handedOver }

// Stop ends restart support: it stops watching SIGHUP, interrupts a
// restart in progress (killing the new process), and, unless a new process
// took over, closes the sockets kept for one. After Stop, HandedOver is
// final.
func (h *Handover) Stop() {
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

// signalName is a restart signal's conventional name, as the usage texts
// spell it.
func signalName(sig os.Signal) string {
	if sig == syscall.SIGUSR2 {
		return "SIGUSR2"
	}
	return "SIGHUP"
}

// DupFD duplicates f's descriptor, close-on-exec, through SyscallConn:
// (*os.File).Fd would put a socket from the net package into blocking
// mode (see Handover).
func DupFD(f syscall.Conn) (int, error) {
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

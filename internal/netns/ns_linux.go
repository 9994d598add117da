//go:build linux

package netns

import (
	"errors"
	"fmt"
	"os"
	"path"
	"runtime"
	"strings"
	"sync"

	"github.com/google/nftables"
	"golang.org/x/sys/unix"
)

// errClosed is returned by NS methods called after Close.
var errClosed = errors.New("netns: network namespace already closed")

// NS is a private network namespace with only the loopback interface, which is
// up. All of 127.0.0.0/8 and ::1 work on it, and nothing outside the namespace
// can reach it.
//
// The fixture holds the namespace through an nsfs file descriptor and one
// nftables netlink socket. Both are closed by Close (by the test's cleanup
// for NewNS); the kernel frees the namespace once the sockets created inside
// it are closed too.
//
// All methods are safe for concurrent use.
type NS struct {
	// undoErr, if set, hears of a rule undo that failed (nettest reports
	// it to the test); otherwise such failures are ignored.
	undoErr func(desc string, err error)

	// mu guards the handles below and serialises nftables batches: the
	// nftables.Conn buffers messages per connection, so two rule changes
	// must not interleave their AddRule/Flush pairs.
	mu     sync.Mutex
	fd     int            // O_RDONLY|O_CLOEXEC handle on /proc/thread-self/ns/net; -1 once closed
	nft    *nftables.Conn // lasting netlink socket created inside the namespace
	table  *nftables.Table
	chain  *nftables.Chain
	nextID uint64 // numbers rules so that each can be found again by its user data
}

// New creates a private network namespace with loopback up and an empty
// nftables table in it. It needs root (CAP_SYS_ADMIN and CAP_NET_ADMIN) and a
// kernel with network namespaces and nf_tables; otherwise it returns the
// error of the step that failed, such as unshare's EPERM. The caller must
// Close the NS. Rule undo functions ignore failures: the rules go with the
// namespace anyway.
func New() (_ *NS, err error) {
	fd, err := unshareNetNS()
	if err != nil {
		return nil, err
	}
	ns := &NS{fd: fd}
	defer func() {
		if err != nil {
			err = errors.Join(err, ns.Close())
		}
	}()
	if err := ns.setupNftables(); err != nil {
		return nil, err
	}
	return ns, nil
}

// unshareNetNS creates a network namespace, brings loopback up in it and
// returns a handle on it. The work happens on a thread that unshares and then
// goes back to the namespace it came from.
func unshareNetNS() (int, error) {
	fd := -1
	enter := func() error {
		// unshare(CLONE_NEWNET) acts on the calling thread only; unlike
		// CLONE_NEWUSER it is allowed in a multi-threaded process.
		return os.NewSyscallError("unshare(CLONE_NEWNET)", unix.Unshare(unix.CLONE_NEWNET))
	}
	err := inThreadNetNS(enter, func() (err error) {
		if fd, err = openThreadNetNS(); err != nil {
			return err
		}
		return loopbackUp()
	})
	if err != nil && fd >= 0 {
		_ = unix.Close(fd)
		fd = -1
	}
	return fd, err
}

// inThreadNetNS runs f on a new goroutine whose OS thread enter has moved to
// another network namespace, moves the thread back and returns f's error.
// Network namespaces are per thread, hence runtime.LockOSThread: no other
// goroutine may run on the thread while it is switched, and the runtime does
// not clone new threads from a locked one.
//
// If the thread cannot be moved back it stays locked, and the runtime
// terminates it when the goroutine exits instead of reusing a thread that is
// inside the wrong namespace.
func inThreadNetNS(enter, f func() error) error {
	done := make(chan error, 1)
	go func() {
		err := errors.New("netns: f called runtime.Goexit (t.FailNow off the test goroutine?)")
		defer func() { done <- err }()
		err = switchThreadNetNS(enter, f)
	}()
	return <-done
}

// switchThreadNetNS does the work of inThreadNetNS on the goroutine it
// starts.
func switchThreadNetNS(enter, f func() error) error {
	runtime.LockOSThread()
	orig, err := openThreadNetNS()
	if err != nil {
		runtime.UnlockOSThread()
		return err
	}
	defer unix.Close(orig)
	if err := enter(); err != nil {
		runtime.UnlockOSThread() // enter failed, so the thread is unchanged
		return err
	}
	ferr := f()
	if err := unix.Setns(orig, unix.CLONE_NEWNET); err != nil {
		return errors.Join(ferr, os.NewSyscallError("setns(original netns)", err))
	}
	runtime.UnlockOSThread()
	return ferr
}

// openThreadNetNS returns a handle on the calling thread's network namespace.
// /proc/thread-self (Linux 3.17+) names the thread, not the thread group
// leader, whose namespace may differ.
func openThreadNetNS() (int, error) {
	const p = "/proc/thread-self/ns/net"
	fd, err := unix.Open(p, unix.O_RDONLY|unix.O_CLOEXEC, 0)
	if err != nil {
		return -1, &os.PathError{Op: "open", Path: p, Err: err}
	}
	return fd, nil
}

// loopbackUp sets IFF_UP on lo in the calling thread's namespace. A new
// network namespace starts with lo down, and until it is up every connect to
// 127.0.0.1 fails with ENETUNREACH. The kernel adds 127.0.0.1/8 and ::1 by
// itself when lo comes up, so plain ioctls suffice and no rtnetlink is needed.
func loopbackUp() error {
	s, err := unix.Socket(unix.AF_INET, unix.SOCK_DGRAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return os.NewSyscallError("socket", err)
	}
	defer unix.Close(s)
	ifr, err := unix.NewIfreq("lo")
	if err != nil {
		return fmt.Errorf("ifreq lo: %w", err)
	}
	if err := unix.IoctlIfreq(s, unix.SIOCGIFFLAGS, ifr); err != nil {
		return os.NewSyscallError("ioctl(SIOCGIFFLAGS, lo)", err)
	}
	ifr.SetUint16(ifr.Uint16() | unix.IFF_UP)
	if err := unix.IoctlIfreq(s, unix.SIOCSIFFLAGS, ifr); err != nil {
		return os.NewSyscallError("ioctl(SIOCSIFFLAGS, lo)", err)
	}
	return nil
}

// Do runs f on an OS thread that has joined the namespace, waits for it and
// returns f's error.
//
// A socket belongs to the namespace of the thread that created it, for its
// whole life (the kernel records it in sk->sk_net). So sockets created inside
// f stay in the namespace and can afterwards be used from any goroutine:
// connect, accept, epoll_ctl and I/O on them need no Do. Only the calls that
// look up the caller's namespace (socket, /proc/sys/net, ...) must be in f.
// Per-namespace files under /proc must be read through /proc/thread-self/net:
// /proc/net is a link to /proc/self/net, which shows the namespace of the
// thread group leader, not of the calling thread.
//
// f runs on another goroutine, so it must not call t.Fatal or t.FailNow;
// it reports failure through its error. Do may be called concurrently.
func (ns *NS) Do(f func() error) error {
	return inThreadNetNS(ns.enter, f)
}

// enter moves the calling (locked) thread into the namespace.
func (ns *NS) enter() error {
	ns.mu.Lock()
	defer ns.mu.Unlock()
	if ns.fd < 0 {
		return errClosed
	}
	if err := unix.Setns(ns.fd, unix.CLONE_NEWNET); err != nil {
		return os.NewSyscallError("setns(CLONE_NEWNET)", err)
	}
	return nil
}

// SetSysctl writes value to the sysctl name inside the namespace, for
// example SetSysctl("net/ipv4/tcp_abort_on_overflow", "1") for the
// ACK-time accept queue overflow (see docs/kernel.md, "A full backlog drops
// SYNs silently"). The name may use slashes
// or dots ("net.ipv4.tcp_abort_on_overflow").
//
// Only names under net/ are accepted: the kernel resolves /proc/sys/net
// against the namespace of the thread that opens it, but every other sysctl
// is global, and writing it here would change the host.
func (ns *NS) SetSysctl(name, value string) error {
	p, err := sysctlPath(name)
	if err != nil {
		return err
	}
	return ns.Do(func() error {
		f, err := os.OpenFile(p, os.O_WRONLY, 0)
		if err != nil {
			return fmt.Errorf("netns: sysctl %s: %w", name, err)
		}
		_, werr := f.WriteString(value)
		cerr := f.Close()
		if err := errors.Join(werr, cerr); err != nil {
			return fmt.Errorf("netns: sysctl %s=%q: %w", name, value, err)
		}
		return nil
	})
}

// Sysctl reads the sysctl name inside the namespace and returns its value
// without the trailing newline. Names follow the rules of SetSysctl.
func (ns *NS) Sysctl(name string) (string, error) {
	p, err := sysctlPath(name)
	if err != nil {
		return "", err
	}
	var v []byte
	if err := ns.Do(func() (err error) {
		v, err = os.ReadFile(p)
		return err
	}); err != nil {
		return "", fmt.Errorf("netns: sysctl %s: %w", name, err)
	}
	return strings.TrimSpace(string(v)), nil
}

// sysctlPath maps a sysctl name to its file under /proc/sys and refuses names
// outside net/, which are not per-namespace.
func sysctlPath(name string) (string, error) {
	rel := name
	if !strings.Contains(rel, "/") {
		rel = strings.ReplaceAll(rel, ".", "/") // sysctl(8) spelling
	}
	if path.Clean(rel) != rel || !strings.HasPrefix(rel, "net/") {
		return "", fmt.Errorf("netns: sysctl %q: only names under net/ are per network namespace", name)
	}
	return "/proc/sys/" + rel, nil
}

// Close releases the nftables socket and the namespace handle; the kernel
// frees the namespace once the sockets created inside it are closed too. It
// is idempotent, and methods called afterwards fail (undo functions do
// nothing).
func (ns *NS) Close() error {
	ns.mu.Lock()
	defer ns.mu.Unlock()
	if ns.fd < 0 {
		return nil
	}
	var errs error
	if ns.nft != nil {
		if err := ns.nft.CloseLasting(); err != nil {
			errs = fmt.Errorf("nftables: close netlink socket: %w", err)
		}
		ns.nft = nil
	}
	if err := unix.Close(ns.fd); err != nil {
		errs = errors.Join(errs, os.NewSyscallError("close(netns)", err))
	}
	ns.fd = -1
	return errs
}

// ReportUndoErrors makes f hear of every rule undo that fails from now on
// (a test fixture reports them to its test). Call it before handing out
// undo functions; f must be safe to call from any goroutine.
func (ns *NS) ReportUndoErrors(f func(desc string, err error)) {
	ns.mu.Lock()
	ns.undoErr = f
	ns.mu.Unlock()
}

//go:build linux

package netns_test

import (
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/epollnet/epollnet/internal/netns"
	"github.com/epollnet/epollnet/internal/nettest"

	"golang.org/x/sys/unix"
)

// nsID identifies a network namespace by its nsfs inode.
type nsID struct{ dev, ino uint64 }

// fdNSID returns the namespace that the nsfs file descriptor fd refers to.
func fdNSID(fd int) (nsID, error) {
	var st unix.Stat_t
	if err := unix.Fstat(fd, &st); err != nil {
		return nsID{}, os.NewSyscallError("fstat", err)
	}
	return nsID{st.Dev, st.Ino}, nil
}

// nsReferences lists what in this process still refers to the namespace id:
// threads inside it, nsfs descriptors on it, and sockets created in it
// (found with SIOCGSKNS, which returns a socket's namespace). Each of these
// keeps the kernel from freeing the namespace.
func nsReferences(t testing.TB, id nsID) []string {
	t.Helper()
	var refs []string
	tasks, err := filepath.Glob("/proc/self/task/*/ns/net")
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range tasks {
		var st unix.Stat_t
		if err := unix.Stat(p, &st); err == nil && (nsID{st.Dev, st.Ino}) == id {
			refs = append(refs, "thread "+p)
		}
	}
	entries, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		fd, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		link, err := os.Readlink("/proc/self/fd/" + e.Name())
		if err != nil {
			continue // the directory's own descriptor, already closed
		}
		switch {
		case strings.HasPrefix(link, "net:["):
			if got, err := fdNSID(fd); err == nil && got == id {
				refs = append(refs, fmt.Sprintf("fd %d (%s)", fd, link))
			}
		case strings.HasPrefix(link, "socket:["):
			nsfd, err := unix.IoctlRetInt(fd, unix.SIOCGSKNS)
			if err != nil {
				continue
			}
			got, err := fdNSID(nsfd)
			unix.Close(nsfd)
			if err == nil && got == id {
				refs = append(refs, fmt.Sprintf("fd %d (%s)", fd, link))
			}
		}
	}
	return refs
}

// TestNSCleanupLeavesNoReference checks that once a test's cleanup has run
// and its sockets are closed, nothing in the process pins the namespace any
// more, so the kernel frees it: no descriptor (nsfs handle, nftables netlink
// socket, test socket), no thread left inside it by Do, and no goroutine.
// It also checks that an undo called after the cleanup does nothing.
func TestNSCleanupLeavesNoReference(t *testing.T) {
	nettest.NeedRoot(t)
	goroutines := runtime.NumGoroutine()
	var (
		id   nsID
		undo func()
	)
	t.Run("ns", func(t *testing.T) {
		ns := nettest.NewNS(t)
		var err error
		if id, err = fdNSID(netns.FD(ns)); err != nil {
			t.Fatal(err)
		}
		_, port := listenIn(t, ns, unix.AF_INET)
		cfd := connectIn(t, ns, unix.AF_INET, port)
		waitEvents(t, cfd, epollAll, time.Second)
		if undo, err = ns.DropSYN(port); err != nil {
			t.Fatal(err)
		}
		if err := ns.SetSysctl("net/ipv4/tcp_syn_retries", "2"); err != nil {
			t.Fatal(err)
		}
		// The detector must see the handle, the nftables socket and the
		// two test sockets while the namespace is open.
		if refs := nsReferences(t, id); len(refs) < 4 {
			t.Fatalf("references while open: %q, want at least 4", refs)
		}
	})
	undo()
	if refs := nsReferences(t, id); len(refs) != 0 {
		t.Errorf("namespace still referenced after cleanup: %q", refs)
	}
	// A goroutine that has sent its result may not have exited yet; give
	// the scheduler a bounded chance to finish it.
	deadline := time.Now().Add(time.Second)
	for runtime.NumGoroutine() > goroutines && time.Now().Before(deadline) {
		runtime.Gosched()
	}
	if n := runtime.NumGoroutine(); n > goroutines {
		t.Errorf("%d goroutines after cleanup, %d before", n, goroutines)
	}
}

// TestDoRunsInNamespace checks that Do's thread is inside the namespace and
// that the thread is back in the host namespace for the next goroutine.
func TestDoRunsInNamespace(t *testing.T) {
	ns := nettest.NewNS(t)
	want, err := fdNSID(netns.FD(ns))
	if err != nil {
		t.Fatal(err)
	}
	for range 20 {
		var got nsID
		if err := ns.Do(func() error {
			fd, err := netns.OpenThreadNetNS()
			if err != nil {
				return err
			}
			defer unix.Close(fd)
			got, err = fdNSID(fd)
			return err
		}); err != nil {
			t.Fatal(err)
		}
		if got != want {
			t.Fatalf("Do ran in namespace %v, want %v", got, want)
		}
	}
	if refs := nsReferences(t, want); len(refs) != 2 {
		// Only the fixture's handle and its nftables socket: no thread.
		t.Fatalf("references after Do: %q, want the handle and the nftables socket", refs)
	}
}

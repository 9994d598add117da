//go:build !linux || epollnet_portable

package poller

import (
	"errors"
	"syscall"
	"testing"
	"time"

	"github.com/epollnet/epollnet/internal/sys"
)

// TestWakeAfterPrepareSleepEndsWait: a Wake that lands between the loop's
// last look at its tasks (after PrepareSleep) and Wait must end that Wait.
// Wait used to consume the wake token in its first, non-blocking look and
// then park for good, with the task left unrun.
func TestWakeAfterPrepareSleepEndsWait(t *testing.T) {
	p, err := New(16)
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	p.PrepareSleep()
	p.Wake()
	done := make(chan struct{})
	go func() {
		p.Wait(-1)
		close(done)
	}()
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		p.Wake() // let the goroutine go
		t.Fatal("Wait slept through a Wake made after PrepareSleep")
	}
}

// TestCloseRemovesRegistration: closing a registered handle takes it out
// of the poller, as close(2) takes a socket out of its epoll sets, so the
// number reused by the next handle can be added again. The engine closes
// its own sockets without a Del; the registration used to stay and the
// next Add of the reused number failed with EEXIST.
func TestCloseRemovesRegistration(t *testing.T) {
	p, err := New(16)
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	for i := range 3 {
		fd, err := sys.Socket(sys.AF_INET, sys.SOCK_STREAM, 0)
		if err != nil {
			t.Fatal(err)
		}
		if err := p.Add(fd, uint32(i+1), Readable|Edge); err != nil {
			t.Fatalf("round %d: Add of descriptor %d: %v", i, fd, err)
		}
		if err := sys.Close(fd); err != nil {
			t.Fatal(err)
		}
		if err := p.Mod(fd, uint32(i+1), Readable); !errors.Is(err, syscall.ENOENT) {
			t.Fatalf("round %d: Mod after Close: %v, want ENOENT", i, err)
		}
	}
}

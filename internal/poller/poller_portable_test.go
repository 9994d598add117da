//go:build !linux || epollnet_portable

package poller

import (
	"testing"
	"time"
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

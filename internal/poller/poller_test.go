//go:build linux && !epollnet_portable

package poller

import (
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// TestWakeIsNeverLostUnderConcurrentWakers hammers Wake from several
// goroutines while a loop sleeps and wakes, then checks that the wake
// signal is not left set with an empty eventfd: in that state every later
// Wake is a no-op and the loop sleeps through its tasks. Clearing the
// signal before draining the eventfd produced it in the first round.
func TestWakeIsNeverLostUnderConcurrentWakers(t *testing.T) {
	for round := 0; round < 30; round++ {
		p, err := New(16)
		if err != nil {
			t.Fatal(err)
		}
		var stop atomic.Bool
		done := make(chan struct{})
		go func() {
			defer close(done)
			for !stop.Load() {
				p.PrepareSleep()
				p.Wait(2 * time.Millisecond)
			}
		}()
		var wg sync.WaitGroup
		for g := 0; g < 4; g++ {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for end := time.Now().Add(10 * time.Millisecond); time.Now().Before(end); {
					p.Wake()
				}
			}()
		}
		wg.Wait()
		stop.Store(true)
		<-done
		p.Poll() // consumes a wake still pending in the eventfd
		if p.wakeSig.Load() != 0 {
			t.Fatalf("round %d: wake signal stuck with an empty eventfd", round)
		}
		p.PrepareSleep()
		p.Wake()
		if n, _ := p.Wait(5 * time.Second); n != 1 {
			t.Fatalf("round %d: a Wake after the storm did not wake Wait (%d events)", round, n)
		}
		p.Close()
	}
}

//go:build linux

package epollnet

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"os"
	"os/exec"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// The fault soak runs an echo server under every fault at once, from many
// clients, for EPOLLNET_SOAK (a duration; default 3s, so that every test
// run has a short one): clean exchanges, half-closes, resets midway, slow
// readers, connect-and-close churn that makes the kernel reuse descriptor
// numbers at once, and bursts during which the process is out of
// descriptors (accept4 fails with EMFILE). Every byte the server accepted
// must come back intact, and at the end nothing may be left: no
// descriptor, goroutine, connection or epoll registration.
//
//	EPOLLNET_SOAK=5m go test -run TestFaultSoak -v .
//
// It runs in a child process because the bursts lower the process's
// descriptor limit.
func TestFaultSoak(t *testing.T) {
	if os.Getenv("EPOLLNET_SOAK_CHILD") != "1" {
		runSoakChild(t)
		return
	}
	d, err := soakDuration()
	if err != nil {
		t.Fatal(err)
	}
	// The clients use package net, whose poller takes two descriptors for
	// good at first use: take them before newEngine counts descriptors.
	if l, err := net.Listen("tcp", "127.0.0.1:0"); err == nil {
		l.Close()
	}
	e := newEngine(t, Options{Loops: 2, AcceptRetryDelay: 10 * time.Millisecond,
		WriteHighWater: 256 << 10, WriteLowWater: 64 << 10})
	ln := listen(t, e, &soakEcho{}, nil)
	syncLoops(e)
	registered := e.Stats().Total.Registered // the listener's registrations

	var st soakStats
	deadline := time.Now().Add(d)
	stopBursts := make(chan struct{})
	bursts := make(chan int, 1)
	go func() { bursts <- emfileBursts(t, stopBursts) }()
	var wg sync.WaitGroup
	for w := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			rnd := rand.New(rand.NewPCG(uint64(w), uint64(time.Now().UnixNano())))
			for time.Now().Before(deadline) {
				st.run(t, soakKind(rnd.IntN(int(numSoakKinds))), ln.Addr().String(), rnd)
			}
		}()
	}
	wg.Wait()
	close(stopBursts)
	st.bursts = <-bursts

	// Every client is gone; the server's side closes as the FINs and
	// resets arrive.
	end := time.Now().Add(10 * time.Second)
	for e.Stats().Total.Conns != 0 && time.Now().Before(end) {
		time.Sleep(5 * time.Millisecond)
	}
	total := e.Stats().Total
	t.Logf("held for %v: %s; server: %d opened, %d closed, %d accept pauses (EMFILE), %d bytes in",
		d, st.String(), total.Opened, total.Closed, total.AcceptPauses, total.BytesIn)
	if total.Conns != 0 || total.Registered != registered {
		t.Errorf("left behind: %d connections, %d registrations (want %d)", total.Conns, total.Registered, registered)
	}
	if st.failed.Load() > 0 {
		t.Errorf("%d exchanges lost or corrupted bytes", st.failed.Load())
	}
	for k := range numSoakKinds {
		if st.done[k].Load() == 0 {
			t.Errorf("the soak made no %s exchange: %s", soakKindNames[k], st.String())
		}
	}
	if st.bursts == 0 || total.AcceptPauses == 0 {
		t.Errorf("%d EMFILE bursts, %d accept pauses: the soak did not run the server out of descriptors",
			st.bursts, total.AcceptPauses)
	}
}

// runSoakChild runs TestFaultSoak in a child process and relays its verdict.
func runSoakChild(t *testing.T) {
	d, err := soakDuration()
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), d+2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, os.Args[0], "-test.run=^TestFaultSoak$", "-test.v", "-test.count=1")
	cmd.Env = append(os.Environ(), "EPOLLNET_SOAK_CHILD=1")
	out, err := cmd.CombinedOutput()
	for _, line := range strings.Split(strings.TrimSpace(string(out)), "\n") {
		if _, msg, ok := strings.Cut(line, "held for "); ok {
			t.Log("held for " + msg)
		}
	}
	if err != nil {
		t.Fatalf("the soak failed (%v):\n%s", err, out)
	}
}

func soakDuration() (time.Duration, error) {
	s := os.Getenv("EPOLLNET_SOAK")
	if s == "" {
		return 3 * time.Second, nil
	}
	d, err := time.ParseDuration(s)
	if err != nil || d <= 0 {
		return 0, fmt.Errorf("EPOLLNET_SOAK=%q: want a positive duration such as 5m", s)
	}
	return d, nil
}

// soakEcho echoes with backpressure: above the high watermark it stops
// reading until the peer has drained the output, so a slow reader costs
// bounded memory. The peer's FIN closes gracefully: the echo of every
// byte read goes out first.
type soakEcho struct{ BaseHandler }

func (soakEcho) OnData(c *Conn, in []byte) int {
	c.Write(in)
	if c.Buffered() > 256<<10 {
		c.PauseRead()
	}
	return len(in)
}

func (soakEcho) OnWritable(c *Conn) { c.ResumeRead() }

// emfileBursts takes every free descriptor for 20 ms every 100 ms until
// stop, and returns how many bursts it made.
func emfileBursts(t *testing.T, stop <-chan struct{}) int {
	var cur unix.Rlimit
	if err := unix.Getrlimit(unix.RLIMIT_NOFILE, &cur); err != nil {
		t.Errorf("getrlimit: %v", err)
		return 0
	}
	n := 0
	tick := time.NewTicker(100 * time.Millisecond)
	defer tick.Stop()
	for {
		select {
		case <-stop:
			return n
		case <-tick.C:
		}
		held := exhaustFDs(func(f string, a ...any) { t.Errorf(f, a...) })
		time.Sleep(20 * time.Millisecond) // the burst's length, not a synchronization
		for _, fd := range held {
			unix.Close(fd)
		}
		if err := unix.Setrlimit(unix.RLIMIT_NOFILE, &cur); err != nil {
			t.Errorf("restoring the descriptor limit: %v", err)
		}
		n++
	}
}

// soakKind is one kind of client exchange.
type soakKind int

const (
	soakClean      soakKind = iota // send, read the echo back, close
	soakHalfClose                  // send, shut down writing, read the echo to EOF
	soakReset                      // send, then abort with RST midway
	soakSlowReader                 // send 1 MiB, read it back in small, paced reads
	soakChurn                      // connect and close at once, ten times: descriptors reused
	numSoakKinds
)

var soakKindNames = [numSoakKinds]string{"clean", "half-close", "reset", "slow reader", "churn"}

type soakStats struct {
	done     [numSoakKinds]atomic.Uint64
	dialErrs atomic.Uint64 // connects refused during an EMFILE burst, retried
	failed   atomic.Uint64
	verified atomic.Uint64 // bytes that came back intact
	bursts   int
}

func (st *soakStats) String() string {
	var b strings.Builder
	for k := range numSoakKinds {
		fmt.Fprintf(&b, "%d %s, ", st.done[k].Load(), soakKindNames[k])
	}
	fmt.Fprintf(&b, "%d bytes verified, %d EMFILE bursts, %d connects failed in them",
		st.verified.Load(), st.bursts, st.dialErrs.Load())
	return b.String()
}

// run makes one exchange of kind with the server at addr.
func (st *soakStats) run(t *testing.T, kind soakKind, addr string, rnd *rand.Rand) {
	if kind == soakChurn {
		for range 10 {
			if c, err := net.Dial("tcp", addr); err == nil {
				c.Close()
			} else {
				st.dialErrs.Add(1)
			}
		}
		st.done[kind].Add(1)
		return
	}
	c, err := net.Dial("tcp", addr)
	if err != nil {
		st.dialErrs.Add(1) // EMFILE on our side during a burst
		return
	}
	tc := c.(*net.TCPConn)
	defer tc.Close()
	tc.SetDeadline(time.Now().Add(30 * time.Second))
	size := 1 + rnd.IntN(256<<10)
	if kind == soakSlowReader {
		size = 1 << 20
	}
	msg := make([]byte, size)
	for i := range msg {
		msg[i] = byte(rnd.Uint32())
	}
	if err := st.exchange(tc, kind, msg, rnd); err != nil {
		st.failed.Add(1)
		t.Errorf("%s exchange of %d bytes: %v", soakKindNames[kind], size, err)
		return
	}
	st.done[kind].Add(1)
}

// exchange sends msg and checks what comes back, as kind asks.
func (st *soakStats) exchange(c *net.TCPConn, kind soakKind, msg []byte, rnd *rand.Rand) error {
	werr := make(chan error, 1)
	go func() {
		_, err := c.Write(msg)
		if err == nil && kind == soakHalfClose {
			err = c.CloseWrite()
		}
		werr <- err
	}()
	switch kind {
	case soakReset:
		io.ReadFull(c, make([]byte, rnd.IntN(len(msg)+1)))
		c.SetLinger(0)
		c.Close() // RST, with the echo perhaps still in flight
		<-werr
		return nil
	case soakHalfClose:
		got, err := io.ReadAll(c)
		if err != nil {
			return fmt.Errorf("reading to EOF: %w", err)
		}
		return st.verify(got, msg, <-werr)
	case soakSlowReader:
		got := make([]byte, 0, len(msg))
		buf := make([]byte, 4<<10)
		for len(got) < len(msg) {
			n, err := c.Read(buf)
			got = append(got, buf[:n]...)
			if err != nil {
				return fmt.Errorf("after %d bytes: %w", len(got), err)
			}
			time.Sleep(50 * time.Microsecond) // a slow reader's pace
		}
		return st.verify(got, msg, <-werr)
	default:
		got := make([]byte, len(msg))
		if _, err := io.ReadFull(c, got); err != nil {
			return err
		}
		return st.verify(got, msg, <-werr)
	}
}

func (st *soakStats) verify(got, want []byte, werr error) error {
	if werr != nil {
		return fmt.Errorf("writing: %w", werr)
	}
	if !bytes.Equal(got, want) {
		at := 0
		for at < min(len(got), len(want)) && got[at] == want[at] {
			at++
		}
		return fmt.Errorf("%d bytes back for %d sent, first difference at %d", len(got), len(want), at)
	}
	st.verified.Add(uint64(len(got)))
	return nil
}

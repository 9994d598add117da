//go:build linux

package epollnet

import (
	"bufio"
	"context"
	"fmt"
	"os"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
)

// emfileChild is the server side of TestAcceptEMFILEDoesNotSpin, run in a
// child process so that lowering RLIMIT_NOFILE cannot hurt the test binary.
// It talks to the parent over stdin/stdout and exits.
func emfileChild() {
	fail := func(f string, a ...any) { fmt.Printf("FAIL "+f+"\n", a...); os.Exit(1) }
	opened := make(chan struct{}, 1)
	e, err := New(Options{Loops: 1, AcceptRetryDelay: 50 * time.Millisecond})
	if err != nil {
		fail("New: %v", err)
	}
	h := &childHandler{opened: opened}
	ln, err := e.Listen("tcp", "127.0.0.1:0", h, nil)
	if err != nil {
		fail("Listen: %v", err)
	}
	syncLoops(e)
	// The runtime creates its own epoll instance on first use of a timer;
	// do that now, while a descriptor can still be had.
	time.Sleep(time.Millisecond)
	held := exhaustFDs(fail)
	fmt.Printf("ADDR %s\n", ln.Addr())
	in := bufio.NewScanner(os.Stdin)
	if !in.Scan() {
		fail("parent went away")
	}
	// The connection is queued and the listener readable. Measure the loop
	// for 300 ms while no descriptor can be had.
	before, cpu0 := e.Stats().Total, cpuTime()
	time.Sleep(300 * time.Millisecond)
	after, cpu1 := e.Stats().Total, cpuTime()
	if after.Accepted != 0 {
		fail("accepted while exhausted")
	}
	unix.Close(held[len(held)-1])
	unix.Close(held[len(held)-2])
	select {
	case <-opened:
	case <-time.After(5 * time.Second):
		fail("connection not accepted after descriptors were freed")
	}
	fmt.Printf("RESULT wakeups=%d cpu_ms=%d pauses=%d accepted=%d\n",
		after.Wakeups-before.Wakeups, (cpu1-cpu0)/time.Millisecond, after.AcceptPauses, e.Stats().Total.Accepted)
	for _, fd := range held[:len(held)-2] {
		unix.Close(fd)
	}
	e.Shutdown(context.Background())
	os.Exit(0)
}

// exhaustFDs lowers the soft descriptor limit a little above what is open
// and fills the rest, returning the descriptors it holds.
func exhaustFDs(fail func(string, ...any)) []int {
	ents, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		fail("%v", err)
	}
	lim := unix.Rlimit{Cur: uint64(len(ents) + 16), Max: 1 << 20}
	var cur unix.Rlimit
	unix.Getrlimit(unix.RLIMIT_NOFILE, &cur)
	lim.Max = cur.Max
	if err := unix.Setrlimit(unix.RLIMIT_NOFILE, &lim); err != nil {
		fail("setrlimit: %v", err)
	}
	var held []int
	for {
		fd, err := unix.Dup(0)
		if err == unix.EMFILE {
			return held
		}
		if err != nil {
			fail("dup: %v", err)
		}
		held = append(held, fd)
	}
}

func cpuTime() time.Duration {
	var ru syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

type childHandler struct {
	BaseHandler
	opened chan struct{}
}

func (h *childHandler) OnOpen(c *Conn) { h.opened <- struct{}{} }

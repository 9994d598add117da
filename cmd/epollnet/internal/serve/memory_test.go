//go:build linux

package serve

import (
	"bufio"
	"fmt"
	"io"
	"net/netip"
	"os"
	"os/exec"
	"runtime"
	"strconv"
	"syscall"
	"testing"
	"time"

	"github.com/epollnet/epollnet/internal/nettest"
	"golang.org/x/sys/unix"
)

// idleCostLimit is what an idle connection of "serve" with its default
// flags (echo, one loop per CPU, the 1-minute idle timeout) may cost the Go
// heap: 0.2 KiB. It is the Conn (112 bytes), the handler's state (16), and
// a 16-byte slot in the descriptor table of each loop whose table spans the
// descriptor; the idle timeout itself costs nothing per connection.
const idleCostLimit = 204.8

// TestServeIdleHeapCost opens idle connections to "serve" with its default
// flags and measures what each costs the server's heap, at most
// idleCostLimit. The clients live in a child process (this test binary
// again), so the server's descriptors are its own and the test allocates
// nothing per connection in the server's process. EPOLLNET_IDLE_CONNS sets
// how many (default 2,000), to measure at 10,000 or more; the descriptor
// limit is raised if it can be.
func TestServeIdleHeapCost(t *testing.T) {
	if v := os.Getenv("EPOLLNET_IDLE_CLIENT"); v != "" {
		idleClients(v)
		return
	}
	nettest.NeedEpoll(t, "an idle connection without goroutines of its own")
	n := 2000
	if v := os.Getenv("EPOLLNET_IDLE_CONNS"); v != "" {
		var err error
		if n, err = strconv.Atoi(v); err != nil || n < 1 {
			t.Fatalf("EPOLLNET_IDLE_CONNS=%q: want a positive count", v)
		}
	}
	raiseNoFile(t, uint64(n+1000))
	// The heap moves by a few tens of bytes per connection from run to run
	// (what the burst of connections left in queues and pools, and when the
	// collector ran), so the best of three rounds is compared.
	best := 0.0
	for round := 0; round < 3; round++ {
		perConn := idleHeapRound(t, n)
		t.Logf("%d idle connections: %.1f heap bytes each (%.3f KiB)", n, perConn, perConn/1024)
		if round == 0 || perConn < best {
			best = perConn
		}
	}
	if best > idleCostLimit {
		t.Fatalf("%.1f heap bytes per idle connection at best, want at most %.1f", best, idleCostLimit)
	}
}

// idleHeapRound starts serve, opens n idle connections to it from a child
// process, and returns the server's heap growth per connection.
func idleHeapRound(t *testing.T, n int) float64 {
	srv, addr := testServer(t, "echo", func(o *serveOptions) { o.loops = 0 }) // default: one per CPU
	before := heapAlloc()
	cmd := exec.Command(os.Args[0], "-test.run=^TestServeIdleHeapCost$")
	cmd.Env = append(os.Environ(), fmt.Sprintf("EPOLLNET_IDLE_CLIENT=%s %d", addr, n))
	stdin, _ := cmd.StdinPipe()
	stdout, _ := cmd.StdoutPipe()
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	out := bufio.NewScanner(stdout)
	if !out.Scan() || out.Text() != "READY" {
		stdin.Close()
		cmd.Wait()
		t.Fatalf("client process: %q", out.Text())
	}
	perConn := (float64(heapAlloc()) - float64(before)) / float64(n)
	stdin.Close() // the child closes its sockets and exits
	cmd.Wait()
	// The next round measures from a heap this server's connections have
	// left: wait for their closes (bounded; the server's Shutdown at the
	// test's end reports any left).
	for deadline := time.Now().Add(10 * time.Second); srv.st.open.Load() > 0 && time.Now().Before(deadline); {
		time.Sleep(5 * time.Millisecond)
	}
	return perConn
}

// idleClients is TestServeIdleHeapCost's client process: it opens n
// connections to addr (given as "addr n") from 127.0.0.2 to 127.0.0.9, so
// that more than one address's worth of ports is possible, sends a byte
// on each and reads its echo (the server has then opened and served every
// one), says READY and holds them until its stdin closes.
func idleClients(arg string) {
	fail := func(f string, a ...any) { fmt.Printf("FAIL "+f+"\n", a...); os.Exit(1) }
	var addr string
	var n int
	if _, err := fmt.Sscan(arg, &addr, &n); err != nil {
		fail("EPOLLNET_IDLE_CLIENT=%q: %v", arg, err)
	}
	var rl syscall.Rlimit
	syscall.Getrlimit(syscall.RLIMIT_NOFILE, &rl)
	rl.Cur = max(rl.Cur, min(uint64(n+100), rl.Max))
	syscall.Setrlimit(syscall.RLIMIT_NOFILE, &rl)
	ap, err := netip.ParseAddrPort(addr)
	if err != nil {
		fail("%v", err)
	}
	fds := make([]int, n)
	for i := range fds {
		fd, err := unix.Socket(unix.AF_INET, unix.SOCK_STREAM|unix.SOCK_CLOEXEC, 0)
		if err != nil {
			fail("socket %d: %v", i, err)
		}
		fds[i] = fd
		unix.SetsockoptInt(fd, unix.IPPROTO_IP, unix.IP_BIND_ADDRESS_NO_PORT, 1)
		if err := unix.Bind(fd, &unix.SockaddrInet4{Addr: [4]byte{127, 0, 0, byte(2 + i%8)}}); err != nil {
			fail("bind %d: %v", i, err)
		}
		if err := unix.Connect(fd, &unix.SockaddrInet4{Addr: ap.Addr().As4(), Port: int(ap.Port())}); err != nil {
			fail("connect %d: %v", i, err)
		}
	}
	b := []byte{'x'}
	for i, fd := range fds {
		if _, err := unix.Write(fd, b); err != nil {
			fail("write %d: %v", i, err)
		}
	}
	for i, fd := range fds {
		if m, err := unix.Read(fd, b); m != 1 || err != nil {
			fail("read %d: %d, %v", i, m, err)
		}
	}
	fmt.Println("READY")
	io.Copy(io.Discard, os.Stdin)
	for _, fd := range fds {
		unix.Close(fd)
	}
	os.Exit(0)
}

// raiseNoFile raises the descriptor limit to at least want, or skips.
func raiseNoFile(t *testing.T, want uint64) {
	var rl syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &rl); err != nil {
		t.Fatal(err)
	}
	if rl.Cur >= want {
		return
	}
	old := rl
	rl.Cur, rl.Max = want, max(rl.Max, want)
	if err := syscall.Setrlimit(syscall.RLIMIT_NOFILE, &rl); err != nil {
		t.Skipf("need %d descriptors, have %d: %v (run as root)", want, old.Cur, err)
	}
	t.Cleanup(func() { syscall.Setrlimit(syscall.RLIMIT_NOFILE, &old) })
}

// heapAlloc returns the live heap. Two collections: sync.Pool keeps what
// one collection frees from it (its victim cache) until the next.
func heapAlloc() uint64 {
	runtime.GC()
	runtime.GC()
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	return m.HeapAlloc
}

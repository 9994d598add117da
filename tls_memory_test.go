//go:build linux

package epollnet

import (
	"bufio"
	"crypto/tls"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"runtime"
	"strconv"
	"testing"
	"time"

	"github.com/epollnet/epollnet/internal/nettest"
)

// TestTLSIdleConnectionMemory measures what an idle TLS connection, its
// handshake done and a first exchange read, costs a server: the engine's
// (its Conn, the TLS layer, crypto/tls's state and buffers) and, for
// comparison, Go's net and crypto/tls with a goroutine per connection
// reading into a 4 KiB buffer (as bufio's default; io.Copy would take 32
// KiB), whose idle goroutine's stack is counted too. The clients run in a child
// process, so that only the server's memory is in this one's heap. It logs
// both, and fails only if the engine's connection costs more than the
// goroutine-per-connection server's. (With -race, goroutine stacks are
// twice their size.)
//
//	go test -run TestTLSIdleConnectionMemory -v .
func TestTLSIdleConnectionMemory(t *testing.T) {
	nettest.NeedEpoll(t, "an idle connection without goroutines of its own")
	if addr := os.Getenv("EPOLLNET_TLS_CLIENTS"); addr != "" {
		tlsClientsChild(addr)
		return
	}
	if testing.Short() {
		t.Skip("opens 2 × 100 TLS connections")
	}
	const n = 100
	e := newEngine(t, Options{Loops: 1})
	ln := listen(t, e, echoHandler{}, &ListenConfig{TLSConfig: certs(t).serverConfig()})
	goAddr := goTLSServer(t, certs(t).serverConfig(), func(c *tls.Conn) { echo4K(c) })
	// A first round warms each server up: the loop's buffers and descriptor
	// table, package net's poller, crypto/tls's pools, so that the
	// measured round counts only what each connection costs.
	for _, addr := range []string{ln.Addr().String(), goAddr} {
		measureTLSServer(t, addr, 10)
	}
	heapE, stackE := measureTLSServer(t, ln.Addr().String(), n)
	heapG, stackG := measureTLSServer(t, goAddr, n)
	t.Logf("idle TLS connection, per connection: epollnet %.0f B heap + %.0f B stacks; Go net+crypto/tls %.0f B heap + %.0f B stacks",
		heapE, stackE, heapG, stackG)
	if heapE+stackE > heapG+stackG {
		t.Fatalf("epollnet's idle TLS connection costs %.0f B, Go net's %.0f B", heapE+stackE, heapG+stackG)
	}
}

// measureTLSServer has a child process open n connections to the TLS echo
// server at addr (each completes its handshake and one echo), and returns
// the growth of the live heap and of goroutine stacks per connection,
// measured while they are idle. The child's connections are closed when
// it returns.
func measureTLSServer(t *testing.T, addr string, n int) (heap, stacks float64) {
	t.Helper()
	heap0, stack0 := memoryInUse()
	cmd := exec.Command(os.Args[0], "-test.run=^TestTLSIdleConnectionMemory$")
	// GORACE: a child built with -race would otherwise sleep a second
	// at exit.
	cmd.Env = append(os.Environ(), "EPOLLNET_TLS_CLIENTS="+addr+","+strconv.Itoa(n), "GORACE=atexit_sleep_ms=0")
	stdin, _ := cmd.StdinPipe()
	stdout, _ := cmd.StdoutPipe()
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer cmd.Wait()
	defer stdin.Close() // the child closes its connections and exits
	line, err := bufio.NewReader(stdout).ReadString('\n')
	if err != nil || line != "READY\n" {
		t.Fatalf("client process: %q, %v", line, err)
	}
	heap1, stack1 := memoryInUse()
	return float64(heap1-heap0) / float64(n), float64(stack1-stack0) / float64(n)
}

// echo4K echoes c with a 4 KiB buffer until EOF or an error.
func echo4K(c net.Conn) {
	buf := make([]byte, 4096)
	for {
		n, err := c.Read(buf)
		if n > 0 {
			if _, err := c.Write(buf[:n]); err != nil {
				return
			}
		}
		if err != nil {
			return
		}
	}
}

// memoryInUse returns the live heap and the goroutine stacks in use, after
// collections that leave only live objects (see heapAlloc).
func memoryInUse() (heap, stacks int64) {
	runtime.GC()
	runtime.GC()
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	return int64(m.HeapAlloc), int64(m.StackInuse)
}

// tlsClientsChild is the client process: it opens the connections, says
// READY, and holds them until its stdin closes.
func tlsClientsChild(arg string) {
	addr, count, _ := cut(arg)
	n, _ := strconv.Atoi(count)
	cfg := &tls.Config{InsecureSkipVerify: true}
	conns := make([]net.Conn, 0, n)
	one := make([]byte, 1)
	for range n {
		c, err := tls.DialWithDialer(&net.Dialer{Timeout: 10 * time.Second}, "tcp", addr, cfg)
		if err != nil {
			fmt.Printf("FAIL dial: %v\n", err)
			os.Exit(1)
		}
		if _, err := c.Write(one); err != nil {
			os.Exit(1)
		}
		if _, err := io.ReadFull(c, one); err != nil {
			os.Exit(1)
		}
		conns = append(conns, c)
	}
	fmt.Println("READY")
	io.Copy(io.Discard, os.Stdin)
	for _, c := range conns {
		c.Close()
	}
	os.Exit(0)
}

// cut splits "addr,n" at its last comma.
func cut(s string) (string, string, bool) {
	for i := len(s) - 1; i >= 0; i-- {
		if s[i] == ',' {
			return s[:i], s[i+1:], true
		}
	}
	return s, "", false
}

// Package clitest holds the test helpers the command packages share: run
// a command in-process, check for leaked goroutines and descriptors, and
// a buffer a process can write while a test polls it. Only tests import
// it.
package clitest

import (
	"bytes"
	"context"
	"os"
	"runtime"
	"sync"
	"testing"
	"time"

	"github.com/epollnet/epollnet/cmd/epollnet/internal/cli"
)

// Run runs a command (or the whole program) with args and a bounded
// context and returns its exit code and output.
func Run(t *testing.T, run cli.RunFunc, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	var out, errOut bytes.Buffer
	code = run(ctx, args, &out, &errOut)
	return code, out.String(), errOut.String()
}

// CheckLeaks fails t if it leaves goroutines or file descriptors behind.
// The command packages' tests do not run in parallel, so the counts are
// the test's own.
func CheckLeaks(t *testing.T) {
	t.Helper()
	g0, fd0 := runtime.NumGoroutine(), OpenFDs(t)
	t.Cleanup(func() {
		deadline := time.Now().Add(2 * time.Second)
		for {
			g, fd := runtime.NumGoroutine(), OpenFDs(t)
			if g <= g0 && fd <= fd0 {
				return
			}
			if time.Now().After(deadline) {
				t.Errorf("leak: %d goroutines (%d before), %d descriptors (%d before)", g, g0, fd, fd0)
				return
			}
			time.Sleep(10 * time.Millisecond)
		}
	})
}

// OpenFDs counts the process's open descriptors.
func OpenFDs(t *testing.T) int {
	entries, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		t.Fatal(err)
	}
	return len(entries)
}

// SyncBuffer is a bytes.Buffer safe for a writer and a polling reader.
type SyncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *SyncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *SyncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

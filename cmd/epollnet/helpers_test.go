package main

import (
	"bytes"
	"context"
	"os"
	"runtime"
	"sync"
	"testing"
	"time"

	"github.com/epollnet/epollnet/cmd/epollnet/internal/tracefmt"
)

// checkLeaks fails t if it leaves goroutines or file descriptors behind.
// The tests of this package do not run in parallel, so the counts are the
// test's own.
func checkLeaks(t *testing.T) {
	t.Helper()
	g0, fd0 := runtime.NumGoroutine(), openFDs(t)
	t.Cleanup(func() {
		deadline := time.Now().Add(2 * time.Second)
		for {
			g, fd := runtime.NumGoroutine(), openFDs(t)
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

func openFDs(t *testing.T) int {
	entries, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		t.Fatal(err)
	}
	return len(entries)
}

// runCLI runs the program with args and a bounded context and returns its
// exit code and output.
func runCLI(t *testing.T, args ...string) (int, string, string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	var stdout, stderr bytes.Buffer
	code := run(ctx, args, &stdout, &stderr)
	return code, stdout.String(), stderr.String()
}

// match names a record a test looks for.
type match struct {
	desc string
	ok   func(tracefmt.Record) bool
}

func m(desc string, ok func(tracefmt.Record) bool) match { return match{desc, ok} }

// inOrder finds records matching ms, each after the previous one, and
// returns them; it fails t with the trace if one is missing.
func inOrder(t *testing.T, recs []tracefmt.Record, ms ...match) []tracefmt.Record {
	t.Helper()
	var found []tracefmt.Record
	i := 0
	for _, want := range ms {
		for i < len(recs) && !want.ok(recs[i]) {
			i++
		}
		if i == len(recs) {
			var b bytes.Buffer
			tracefmt.WriteText(&b, &tracefmt.Diagram{Records: recs}, tracefmt.TextOptions{})
			t.Fatalf("no %q after %d earlier matches in the trace:\n%s", want.desc, len(found), b.String())
		}
		found = append(found, recs[i])
		i++
	}
	return found
}

// is matches records of kind and role with extra conditions.
func is(kind, role string, extra ...func(tracefmt.Record) bool) func(tracefmt.Record) bool {
	return func(r tracefmt.Record) bool {
		if r.Kind != kind || (role != "" && r.Role != role) {
			return false
		}
		for _, f := range extra {
			if !f(r) {
				return false
			}
		}
		return true
	}
}

func errIs(e string) func(tracefmt.Record) bool {
	return func(r tracefmt.Record) bool { return r.Err == e }
}
func nIs(n int) func(tracefmt.Record) bool { return func(r tracefmt.Record) bool { return r.N == n } }
func stateIs(s string) func(tracefmt.Record) bool {
	return func(r tracefmt.Record) bool { return r.TCPState == s }
}
func readyIs(s string) func(tracefmt.Record) bool {
	return func(r tracefmt.Record) bool { return r.Ready == s }
}
func detailIs(s string) func(tracefmt.Record) bool {
	return func(r tracefmt.Record) bool { return r.Detail == s }
}

// syncBuffer is a bytes.Buffer safe for a writer and a polling reader.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

package clitest

import (
	"context"
	"io"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/epollnet/epollnet/cmd/epollnet/internal/cli"
)

// StartServe runs "epollnet serve --quiet args..." through serve, which
// is serve.Run (passed in, so that serve's own tests can use this too),
// and returns the address of its first listener in --target form and
// serve's stderr. The test's cleanup interrupts it and checks that it
// exited cleanly.
func StartServe(t *testing.T, serve cli.RunFunc, args ...string) (string, *SyncBuffer) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	var stderr SyncBuffer
	code := make(chan int, 1)
	go func() { code <- serve(ctx, append([]string{"--quiet"}, args...), io.Discard, &stderr) }()
	t.Cleanup(func() {
		cancel()
		select {
		case c := <-code:
			if c != cli.ExitOK {
				t.Errorf("serve exited %d:\n%s", c, stderr.String())
			}
		case <-time.After(10 * time.Second):
			t.Errorf("serve did not stop:\n%s", stderr.String())
		}
	})
	on := regexp.MustCompile(` on (tcp|unix) (\S+) \(`)
	deadline := time.Now().Add(5 * time.Second)
	for time.Now().Before(deadline) {
		if m := on.FindStringSubmatch(stderr.String()); m != nil && strings.Contains(stderr.String(), " ready") {
			if m[1] == "unix" {
				return "unix:" + m[2], &stderr
			}
			return m[2], &stderr
		}
		select {
		case c := <-code:
			t.Fatalf("serve exited %d:\n%s", c, stderr.String())
		case <-time.After(5 * time.Millisecond):
		}
	}
	t.Fatalf("serve printed no address:\n%s", stderr.String())
	return "", nil
}

package bench

import (
	"io"
	"strings"
	"syscall"
	"testing"
)

// TestConnectionsBeyondTheDescriptorLimitRefused: a -c that RLIMIT_NOFILE
// cannot hold is refused before the run, counting the in-process server's
// side without --target. The soft limit is lowered for the test, so the
// answer does not depend on the machine's.
func TestConnectionsBeyondTheDescriptorLimitRefused(t *testing.T) {
	var old syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &old); err != nil {
		t.Fatal(err)
	}
	if old.Cur < 1024 {
		t.Skipf("RLIMIT_NOFILE is %d, under the 1024 this test sets", old.Cur)
	}
	low := old
	low.Cur = 1024
	if err := syscall.Setrlimit(syscall.RLIMIT_NOFILE, &low); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { syscall.Setrlimit(syscall.RLIMIT_NOFILE, &old) })
	var stderr strings.Builder
	for _, tc := range []struct {
		args []string
		ok   bool
	}{
		{[]string{"-c", "400"}, true},                              // 2×400+64 fits in 1024
		{[]string{"-c", "600"}, false},                             // 2×600+64 does not
		{[]string{"-c", "900", "--target", "127.0.0.1:9"}, true},   // no in-process server
		{[]string{"-c", "1000", "--target", "127.0.0.1:9"}, false}, // 1000+64 does not
	} {
		stderr.Reset()
		_, err := parseBench(tc.args, io.Discard, &stderr)
		if (err == nil) != tc.ok || (!tc.ok && !strings.Contains(stderr.String(), "more than RLIMIT_NOFILE (1024)")) {
			t.Errorf("%q: error %v, stderr %q; want accepted %v", tc.args, err, stderr.String(), tc.ok)
		}
	}
}

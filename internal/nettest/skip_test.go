package nettest

import (
	"os"
	"path/filepath"
	"testing"
)

// isolate gives the test an empty skip record and restores the real one
// after it.
func isolate(t *testing.T) {
	skips.mu.Lock()
	saved, savedHow := skips.count, skips.how
	skips.count, skips.how = nil, nil
	skips.mu.Unlock()
	t.Cleanup(func() {
		skips.mu.Lock()
		skips.count, skips.how = saved, savedHow
		skips.mu.Unlock()
	})
}

// TestSummaryNamesEveryNeed: the line counts skips per missing thing and
// says how to get each.
func TestSummaryNamesEveryNeed(t *testing.T) {
	isolate(t)
	if got := summary(); got != "" {
		t.Fatalf("summary with no skips = %q", got)
	}
	for _, need := range []string{"root", "root", "haproxy"} {
		t.Run(need, func(t *testing.T) { Skip(t, need, "get "+need, "no %s", need) })
	}
	want := "epollnet: 3 tests skipped: 1 for want of haproxy (get haproxy); 2 for want of root (get root)"
	if got := summary(); got != want {
		t.Errorf("summary = %q, want %q", got, want)
	}
}

// TestNeedProgramLooksInSbin: a program outside PATH but in an sbin
// directory (Debian puts haproxy in /usr/sbin) is found; a missing one
// skips and is recorded.
func TestNeedProgramLooksInSbin(t *testing.T) {
	isolate(t)
	found := ""
	for _, dir := range sbinDirs {
		entries, _ := os.ReadDir(dir)
		for _, e := range entries {
			if fi, err := e.Info(); err == nil && fi.Mode().IsRegular() && fi.Mode()&0o111 != 0 {
				found = filepath.Join(dir, e.Name())
				break
			}
		}
		if found != "" {
			break
		}
	}
	if found == "" {
		t.Skip("no program in any sbin directory to look up")
	}
	t.Setenv("PATH", t.TempDir())
	if got := NeedProgram(t, filepath.Base(found), "x"); got != found {
		t.Errorf("NeedProgram(%q) = %q, want %q", filepath.Base(found), got, found)
	}
	var skipped bool
	t.Run("missing", func(t *testing.T) {
		defer func() { skipped = t.Skipped() }()
		NeedProgram(t, "epollnet-no-such-program", "nothing")
	})
	if !skipped || summary() == "" {
		t.Errorf("a missing program: skipped %v, summary %q", skipped, summary())
	}
}

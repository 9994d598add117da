package nettest

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"testing"
)

// skips counts the tests skipped for want of something the machine could
// have (root, a program), keyed by what was missing, so that Main can say
// in one line what did not run and how to run it.
var skips struct {
	mu    sync.Mutex
	count map[string]int
	how   map[string]string
}

// Skip skips t for want of need ("root", "haproxy"), recording it for the
// summary Main prints; how says what would make the test run.
func Skip(t testing.TB, need, how, format string, args ...any) {
	t.Helper()
	skips.mu.Lock()
	if skips.count == nil {
		skips.count, skips.how = map[string]int{}, map[string]string{}
	}
	skips.count[need]++
	skips.how[need] = how
	skips.mu.Unlock()
	t.Skipf(format, args...)
}

// sbinDirs hold programs such as haproxy that Debian installs outside an
// ordinary user's PATH.
var sbinDirs = []string{"/usr/local/sbin", "/usr/sbin", "/sbin"}

// NeedProgram returns the path of the program name, looked up in PATH and
// then in the sbin directories, or skips t saying which Debian package
// provides it.
func NeedProgram(t testing.TB, name, debianPackage string) string {
	t.Helper()
	if path, err := exec.LookPath(name); err == nil {
		return path
	}
	for _, dir := range sbinDirs {
		path := filepath.Join(dir, name)
		if fi, err := os.Stat(path); err == nil && fi.Mode().IsRegular() && fi.Mode()&0o111 != 0 {
			return path
		}
	}
	Skip(t, name, "apt-get install "+debianPackage, "%s is not installed (Debian package %s)", name, debianPackage)
	return ""
}

// Main runs the tests, then prints one line naming what skipped tests
// lacked and how to run them, if any did. Use it as the package's
// TestMain: os.Exit(nettest.Main(m)). The go command shows the line with
// -v, when the package fails, or when it runs one package in its
// directory.
func Main(m *testing.M) int {
	code := m.Run()
	if line := summary(); line != "" {
		fmt.Println(line)
	}
	return code
}

// summary is Main's line, or "" when nothing was skipped for a reason.
func summary() string {
	skips.mu.Lock()
	defer skips.mu.Unlock()
	if len(skips.count) == 0 {
		return ""
	}
	needs := make([]string, 0, len(skips.count))
	total := 0
	for need, n := range skips.count {
		needs = append(needs, need)
		total += n
	}
	sort.Strings(needs)
	parts := make([]string, len(needs))
	for i, need := range needs {
		parts[i] = fmt.Sprintf("%d for want of %s (%s)", skips.count[need], need, skips.how[need])
	}
	return fmt.Sprintf("epollnet: %s skipped: %s", tests(total), strings.Join(parts, "; "))
}

func tests(n int) string {
	if n == 1 {
		return "1 test"
	}
	return fmt.Sprintf("%d tests", n)
}

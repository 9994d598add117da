package trace

import (
	"strings"
	"testing"

	"github.com/epollnet/epollnet/cmd/epollnet/internal/cli"
)

// TestTraceListNamesEveryScenario checks --list: one line per scenario,
// each known to the runner, root ones marked.
func TestTraceListNamesEveryScenario(t *testing.T) {
	code, stdout, _ := runCLI(t, "--list")
	lines := strings.Split(strings.TrimSpace(stdout), "\n")
	if code != cli.ExitOK || len(lines) != len(scenarios) {
		t.Fatalf("exit %d, %d lines for %d scenarios:\n%s", code, len(lines), len(scenarios), stdout)
	}
	for i, sc := range scenarios {
		if !strings.HasPrefix(lines[i], sc.name+" ") {
			t.Errorf("line %d = %q, want it to start with %q", i, lines[i], sc.name)
		}
		if strings.HasSuffix(lines[i], "(root)") != sc.root {
			t.Errorf("line %q: root marker wrong", lines[i])
		}
	}
}

// TestNeedRootMessage checks the refusal a non-root user gets for the
// namespace scenarios, and that the others never need root.
func TestNeedRootMessage(t *testing.T) {
	for _, sc := range scenarios {
		err := needRoot(findScenario(sc.name), 1000)
		if (err != nil) != sc.root {
			t.Errorf("%s: needRoot(uid 1000) = %v, root scenario %v", sc.name, err, sc.root)
		}
		if err != nil && (!strings.Contains(err.Error(), "sudo") || !strings.Contains(err.Error(), "namespace")) {
			t.Errorf("%s: message %q does not say why and what to do", sc.name, err)
		}
		if err := needRoot(findScenario(sc.name), 0); err != nil {
			t.Errorf("%s: refused for root: %v", sc.name, err)
		}
	}
	if findScenario("ok").root {
		t.Fatal("the default scenario needs root; the README's quick start must work without")
	}
}

package main

import (
	"strings"
	"testing"
)

// TestRunUsage covers the dispatcher and flag parsing: help goes to stdout
// with status 0, mistakes to stderr with status 2 and a line saying what
// is wrong.
func TestRunUsage(t *testing.T) {
	for _, tc := range []struct {
		args       []string
		code       int
		stdout     string // a phrase expected on stdout
		stderr     string // a phrase expected on stderr
		quietStdio bool   // nothing at all on stdout
	}{
		{args: nil, code: exitUsage, stderr: "Usage:", quietStdio: true},
		{args: []string{"help"}, code: exitOK, stdout: "Commands:"},
		{args: []string{"--help"}, code: exitOK, stdout: "trace"},
		{args: []string{"help", "trace"}, code: exitOK, stdout: "--scenario NAME"},
		{args: []string{"help", "nope"}, code: exitUsage, stderr: `unknown command "nope"`, quietStdio: true},
		{args: []string{"nope"}, code: exitUsage, stderr: `unknown command "nope"`, quietStdio: true},
		{args: []string{"trace", "-h"}, code: exitOK, stdout: "Usage: epollnet trace"},
		{args: []string{"trace", "--bogus"}, code: exitUsage, stderr: "flag provided but not defined: -bogus", quietStdio: true},
		{args: []string{"trace", "extra"}, code: exitUsage, stderr: `unexpected argument "extra"`, quietStdio: true},
		{args: []string{"trace", "--scenario", "nope"}, code: exitUsage, stderr: `unknown scenario "nope"`, quietStdio: true},
		{args: []string{"trace", "--scenario", "ok", "--target", "127.0.0.1:1"}, code: exitUsage, stderr: "exclude each other", quietStdio: true},
		{args: []string{"trace", "--send", "x"}, code: exitUsage, stderr: "--send needs --target", quietStdio: true},
		{args: []string{"trace", "--color", "sometimes"}, code: exitUsage, stderr: "want auto, always or never", quietStdio: true},
		{args: []string{"trace", "--json", "--color", "always"}, code: exitUsage, stderr: "not to --json", quietStdio: true},
		{args: []string{"trace", "--target", "x:1", "--timeout", "0s"}, code: exitUsage, stderr: "--timeout must be positive", quietStdio: true},
	} {
		t.Run(strings.Join(tc.args, " "), func(t *testing.T) {
			code, stdout, stderr := runCLI(t, tc.args...)
			if code != tc.code {
				t.Errorf("exit %d, want %d\nstdout:\n%s\nstderr:\n%s", code, tc.code, stdout, stderr)
			}
			if !strings.Contains(stdout, tc.stdout) {
				t.Errorf("stdout lacks %q:\n%s", tc.stdout, stdout)
			}
			if !strings.Contains(stderr, tc.stderr) {
				t.Errorf("stderr lacks %q:\n%s", tc.stderr, stderr)
			}
			if tc.quietStdio && stdout != "" {
				t.Errorf("a usage error printed to stdout:\n%s", stdout)
			}
		})
	}
}

// TestTraceListNamesEveryScenario checks --list: one line per scenario,
// each known to the runner, root ones marked.
func TestTraceListNamesEveryScenario(t *testing.T) {
	code, stdout, _ := runCLI(t, "trace", "--list")
	lines := strings.Split(strings.TrimSpace(stdout), "\n")
	if code != exitOK || len(lines) != len(scenarios) {
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

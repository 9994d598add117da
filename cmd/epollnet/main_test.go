package main

import (
	"strings"
	"testing"

	"github.com/epollnet/epollnet/cmd/epollnet/internal/cli"
	"github.com/epollnet/epollnet/cmd/epollnet/internal/clitest"
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
		{args: nil, code: cli.ExitUsage, stderr: "Usage:", quietStdio: true},
		{args: []string{"help"}, code: cli.ExitOK, stdout: "Commands:"},
		{args: []string{"--help"}, code: cli.ExitOK, stdout: "trace"},
		{args: []string{"help", "trace"}, code: cli.ExitOK, stdout: "--scenario NAME"},
		{args: []string{"help", "nope"}, code: cli.ExitUsage, stderr: `unknown command "nope"`, quietStdio: true},
		{args: []string{"nope"}, code: cli.ExitUsage, stderr: `unknown command "nope"`, quietStdio: true},
		{args: []string{"trace", "-h"}, code: cli.ExitOK, stdout: "Usage: epollnet trace"},
		{args: []string{"trace", "--bogus"}, code: cli.ExitUsage, stderr: "flag provided but not defined: -bogus", quietStdio: true},
		{args: []string{"trace", "extra"}, code: cli.ExitUsage, stderr: `unexpected argument "extra"`, quietStdio: true},
		{args: []string{"trace", "--scenario", "nope"}, code: cli.ExitUsage, stderr: `unknown scenario "nope"`, quietStdio: true},
		{args: []string{"trace", "--scenario", "ok", "--target", "127.0.0.1:1"}, code: cli.ExitUsage, stderr: "exclude each other", quietStdio: true},
		{args: []string{"trace", "--send", "x"}, code: cli.ExitUsage, stderr: "--send needs --target", quietStdio: true},
		{args: []string{"trace", "--color", "sometimes"}, code: cli.ExitUsage, stderr: "want auto, always or never", quietStdio: true},
		{args: []string{"trace", "--json", "--color", "always"}, code: cli.ExitUsage, stderr: "not to --json", quietStdio: true},
		{args: []string{"trace", "--target", "x:1", "--timeout", "0s"}, code: cli.ExitUsage, stderr: "--timeout must be positive", quietStdio: true},
	} {
		t.Run(strings.Join(tc.args, " "), func(t *testing.T) {
			code, stdout, stderr := clitest.Run(t, run, tc.args...)
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

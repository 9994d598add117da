// Package cli holds what the epollnet commands share: exit codes, the
// one way each parses its flags and reports a bad command line, the
// process wrapper (signals), and the number formats of their reports.
package cli

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strings"
	"syscall"
)

// Exit codes of every command.
const (
	ExitOK    = 0
	ExitFail  = 1 // the command ran and failed
	ExitUsage = 2 // bad command line
)

// ErrUsage marks a command line that did not parse or makes no sense; the
// reason has been printed.
var ErrUsage = errors.New("usage error")

// RunFunc is a command, or the whole program, minus process setup: it
// parses args (without the program or command name) and returns the exit
// code. Tests call it directly.
type RunFunc func(ctx context.Context, args []string, stdout, stderr io.Writer) int

// Process runs run as the whole process: SIGINT and SIGTERM cancel its
// context. It returns the exit code for os.Exit.
func Process(run RunFunc, args []string) int {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	return run(ctx, args, os.Stdout, os.Stderr)
}

// NewFlagSet returns the flag set of "epollnet <command>". It prints
// nothing by itself: Parse decides what goes where.
func NewFlagSet(command string) *flag.FlagSet {
	fs := flag.NewFlagSet("epollnet "+command, flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	fs.Usage = func() {}
	return fs
}

// Parse parses args with fs, made by NewFlagSet. For -h or --help it
// prints usage once, to stdout, and returns flag.ErrHelp; for a flag that
// does not parse it prints a one-line reason to stderr (see Usagef) and
// returns ErrUsage.
func Parse(fs *flag.FlagSet, args []string, usage func(io.Writer), stdout, stderr io.Writer) error {
	err := fs.Parse(args)
	switch {
	case err == nil:
		return nil
	case errors.Is(err, flag.ErrHelp):
		usage(stdout)
		return err
	default:
		return Usagef(fs, stderr, "%v", err)
	}
}

// Usagef reports a bad command line of fs's command on stderr, one line
// with the reason and a pointer to the help, and returns ErrUsage.
func Usagef(fs *flag.FlagSet, stderr io.Writer, format string, args ...any) error {
	command := strings.TrimPrefix(fs.Name(), "epollnet ")
	fmt.Fprintf(stderr, "%s: %s\n\nRun \"epollnet help %s\" for usage.\n", fs.Name(), fmt.Sprintf(format, args...), command)
	return ErrUsage
}

// ParseExit turns a Parse error into the command's exit, if it must exit:
// 0 after help, 2 after a bad command line.
func ParseExit(err error) (code int, exit bool) {
	switch {
	case err == nil:
		return ExitOK, false
	case errors.Is(err, flag.ErrHelp):
		return ExitOK, true
	default:
		return ExitUsage, true
	}
}

// StringList is a flag that may be repeated; each use appends.
type StringList []string

func (l *StringList) String() string { return strings.Join(*l, ",") }

// Set appends s.
func (l *StringList) Set(s string) error { *l = append(*l, s); return nil }

package trace

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"github.com/epollnet/epollnet/cmd/epollnet/internal/cli"
)

// colorMode is the --color flag.
type colorMode string

const (
	colorAuto   colorMode = "auto"
	colorAlways colorMode = "always"
	colorNever  colorMode = "never"
)

func (m *colorMode) String() string { return string(*m) }

func (m *colorMode) Set(s string) error {
	switch colorMode(s) {
	case colorAuto, colorAlways, colorNever:
		*m = colorMode(s)
		return nil
	}
	return errors.New("want auto, always or never")
}

// traceOptions is the parsed command line of "epollnet trace".
type traceOptions struct {
	scenario string        // --scenario, default "ok"
	list     bool          // --list: name the scenarios and exit
	target   string        // --target HOST:PORT: trace a dial to a real server
	listen   string        // --listen ADDR: trace incoming connections until interrupted
	send     string        // --send TEXT: what --target sends once connected
	timeout  time.Duration // --timeout: the dial deadline for --target
	json     bool          // --json: one JSON object per event instead of the diagram
	svg      string        // --svg FILE: also draw the diagram as SVG
	color    colorMode     // --color
}

// parseTrace parses trace's flags. It returns flag.ErrHelp for -h, and
// cli.ErrUsage, after printing why, for a bad command line.
func parseTrace(args []string, stdout, stderr io.Writer) (traceOptions, error) {
	o := traceOptions{scenario: "ok", timeout: 5 * time.Second, color: colorAuto}
	fs := cli.NewFlagSet("trace")
	fs.StringVar(&o.scenario, "scenario", o.scenario, "")
	fs.BoolVar(&o.list, "list", false, "")
	fs.StringVar(&o.target, "target", "", "")
	fs.StringVar(&o.listen, "listen", "", "")
	fs.StringVar(&o.send, "send", "", "")
	fs.DurationVar(&o.timeout, "timeout", o.timeout, "")
	fs.BoolVar(&o.json, "json", false, "")
	fs.StringVar(&o.svg, "svg", "", "")
	fs.Var(&o.color, "color", "")
	if err := cli.Parse(fs, args, Usage, stdout, stderr); err != nil {
		return o, err
	}
	if err := o.validate(fs); err != nil {
		return o, cli.Usagef(fs, stderr, "%v", err)
	}
	return o, nil
}

// validate checks what the flag package cannot: exclusive modes and
// arguments that only make sense together.
func (o *traceOptions) validate(fs *flag.FlagSet) error {
	if fs.NArg() > 0 {
		return fmt.Errorf("unexpected argument %q (trace takes flags only)", fs.Arg(0))
	}
	set := map[string]bool{}
	fs.Visit(func(f *flag.Flag) { set[f.Name] = true })
	modes := 0
	for _, m := range []string{"scenario", "target", "listen"} {
		if set[m] {
			modes++
		}
	}
	switch {
	case modes > 1:
		return errors.New("--scenario, --target and --listen exclude each other")
	case !o.list && findScenario(o.scenario) == nil:
		return fmt.Errorf("unknown scenario %q; --list names them", o.scenario)
	case set["send"] && o.target == "":
		return errors.New("--send needs --target")
	case o.timeout <= 0:
		return errors.New("--timeout must be positive")
	case o.json && set["color"]:
		return errors.New("--color applies to the diagram, not to --json")
	}
	return nil
}

// colorFor decides whether the text diagram gets ANSI colours: always,
// never, or in auto mode only on a terminal, unless NO_COLOR is set
// (no-color.org) or the terminal is dumb.
func (o *traceOptions) colorFor(w io.Writer) bool {
	switch o.color {
	case colorAlways:
		return true
	case colorNever:
		return false
	}
	if os.Getenv("NO_COLOR") != "" || os.Getenv("TERM") == "dumb" {
		return false
	}
	f, ok := w.(*os.File)
	if !ok {
		return false
	}
	st, err := f.Stat()
	return err == nil && st.Mode()&os.ModeCharDevice != 0
}

// Usage prints the help of "epollnet trace".
func Usage(w io.Writer) {
	fmt.Fprint(w, strings.TrimLeft(`
Usage: epollnet trace [flags]

Runs a client and a server in this process on loopback, records every
system call result and readiness change the epollnet engine sees, and draws
them as a client/server sequence diagram with times in milliseconds, the
kernel's TCP states, and the packets in between. A footer says where the
events contradict or complete the common picture of non-blocking connect()
and accept() (docs/kernel.md describes each case).

Modes (pick one):
  --scenario NAME   what to run (default ok); --list names them all
  --target HOST:PORT
                    trace a dial to a real server (client column only)
  --listen ADDR     trace incoming connections on ADDR (host:port, or a
                    Unix socket path containing "/") until interrupted

Flags:
  --list            name the scenarios, one per line, and exit
  --send TEXT       with --target: send TEXT once connected, then wait for
                    the first reply or EOF before closing
  --timeout D       with --target: dial deadline (default 5s)
  --json            print one JSON object per event (see docs/trace.md)
  --svg FILE        also write the diagram as an SVG picture to FILE
  --color WHEN      colour the diagram: auto (default: only on a
                    terminal, unless NO_COLOR is set), always or never

Scenarios marked "root" build a private network namespace with nftables
rules (no traffic leaves it) and need root; the others run as any user.

Examples:
  epollnet trace
  epollnet trace --scenario refused
  sudo epollnet trace --scenario ack-dropped --svg ack.svg
  epollnet trace --json | jq -c 'select(.kind == "ready")'
`, "\n"))
}

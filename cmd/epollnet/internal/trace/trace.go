package trace

import (
	"context"
	"errors"
	"fmt"
	"io"

	"github.com/epollnet/epollnet/cmd/epollnet/internal/cli"
	"github.com/epollnet/epollnet/cmd/epollnet/internal/tracefmt"
)

// Run is "epollnet trace": args are the command's, without its name.
func Run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	o, err := parseTrace(args, stdout, stderr)
	if code, exit := cli.ParseExit(err); exit {
		return code
	}
	if o.list {
		listScenarios(stdout)
		return cli.ExitOK
	}
	out := &output{o: o, w: stdout, color: o.colorFor(stdout)}
	d, err := traceRun(ctx, o, out)
	if err == nil {
		err = out.finish(d)
	}
	if err != nil {
		if ctx.Err() != nil && errors.Is(err, context.Canceled) {
			err = errors.New("interrupted")
		}
		fmt.Fprintf(stderr, "epollnet trace: %v\n", err)
		return cli.ExitFail
	}
	if o.svg != "" {
		fmt.Fprintf(stderr, "epollnet trace: wrote %s\n", o.svg)
	}
	return cli.ExitOK
}

// output renders a trace in the format the flags chose: the text diagram
// or JSON on w, and perhaps an SVG file. A live trace (--listen) streams
// records as they come; the others are drawn once complete.
type output struct {
	o     traceOptions
	w     io.Writer
	color bool
	live  bool
	tw    *tracefmt.TextWriter
	enc   *tracefmt.JSONEncoder
}

// startLive begins a streamed trace of d, whose Records stay empty.
func (out *output) startLive(d *tracefmt.Diagram) error {
	out.live = true
	if out.o.json {
		out.enc = tracefmt.NewJSONEncoder(out.w)
		return nil
	}
	out.tw = tracefmt.NewTextWriter(out.w, d, tracefmt.TextOptions{Color: out.color})
	return out.tw.Header()
}

// record writes one record of a live trace.
func (out *output) record(r tracefmt.Record) error {
	if out.enc != nil {
		return out.enc.Encode(r)
	}
	return out.tw.Record(r)
}

// finish writes what remains once the trace is complete: everything, or
// for a live trace the footer, and the SVG file.
func (out *output) finish(d *tracefmt.Diagram) error {
	var err error
	switch {
	case out.live && out.tw != nil:
		err = out.tw.Footer(d.Findings)
	case out.live:
	case out.o.json:
		err = tracefmt.WriteJSON(out.w, d.Records)
	default:
		err = tracefmt.WriteText(out.w, d, tracefmt.TextOptions{Color: out.color})
	}
	if err != nil || out.o.svg == "" {
		return err
	}
	return writeSVG(out.o.svg, d)
}

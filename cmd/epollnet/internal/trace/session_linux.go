//go:build !epollnet_portable

package trace

import (
	"context"
	"errors"
	"fmt"
	"os"
	"time"

	"github.com/epollnet/epollnet"
	"github.com/epollnet/epollnet/cmd/epollnet/internal/tracefmt"
)

// Bounds on a trace, so that nothing the CLI starts can run away: the
// slowest scenario (backlog-full) needs about 1.1 s.
const (
	scenarioTimeout = 10 * time.Second
	shutdownTimeout = 2 * time.Second
)

// session is one traced engine: the recorder that is its Tracer, the
// diagram being described, and the cleanups to run after Shutdown.
type session struct {
	eng      *epollnet.Engine
	rec      *recorder
	d        *tracefmt.Diagram
	closes   chan struct{} // one value per closed connection
	cleanups []func()
}

// newSession starts an engine with one loop, so the trace is the order in
// which one epoll_wait loop saw things, with the recorder as its Tracer.
func newSession(title string) (*session, error) {
	rec := newRecorder()
	eng, err := epollnet.New(epollnet.Options{Loops: 1, Tracer: rec.trace, LingerTimeout: time.Second})
	if err != nil {
		return nil, err
	}
	return &session{eng: eng, rec: rec, d: &tracefmt.Diagram{Title: title},
		closes: make(chan struct{}, 64)}, nil
}

// note adds a remark to the diagram.
func (s *session) note(side, format string, args ...any) {
	s.rec.note(side, fmt.Sprintf(format, args...))
}

// cleanup registers f to run after the engine has shut down.
func (s *session) cleanup(f func()) { s.cleanups = append(s.cleanups, f) }

// waitCloses waits until n connections have closed.
func (s *session) waitCloses(ctx context.Context, n int) error {
	for range n {
		select {
		case <-s.closes:
		case <-ctx.Done():
			return fmt.Errorf("waiting for connections to close: %w", ctx.Err())
		}
	}
	return nil
}

// sleep waits d unless ctx ends first. Scenarios use it for delays that
// are part of the story ("a slow server"), never to synchronise.
func sleep(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// finish shuts the engine down, runs the cleanups and completes the
// diagram. err is the scenario's error; a shutdown failure is added to it.
func (s *session) finish(err error) (*tracefmt.Diagram, error) {
	ctx, cancel := context.WithTimeout(context.Background(), shutdownTimeout)
	defer cancel()
	if serr := s.eng.Shutdown(ctx); serr != nil {
		err = errors.Join(err, fmt.Errorf("engine shutdown: %w", serr))
	}
	for i := len(s.cleanups) - 1; i >= 0; i-- {
		s.cleanups[i]()
	}
	if err != nil {
		return nil, err
	}
	s.d.Records = s.rec.records()
	s.d.Findings = tracefmt.Findings(s.d.Records)
	return s.d, nil
}

// traceRun runs what the options ask for and returns the diagram.
func traceRun(ctx context.Context, o traceOptions, out *output) (*tracefmt.Diagram, error) {
	switch {
	case o.target != "":
		return traceTarget(ctx, o)
	case o.listen != "":
		return traceListen(ctx, o, out)
	}
	return traceScenario(ctx, findScenario(o.scenario))
}

// traceScenario runs one scenario, bounded by scenarioTimeout.
func traceScenario(ctx context.Context, sc *scenario) (*tracefmt.Diagram, error) {
	if err := needRoot(sc, os.Geteuid()); err != nil {
		return nil, err
	}
	s, err := newSession("epollnet trace · scenario " + sc.name)
	if err != nil {
		return nil, err
	}
	ctx, cancel := context.WithTimeout(ctx, scenarioTimeout)
	defer cancel()
	err = scenarioRuns[sc.name](ctx, s)
	if err != nil {
		err = fmt.Errorf("scenario %s: %w", sc.name, err)
	}
	return s.finish(err)
}

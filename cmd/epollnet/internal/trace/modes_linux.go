//go:build !epollnet_portable

package trace

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/epollnet/epollnet"
	"github.com/epollnet/epollnet/cmd/epollnet/internal/tracefmt"
)

// traceTarget traces one dial to a server of the user's choosing: connect,
// perhaps send --send and wait for the first reply, close. Only the client
// side is traced; the server is whatever answers.
func traceTarget(ctx context.Context, o traceOptions) (*tracefmt.Diagram, error) {
	s, err := newSession("epollnet trace · " + o.target)
	if err != nil {
		return nil, err
	}
	s.d.Server = "server (not traced)"
	s.d.Subtitle = fmt.Sprintf("Dial %s with a %v deadline", o.target, o.timeout)
	cl := &client{closeOnOpen: true, closes: s.closes}
	if o.send != "" {
		s.d.Subtitle += fmt.Sprintf(", send %q, wait for the first reply or EOF", o.send)
		cl = &client{request: o.send, closeOnReply: true, replyTimeout: o.timeout, closes: s.closes}
	}
	s.d.Subtitle += ", close."
	cfg := &epollnet.DialConfig{Timeout: o.timeout}
	ctx, cancel := context.WithTimeout(ctx, 2*o.timeout+scenarioTimeout)
	defer cancel()
	_, err = s.eng.DialAsync(networkOf(o.target), o.target, cl, cfg)
	if err == nil {
		err = s.waitCloses(ctx, 1)
	}
	return s.finish(err)
}

// traceListen traces every connection to a listener on o.listen until ctx
// ends (SIGINT), printing each event as it happens.
func traceListen(ctx context.Context, o traceOptions, out *output) (*tracefmt.Diagram, error) {
	s, err := newSession("")
	if err != nil {
		return nil, err
	}
	// Events are queued from the start but printed only after the header,
	// which names the address the kernel chose for port 0.
	live := make(chan tracefmt.Record, 1024)
	s.rec.setLive(live)
	ln, err := s.eng.Listen(networkOf(o.listen), o.listen, &server{mode: sink, closes: s.closes}, nil)
	if err != nil {
		return s.finishLive(err, live, nil)
	}
	s.d.Title = "epollnet trace · listening on " + ln.Addr().String()
	s.d.Client = "clients (not traced)"
	s.d.Subtitle = "Every connection is read and closed after the client's FIN. Interrupt (Ctrl-C) to stop."
	if err := out.startLive(s.d); err != nil {
		return s.finishLive(err, live, nil)
	}
	done := make(chan error, 1)
	go func() {
		var err error
		for r := range live {
			if err == nil {
				err = out.record(r)
			}
		}
		done <- err
	}()
	<-ctx.Done()
	return s.finishLive(nil, live, done)
}

// finishLive shuts the session down while its last events still stream,
// then ends the stream and waits for the printer, if it was started.
func (s *session) finishLive(err error, live chan tracefmt.Record, done <-chan error) (*tracefmt.Diagram, error) {
	d, err := s.finish(err)
	s.rec.setLive(nil)
	close(live)
	if done != nil {
		err = errors.Join(err, <-done)
	}
	return d, err
}

// networkOf tells a Unix socket path from host:port.
func networkOf(addr string) string {
	if strings.Contains(addr, "/") {
		return "unix"
	}
	return "tcp"
}

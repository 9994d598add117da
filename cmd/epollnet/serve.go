package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"time"

	"github.com/epollnet/epollnet"
)

// runServe is "epollnet serve".
func runServe(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	o, err := parseServe(args, stderr)
	switch {
	case errors.Is(err, flag.ErrHelp):
		serveUsage(stdout)
		return exitOK
	case err != nil:
		return exitUsage
	}
	if err := serve(ctx, o, stderr); err != nil {
		fmt.Fprintf(stderr, "epollnet serve: %v\n", err)
		return exitFail
	}
	return exitOK
}

// runningServer is a running "serve": an engine, its listeners and its handler's
// counters. The bench command starts one in-process when it has no target.
type runningServer struct {
	o   serveOptions
	eng *epollnet.Engine
	lns []*epollnet.Listener
	st  *serveStats
}

// startServer starts an engine serving o.proto on every o.listen address.
func startServer(o serveOptions) (*runningServer, error) {
	high := o.maxWriteBuffer / 4
	eng, err := epollnet.New(epollnet.Options{
		Loops:          o.loops,
		ReadBufferSize: serveReadSize,
		MaxReadBuffer:  o.maxReadBuffer,
		MaxWriteBuffer: o.maxWriteBuffer,
		WriteHighWater: high,
		WriteLowWater:  high / 4,
		IdleTimeout:    o.idleTimeout,
	})
	if err != nil {
		return nil, err
	}
	maxConns := o.maxConns
	if maxConns == 0 {
		maxConns = defaultMaxConns(eng.Loops(), len(o.listen))
	}
	st := newServeStats(eng.Loops(), int64(maxConns))
	st.writeHigh, st.writeLow = high, high/4
	var h epollnet.Handler
	switch o.proto {
	case protoEcho:
		h = &echoServer{serveBase{st}}
	case protoDiscard:
		h = &discardServer{serveBase{st}}
	default:
		h = newHTTPServer(st, eng.Loops(), o)
	}
	s := &runningServer{o: o, eng: eng, st: st}
	for _, a := range o.listen {
		network, address, err := splitAddr(a)
		if err == nil {
			var ln *epollnet.Listener
			ln, err = eng.Listen(network, address, h, &epollnet.ListenConfig{ReusePort: o.reusePort})
			s.lns = append(s.lns, ln)
		}
		if err != nil {
			eng.Close()
			return nil, err
		}
	}
	return s, nil
}

// addrs returns the listeners' addresses, with the ports the kernel chose.
func (s *runningServer) addrs() []net.Addr {
	var as []net.Addr
	for _, ln := range s.lns {
		as = append(as, ln.Addr())
	}
	return as
}

// shutdown stops accepting, lets connections flush and close for up to
// timeout, then resets the rest.
func (s *runningServer) shutdown(timeout time.Duration) error {
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	err := s.eng.Shutdown(ctx)
	if errors.Is(err, context.DeadlineExceeded) {
		return fmt.Errorf("connections still open after --shutdown-timeout %v were reset", timeout)
	}
	return err
}

// serve runs the server until ctx ends (SIGINT, SIGTERM), printing where it
// listens, then a status line every o.statusInterval unless o.quiet.
func serve(ctx context.Context, o serveOptions, stderr io.Writer) error {
	s, err := startServer(o)
	if err != nil {
		return err
	}
	for _, a := range s.addrs() {
		fmt.Fprintf(stderr, "epollnet serve: %s on %s %s (%d loops, max %d connections)\n",
			o.proto, a.Network(), a, s.eng.Loops(), s.st.maxConns)
	}
	s.statusLoop(ctx, stderr)
	fmt.Fprintf(stderr, "epollnet serve: shutting down, %d connections open\n", s.st.open.Load())
	err = s.shutdown(o.shutdownTimeout)
	total := s.eng.Stats().Total
	fmt.Fprintf(stderr, "epollnet serve: %d connections served, %d refused; %d %s; %s in, %s out\n",
		total.Opened, s.st.refused.Load(), s.st.ops(), s.opsName(), mib(total.BytesIn), mib(total.BytesOut))
	return err
}

// opsName names what stats.ops counts.
func (s *runningServer) opsName() string {
	if s.o.proto == protoHTTP {
		return "requests"
	}
	return "reads"
}

// statusLoop prints a status line every interval until ctx ends.
func (s *runningServer) statusLoop(ctx context.Context, w io.Writer) {
	if s.o.quiet {
		<-ctx.Done()
		return
	}
	t := time.NewTicker(s.o.statusInterval)
	defer t.Stop()
	prev, prevOps, prevAt := s.eng.Stats().Total, s.st.ops(), time.Now()
	for {
		select {
		case <-ctx.Done():
			return
		case now := <-t.C:
			cur, ops := s.eng.Stats().Total, s.st.ops()
			secs := now.Sub(prevAt).Seconds()
			line := fmt.Sprintf("epollnet serve: %s conns %d | %.0f %s/s | in %s/s out %s/s",
				now.Format("15:04:05"), s.st.open.Load(), float64(ops-prevOps)/secs, s.opsName(),
				mib(uint64(float64(cur.BytesIn-prev.BytesIn)/secs)),
				mib(uint64(float64(cur.BytesOut-prev.BytesOut)/secs)))
			if r := s.st.refused.Load(); r > 0 {
				line += fmt.Sprintf(" | refused %d", r)
			}
			if s.o.proto == protoHTTP {
				line += fmt.Sprintf(" | bad requests %d, timeouts %d", s.st.badReqs.Load(), s.st.timeouts.Load())
			}
			fmt.Fprintln(w, line)
			prev, prevOps, prevAt = cur, ops, now
		}
	}
}

// mib formats a byte count in MiB with two decimals.
func mib(b uint64) string { return fmt.Sprintf("%.2f MiB", float64(b)/(1<<20)) }

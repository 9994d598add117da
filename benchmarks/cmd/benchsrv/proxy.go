package main

import (
	"errors"
	"io"
	"net"

	"github.com/epollnet/epollnet"
)

// The proxies relay every connection to one backend (-backend), bytes both
// ways until both ends closed, a FIN passed on as a FIN. They are what
// runbench's proxy scenarios compare with HAProxy and nginx, the C echo
// server behind them.

func init() {
	servers["proxy"] = map[string]serveFunc{
		"epollnet":        epollnetProxy,
		"epollnet-splice": epollnetSpliceProxy,
		"net":             netProxy,
	}
}

// epollnetRelay dials the backend on the accepted connection's own loop and
// joins the two with Pipe at once: what the client sends while the dial is
// under way waits in the upstream's output.
type epollnetRelay struct {
	epollnet.BaseHandler
	backend string
	pipe    *epollnet.PipeConfig
}

func (p epollnetRelay) OnOpen(down *epollnet.Conn) {
	up, err := down.DialAsync("tcp", p.backend, epollnet.BaseHandler{}, nil)
	if err == nil {
		err = epollnet.Pipe(down, up, p.pipe)
	}
	if err != nil {
		down.Abort()
	}
}

func epollnetProxy(cfg config, _ chan<- error) error { return epollnetRelayServe(cfg, nil) }

// epollnetSpliceProxy relays through kernel pipes with splice(2)
// (PipeConfig.Splice) instead of copying through user space.
func epollnetSpliceProxy(cfg config, _ chan<- error) error {
	return epollnetRelayServe(cfg, &epollnet.PipeConfig{Splice: true})
}

func epollnetRelayServe(cfg config, pipe *epollnet.PipeConfig) error {
	if cfg.backend == "" {
		return errNoBackend
	}
	e, err := epollnet.New(epollnet.Options{Loops: cfg.loops})
	if err != nil {
		return err
	}
	h := epollnetRelay{backend: cfg.backend, pipe: pipe}
	_, err = e.Listen("tcp", cfg.addr, h, &epollnet.ListenConfig{ReusePort: cfg.loops > 1 && !cfg.oneListener})
	return err
}

var errNoBackend = errors.New("-proto proxy needs -backend HOST:PORT")

// netProxy is the net package's proxy: a goroutine per direction, each an
// io.Copy between two *net.TCPConn, which splices on Linux (TCPConn's
// ReadFrom moves the bytes through a pipe without copying them to user
// space).
func netProxy(cfg config, errc chan<- error) error {
	if cfg.backend == "" {
		return errNoBackend
	}
	ln, err := net.Listen("tcp", cfg.addr)
	if err != nil {
		return err
	}
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				errc <- err
				return
			}
			go netRelay(c.(*net.TCPConn), cfg.backend)
		}
	}()
	return nil
}

// netRelay dials the backend and copies both ways; each direction passes
// its EOF on with CloseWrite, and the last one to end closes both.
func netRelay(down *net.TCPConn, backend string) {
	c, err := net.Dial("tcp", backend)
	if err != nil {
		down.Close()
		return
	}
	up := c.(*net.TCPConn)
	done := make(chan struct{})
	go func() {
		netCopy(up, down)
		close(done)
	}()
	netCopy(down, up)
	<-done
	down.Close()
	up.Close()
}

// netCopy copies src to dst until src's EOF or an error, then ends dst's
// sending side. After an error (a reset) it closes both, which ends the
// other direction's copy too.
func netCopy(dst, src *net.TCPConn) {
	if _, err := io.Copy(dst, src); err != nil {
		dst.Close()
		src.Close()
		return
	}
	dst.CloseWrite()
}

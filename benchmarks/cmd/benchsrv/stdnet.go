package main

import (
	"net"
	"net/http"

	"github.com/valyala/fasthttp"
)

// netBufSize is the read buffer of each goroutine-per-connection echo.
const netBufSize = 16 << 10

// netEcho is the goroutine-per-connection echo server of the net package.
// io.Copy is not used: between two TCP connections it would splice.
func netEcho(cfg config, errc chan<- error) error {
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
			go func() {
				defer c.Close()
				buf := make([]byte, netBufSize)
				for {
					n, err := c.Read(buf)
					if n > 0 {
						if _, werr := c.Write(buf[:n]); werr != nil {
							return
						}
					}
					if err != nil {
						return
					}
				}
			}()
		}
	}()
	return nil
}

func netHTTP(cfg config, errc chan<- error) error {
	ln, err := net.Listen("tcp", cfg.addr)
	if err != nil {
		return err
	}
	srv := &http.Server{Handler: http.HandlerFunc(plaintextHandler)}
	go func() { errc <- srv.Serve(ln) }()
	return nil
}

func fasthttpServe(cfg config, errc chan<- error) error {
	ln, err := net.Listen("tcp", cfg.addr)
	if err != nil {
		return err
	}
	srv := &fasthttp.Server{
		Name: "bench",
		Handler: func(ctx *fasthttp.RequestCtx) {
			ctx.SetContentType("text/plain")
			ctx.SetBody(body)
		},
	}
	go func() { errc <- srv.Serve(ln) }()
	return nil
}

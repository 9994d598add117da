package main

import (
	"net/http"

	"github.com/epollnet/epollnet/benchmarks/internal/plaintext"
	"github.com/lesismal/nbio"
	"github.com/lesismal/nbio/logging"
	"github.com/lesismal/nbio/nbhttp"
)

func nbioEcho(cfg config, _ chan<- error) error {
	logging.SetLevel(logging.LevelNone)
	g := nbio.NewEngine(nbio.Config{Network: "tcp", Addrs: []string{cfg.addr}, NPoller: cfg.loops})
	g.OnData(func(c *nbio.Conn, data []byte) { c.Write(data) })
	return g.Start()
}

// nbhttpServe runs nbhttp with its handlers called inline on the poller
// goroutine (ServerExecutor), the event-loop mode, rather than handed to
// its default goroutine pool: the handler never blocks.
func nbhttpServe(cfg config, _ chan<- error) error {
	logging.SetLevel(logging.LevelNone)
	e := nbhttp.NewEngine(nbhttp.Config{
		Network:        "tcp",
		Addrs:          []string{cfg.addr},
		NPoller:        cfg.loops,
		Handler:        http.HandlerFunc(plaintextHandler),
		ServerExecutor: func(f func()) { f() },
	})
	return e.Start()
}

var (
	hdrServer = []string{"bench"}
	hdrType   = []string{"text/plain"}
	hdrLength = []string{"13"}
	body      = []byte(plaintext.Body)
)

// plaintextHandler is the net/http handler used by net/http and nbhttp.
func plaintextHandler(w http.ResponseWriter, _ *http.Request) {
	h := w.Header()
	h["Server"], h["Content-Type"], h["Content-Length"] = hdrServer, hdrType, hdrLength
	w.Write(body)
}

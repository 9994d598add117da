// Package epollnet is an event-driven, non-blocking TCP and Unix-socket
// engine for Linux epoll, for programs where a goroutine per connection
// costs too much: gateways, proxies, push and chat servers, game servers and
// load generators with very many connections.
//
// An Engine runs event loops, by default one per usable CPU. Each loop owns
// an epoll instance, an fd-indexed table of its connections, its timers and
// a task queue that other goroutines feed. Listeners accept with accept4 in
// bounded batches; dials are non-blocking connects completed on the loop.
// Both kinds of connection report to the same small Handler interface:
//
//	type echo struct{ epollnet.BaseHandler }
//
//	func (echo) OnData(c *epollnet.Conn, in []byte) int {
//		c.Write(in)
//		return len(in)
//	}
//
//	e, _ := epollnet.New(epollnet.Options{})
//	ln, _ := e.Listen("tcp", "127.0.0.1:7000", echo{}, nil)
//	defer e.Shutdown(context.Background())
//
// Handlers run on the loop goroutines and must not block. Conn.Write is safe
// from any goroutine: it writes directly and buffers only what the kernel
// refuses, with watermarks (Handler.OnWritable) and a hard cap for
// backpressure. Reads land in a per-loop buffer; only the bytes a handler
// leaves unconsumed are kept per connection, so idle connections hold no
// buffers.
//
// The engine follows what the kernel really does, as measured and recorded in
// docs/semantics.md: EPOLLOUT alone is not a successful connect (SO_ERROR is
// read exactly once), the listener fires on the client's final ACK, accept
// under EMFILE pauses the listener instead of spinning, data that arrived
// before a FIN or RST is delivered before the close, and no write can raise
// SIGPIPE. Options.Tracer records every system call result and readiness
// transition; the epollnet command draws them as a sequence diagram.
//
// On platforms other than Linux, and on Linux built with -tags
// epollnet_portable, the engine runs on a portable backend built on Go's net
// package, with the same Handler and Conn semantics; Backend says which one
// runs, and docs/portable.md what differs (descriptor adoption and
// DialConfig.Socket fail with ErrUnsupported there).
package epollnet

//go:build !epollnet_portable

package trace

import (
	"context"
	"fmt"

	"github.com/epollnet/epollnet/cmd/epollnet/internal/proxy"
	"github.com/epollnet/epollnet/cmd/epollnet/internal/tracefmt"
)

// runProxy relays the ok exchange through the relay of "epollnet proxy",
// on the traced engine's one loop: the client connects to the proxy's
// listener; the proxy, in the accepted connection's OnOpen, dials the
// backend on that same loop (Conn.DialAsync) and joins the two with Pipe
// once it connects. Two handshakes, each with its accept side (server
// column) and connect side (client column): client to proxy, proxy to
// backend. Everything ends with the FINs passed on each way.
func runProxy(ctx context.Context, s *session) error {
	backend, err := s.eng.Listen("tcp", "127.0.0.1:0", &server{mode: replyAtOnce, closes: s.closes}, nil)
	if err != nil {
		return err
	}
	h, err := proxy.Handler(s.eng, backend.Addr().String())
	if err != nil {
		return err
	}
	front, err := s.eng.Listen("tcp", "127.0.0.1:0", h, nil)
	if err != nil {
		return err
	}
	s.d.Subtitle = fmt.Sprintf("A client dials the epollnet proxy on %s, which dials the backend on %s "+
		"from the same loop and relays %q and the reply; the client closes after the reply.",
		front.Addr(), backend.Addr(), request)
	s.note(tracefmt.SideServer, "listener %s is the proxy, %s the backend", front.Addr(), backend.Addr())
	s.note(tracefmt.SideClient, "the proxy's dial to the backend is drawn here too: a connect, on the same loop")
	cl := &client{request: request, closeOnReply: true, closes: s.closes}
	if _, err := s.eng.DialAsync("tcp", front.Addr().String(), cl, nil); err != nil {
		return err
	}
	// The client and the backend's connection report their close; the
	// relay's two connections close with them, four closes in all.
	if err := s.waitCloses(ctx, 2); err != nil {
		return err
	}
	return s.rec.waitFor(ctx, 4, kind("close", ""))
}

//go:build !epollnet_portable

package trace

import (
	"context"
	"fmt"
	"time"

	"github.com/epollnet/epollnet"
	"github.com/epollnet/epollnet/cmd/epollnet/internal/tracefmt"
	"github.com/epollnet/epollnet/internal/netns"
	"golang.org/x/sys/unix"
)

// The scenarios in this file run inside a private network namespace, where
// nftables rules drop chosen packets: loopback in the host namespace
// finishes the handshake inside connect() and so hides the states they
// show (SYN_SENT, a client connected but not yet accepted; see
// docs/kernel.md). Both the listener and the client's socket are created
// inside it; no packet leaves it.

// nsListener makes a namespace, with a listener inside it served by the
// engine, and returns the namespace and the listener's port. The
// namespace is closed after the engine shut down.
func nsListener(s *session, mode serverMode) (*netns.NS, uint16, error) {
	ns, err := netns.New()
	if err != nil {
		return nil, 0, fmt.Errorf("private network namespace: %w", err)
	}
	s.cleanup(func() { ns.Close() })
	fd, port, err := ns.ListenLoopback(unix.AF_INET, 16)
	if err != nil {
		return nil, 0, err
	}
	if _, err := s.eng.ListenFD(fd, &server{mode: mode, closes: s.closes}, nil); err != nil {
		closeFD(fd)
		return nil, 0, err
	}
	return ns, port, nil
}

// runTimeout blackholes the server: every SYN is dropped, the connect
// stays in SYN_SENT without a single event, and the dial deadline ends it.
func runTimeout(ctx context.Context, s *session) error {
	const deadline = 1500 * time.Millisecond
	ns, port, err := nsListener(s, replyAtOnce)
	if err != nil {
		return err
	}
	if _, err := ns.DropSYN(port); err != nil {
		return err
	}
	s.d.Subtitle = fmt.Sprintf("Private network namespace; nftables drops every SYN to port %d; dial deadline %v.", port, deadline)
	s.d.Lost = []string{"SYN"}
	s.note(tracefmt.SideNet, "nft: drop SYN to port %d (a blackholed server)", port)
	cfg := &epollnet.DialConfig{Timeout: deadline, Socket: ns.Socket}
	addr := fmt.Sprintf("127.0.0.1:%d", port)
	if _, err := s.eng.DialAsync("tcp", addr, &client{request: request, closes: s.closes}, cfg); err != nil {
		return err
	}
	return s.waitCloses(ctx, 1)
}

// runACKDropped drops the client's pure ACKs, the handshake's final ACK
// among them: the client is ESTABLISHED and writable at once, while the
// listener stays unreadable until the client's first data segment, which
// carries the ACK, arrives a second later: the listener becomes readable
// on the client's final ACK, not at SYN+ACK.
func runACKDropped(ctx context.Context, s *session) error {
	const delay = time.Second
	ns, port, err := nsListener(s, replyAtOnce)
	if err != nil {
		return err
	}
	if _, err := ns.DropPureACK(port); err != nil {
		return err
	}
	s.d.Subtitle = fmt.Sprintf("Private network namespace; nftables drops the client's pure ACKs to port %d; "+
		"the client sends its request %v after connecting.", port, delay)
	s.d.Lost = []string{"ACK"}
	s.note(tracefmt.SideNet, "nft: drop the client's pure ACKs to port %d (data segments pass)", port)
	cfg := &epollnet.DialConfig{Socket: ns.Socket}
	addr := fmt.Sprintf("127.0.0.1:%d", port)
	cl := &client{request: request, delay: delay, closeOnReply: true, closes: s.closes}
	if _, err := s.eng.DialAsync("tcp", addr, cl, cfg); err != nil {
		return err
	}
	return s.waitCloses(ctx, 2)
}

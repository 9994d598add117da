// Package netns gives a program its own Linux network namespace, with
// loopback up, and lets it install nftables rules there from Go, through
// netlink. The epollnet CLI's trace scenarios use it to make handshake
// states visible; the library's tests use it through internal/nettest,
// which adds the testing glue (skip without root, cleanup with the test).
//
// Loopback hides the states that epollnet has to handle: on 127.0.0.1 the
// TCP handshake has already finished when connect() returns, and an ICMP
// error closes a connecting socket only at the next SYN retransmission
// (docs/kernel.md). To make SYN_SENT, SYN_RECV, resets and ICMP errors
// observable, a program creates an NS with New, creates its sockets inside
// it with Do, Socket or ListenLoopback, and drops or rejects chosen packets
// with DropSYN, DropPureACK, RejectTCPReset or RejectICMP. Each rule returns
// an undo function, so a rule can be lifted midway to watch the kernel
// recover at its next retransmission.
//
// Nothing but the Go toolchain and root is needed: no nft or ip binaries.
// The package exists only on Linux; on other platforms it is empty.
package netns

// Package nettest gives a test, or a program, its own Linux network
// namespace, with loopback up, and lets it install nftables rules there from
// Go, through netlink. Tests use NewNS, which skips without root and cleans
// up with the test; programs (the epollnet CLI's trace scenarios) use New and
// Close.
//
// Loopback hides the states that epollnet has to handle: on 127.0.0.1 the TCP
// handshake has already finished when connect() returns, and an ICMP error
// closes a connecting socket only at the next SYN retransmission (KERNEL.md
// §2.2 and §3, item 20). To make SYN_SENT, SYN_RECV, resets and ICMP errors
// observable, a test creates an NS, creates its sockets inside it with Do,
// Socket or ListenLoopback, and drops or rejects chosen packets with DropSYN,
// DropPureACK, RejectTCPReset or RejectICMP. Each rule returns an undo function, so a test can lift a rule
// mid-test and watch the kernel recover at its next retransmission.
//
// Nothing but the Go toolchain and root is needed: no nft or ip binaries.
// Tests that cannot get a namespace (not root, no CAP_SYS_ADMIN, no nf_tables)
// are skipped by NeedRoot, which NewNS calls.
//
// The fixture exists only on Linux; on other platforms the package is empty.
package nettest

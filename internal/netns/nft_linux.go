//go:build linux

package netns

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"sync"

	"github.com/google/nftables"
	"github.com/google/nftables/expr"
	"golang.org/x/sys/unix"
)

// The fixture's rules live in one table of family inet, so that each rule
// matches IPv4 (127.0.0.0/8) and IPv6 (::1) alike, in a base chain on the
// input hook. On loopback every packet passes output and then input. A drop
// on input happens after the packet has left the sender, like a loss on a
// wire; a drop on output is a local transmit failure (NF_DROP becomes EPERM
// for the sending call), which UDP's sendmsg reports to the caller and which
// TCP happens to ignore for a SYN. reject is allowed on input.
const (
	tableName = "epollnet_test"
	chainName = "input"
)

// TCP flag bits, byte 13 of the TCP header.
const (
	tcpFIN = 0x01
	tcpSYN = 0x02
	tcpRST = 0x04
	tcpPSH = 0x08
	tcpACK = 0x10
)

// ICMPCode selects the ICMP error that RejectICMP sends back. The values are
// nftables' family-independent "icmpx" codes; the kernel translates them to
// ICMPv4 or ICMPv6 according to the rejected packet. The errno a connecting
// TCP socket then reports in SO_ERROR is given for each (tcp_v4_err,
// icmp_err_convert; tcp_v6_err, icmpv6_err_convert).
type ICMPCode uint8

const (
	// ICMPNoRoute sends net unreachable (ICMPv6: no route):
	// ENETUNREACH.
	ICMPNoRoute ICMPCode = unix.NFT_REJECT_ICMPX_NO_ROUTE
	// ICMPPortUnreachable sends port unreachable: ECONNREFUSED.
	ICMPPortUnreachable ICMPCode = unix.NFT_REJECT_ICMPX_PORT_UNREACH
	// ICMPHostUnreachable sends host unreachable (ICMPv6: address
	// unreachable): EHOSTUNREACH.
	ICMPHostUnreachable ICMPCode = unix.NFT_REJECT_ICMPX_HOST_UNREACH
	// ICMPAdminProhibited sends communication administratively prohibited
	// (ICMP code 13): EHOSTUNREACH over IPv4 but EACCES over IPv6.
	ICMPAdminProhibited ICMPCode = unix.NFT_REJECT_ICMPX_ADMIN_PROHIBITED
)

// String returns the code's name in nft syntax.
func (c ICMPCode) String() string {
	switch c {
	case ICMPNoRoute:
		return "no-route"
	case ICMPPortUnreachable:
		return "port-unreachable"
	case ICMPHostUnreachable:
		return "host-unreachable"
	case ICMPAdminProhibited:
		return "admin-prohibited"
	}
	return fmt.Sprintf("ICMPCode(%d)", uint8(c))
}

// setupNftables opens the lasting nftables socket inside the namespace and
// creates the fixture's table and chain.
func (ns *NS) setupNftables() error {
	// WithNetNSFd makes the netlink socket in the namespace (mdlayher/socket
	// does setns on a locked thread); a socket keeps its namespace, so the
	// lasting connection can be used from any goroutine afterwards.
	c, err := nftables.New(nftables.WithNetNSFd(ns.fd), nftables.AsLasting())
	if err != nil {
		return fmt.Errorf("nftables: open netlink socket in namespace: %w", err)
	}
	ns.nft = c
	ns.table = c.AddTable(&nftables.Table{Family: nftables.TableFamilyINet, Name: tableName})
	policy := nftables.ChainPolicyAccept
	ns.chain = c.AddChain(&nftables.Chain{
		Name:     chainName,
		Table:    ns.table,
		Type:     nftables.ChainTypeFilter,
		Hooknum:  nftables.ChainHookInput,
		Priority: nftables.ChainPriorityFilter,
		Policy:   &policy,
	})
	if err := c.Flush(); err != nil {
		return fmt.Errorf("nftables: add table inet %s, chain %s: %w", tableName, chainName, err)
	}
	return nil
}

// DropSYN drops TCP segments to port that carry SYN without ACK, so a
// connect to that port stays in SYN_SENT with no epoll events, retransmitting
// its SYN, as towards a blackholed host (see docs/kernel.md, "No
// writability while SYNs are lost" and "A blackholed connect"). SYN+ACKs
// are not affected. After undo the connect completes at the next SYN
// retransmission (1 s, 2 s, 3 s, ... after connect with the default
// tcp_syn_linear_timeouts=4).
func (ns *NS) DropSYN(port uint16) (undo func(), err error) {
	desc := fmt.Sprintf("tcp dport %d tcp flags & (fin|syn|rst|ack) == syn drop", port)
	return ns.addRule(desc, tcpMatch(port, tcpFIN|tcpSYN|tcpRST|tcpACK, tcpSYN), drop())
}

// DropPureACK drops TCP segments to port whose flags, among FIN, SYN, RST,
// PSH and ACK, are ACK alone: the client's final handshake ACK and its other
// pure ACKs. The client reports ESTABLISHED and EPOLLOUT while the server
// keeps the request in SYN_RECV and the listener stays unreadable (see
// docs/kernel.md, "The listener fires on the final ACK, not at SYN+ACK").
// The listener becomes readable when an ACK gets through: after undo, the
// client's answer to the server's SYN+ACK retransmission
// (about 1 s after the first SYN+ACK, then doubling), or at once when the
// client sends data, since Linux sets PSH on data segments.
func (ns *NS) DropPureACK(port uint16) (undo func(), err error) {
	desc := fmt.Sprintf("tcp dport %d tcp flags & (fin|syn|rst|psh|ack) == ack drop", port)
	return ns.addRule(desc, tcpMatch(port, tcpFIN|tcpSYN|tcpRST|tcpPSH|tcpACK, tcpACK), drop())
}

// RejectTCPReset answers every TCP segment to port with a RST (nft "reject
// with tcp reset"), even when a listener is there. A connect fails as if the
// port were closed: EPOLLIN|OUT|ERR|HUP|RDHUP and SO_ERROR ECONNREFUSED
// (see docs/kernel.md, "A refused connect").
func (ns *NS) RejectTCPReset(port uint16) (undo func(), err error) {
	desc := fmt.Sprintf("tcp dport %d reject with tcp reset", port)
	return ns.addRule(desc, tcpMatch(port, 0, 0), &expr.Reject{Type: unix.NFT_REJECT_TCP_RST})
}

// RejectICMP answers every TCP segment to port with the ICMP error code
// (nft "reject with icmpx code"). On loopback the error reaches the socket
// while connect() still owns it, so the kernel records a soft error, which
// SO_ERROR already returns, and closes the socket only when the retransmitted
// SYN draws the next error, about 1 s later (see docs/kernel.md, "An
// ICMP-rejected connect"). Until then
// epoll reports EPOLLERR alone over IPv4 (no OUT, no HUP, state SYN_SENT) and
// nothing at all over IPv6. See ICMPCode for the errno of each code.
func (ns *NS) RejectICMP(port uint16, code ICMPCode) (undo func(), err error) {
	desc := fmt.Sprintf("tcp dport %d reject with icmpx %v", port, code)
	return ns.addRule(desc, tcpMatch(port, 0, 0), &expr.Reject{Type: unix.NFT_REJECT_ICMPX_UNREACH, Code: uint8(code)})
}

// tcpMatch returns the expressions for "meta l4proto tcp tcp dport port",
// followed, when mask is not zero, by "tcp flags & mask == value". In an inet
// table the l4proto check must come first: the transport header offsets mean
// nothing for UDP or ICMP.
func tcpMatch(port uint16, mask, value byte) []expr.Any {
	e := []expr.Any{
		&expr.Meta{Key: expr.MetaKeyL4PROTO, Register: 1},
		&expr.Cmp{Op: expr.CmpOpEq, Register: 1, Data: []byte{unix.IPPROTO_TCP}},
		&expr.Payload{DestRegister: 1, Base: expr.PayloadBaseTransportHeader, Offset: 2, Len: 2},
		&expr.Cmp{Op: expr.CmpOpEq, Register: 1, Data: binary.BigEndian.AppendUint16(nil, port)},
	}
	if mask == 0 {
		return e
	}
	return append(e,
		&expr.Payload{DestRegister: 1, Base: expr.PayloadBaseTransportHeader, Offset: 13, Len: 1},
		&expr.Bitwise{SourceRegister: 1, DestRegister: 1, Len: 1, Mask: []byte{mask}, Xor: []byte{0}},
		&expr.Cmp{Op: expr.CmpOpEq, Register: 1, Data: []byte{value}},
	)
}

// drop returns the drop verdict.
func drop() expr.Any { return &expr.Verdict{Kind: expr.VerdictDrop} }

// addRule appends a rule made of match and verdict to the fixture's chain and
// returns a function that deletes exactly that rule.
//
// nftables deletes rules by handle, which the kernel assigns. The library
// does not return it, so each rule carries a unique user data tag and is
// looked up again after the batch is committed.
func (ns *NS) addRule(desc string, match []expr.Any, verdict expr.Any) (func(), error) {
	ns.mu.Lock()
	defer ns.mu.Unlock()
	if ns.fd < 0 {
		return nil, errClosed
	}
	ns.nextID++
	tag := fmt.Appendf(nil, "epollnet/netns#%d: %s", ns.nextID, desc)
	ns.nft.AddRule(&nftables.Rule{
		Table:    ns.table,
		Chain:    ns.chain,
		Exprs:    append(match, verdict),
		UserData: tag,
	})
	if err := ns.nft.Flush(); err != nil {
		return nil, fmt.Errorf("nftables: add rule %q: %w", desc, err)
	}
	rules, err := ns.nft.GetRules(ns.table, ns.chain)
	if err != nil {
		return nil, fmt.Errorf("nftables: list rules of chain %s: %w", chainName, err)
	}
	for _, r := range rules {
		if bytes.Equal(r.UserData, tag) {
			return ns.undoFunc(r.Handle, desc), nil
		}
	}
	return nil, fmt.Errorf("nftables: rule %q was added but is not listed", desc)
}

// undoFunc returns the undo function for the rule with handle. Only the first
// call deletes; a call after the namespace was closed does nothing, since the
// rule went with the namespace. A failed undo is reported to the function
// set with ReportUndoErrors, if any.
func (ns *NS) undoFunc(handle uint64, desc string) func() {
	var once sync.Once
	return func() {
		once.Do(func() {
			if err := ns.delRule(handle); err != nil {
				ns.mu.Lock()
				report := ns.undoErr
				ns.mu.Unlock()
				if report != nil {
					report(desc, err)
				}
			}
		})
	}
}

// delRule deletes the fixture's rule with handle.
func (ns *NS) delRule(handle uint64) error {
	ns.mu.Lock()
	defer ns.mu.Unlock()
	if ns.fd < 0 {
		return nil
	}
	if err := ns.nft.DelRule(&nftables.Rule{Table: ns.table, Chain: ns.chain, Handle: handle}); err != nil {
		return fmt.Errorf("nftables: delete rule %d: %w", handle, err)
	}
	if err := ns.nft.Flush(); err != nil {
		return fmt.Errorf("nftables: delete rule %d: %w", handle, err)
	}
	return nil
}

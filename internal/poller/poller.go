// Package poller is epollnet's readiness multiplexer: one Poller per event
// loop, owned by that loop's goroutine, plus a deduplicated cross-goroutine
// wake-up. The contract is deliberately small, like Redis ae's aeApi* or the
// Go runtime's netpoll*: New and Close; Add, Mod and Del for registrations;
// Poll (without blocking) or PrepareSleep and Wait (parking), then Event for
// each ready descriptor; and Wake, the only method for other goroutines.
package poller

import "strings"

// Events is a set of readiness conditions. The values equal Linux's epoll
// bits so no translation happens on the hot path, but no epoll constant
// escapes this package's users: the engine speaks only in these names.
type Events uint32

// Readiness conditions. Error and Hangup are always reported by the kernel
// whether requested or not; ReadHangup must be requested to learn of a
// peer's half-close (see docs/kernel.md, "EPOLLERR and EPOLLHUP are always
// reported, EPOLLRDHUP only on request").
const (
	Readable   Events = 0x1
	Priority   Events = 0x2 // urgent (TCP) or out-of-band data pending
	Writable   Events = 0x4
	Error      Events = 0x8
	Hangup     Events = 0x10
	ReadHangup Events = 0x2000

	// Edge asks for edge-triggered reports (EPOLLET) in Add and Mod: an
	// event once per new arrival or freed space, not on every wait while
	// the condition holds. It is never reported; String shows it as ET.
	Edge Events = 1 << 31
)

// String renders the set as epoll's flag names without the EPOLL prefix,
// joined by "|": "IN|OUT|RDHUP".
func (e Events) String() string {
	if e == 0 {
		return "none"
	}
	var parts []string
	for _, f := range []struct {
		bit  Events
		name string
	}{{Readable, "IN"}, {Priority, "PRI"}, {Writable, "OUT"}, {Error, "ERR"}, {Hangup, "HUP"}, {ReadHangup, "RDHUP"}, {Edge, "ET"}} {
		if e&f.bit != 0 {
			parts = append(parts, f.name)
		}
	}
	return strings.Join(parts, "|")
}

// Tag packs a file descriptor and its registration generation into epoll's
// 64-bit data word, so an event queued for a closed fd cannot reach the
// connection that reused the number (libev's egen, nginx's instance bit).
type Tag struct {
	FD  int32
	Gen uint32
}

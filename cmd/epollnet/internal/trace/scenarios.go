package trace

import (
	"fmt"
	"io"
)

// scenario is one thing "epollnet trace --scenario" can run. The list is
// platform-neutral so --list works everywhere; the code that runs each one
// is Linux-only (see scenarioRuns).
type scenario struct {
	name    string
	summary string // one line, for --list
	root    bool   // needs a private network namespace, so root
}

var scenarios = []scenario{
	{"ok", "connect, send a request, get a reply, close: the ordinary exchange", false},
	{"refused", "connect to a port nobody listens on: EPOLLOUT arrives with the error", false},
	{"timeout", "SYNs blackholed by nftables: no event at all until the 1.5 s dial deadline", true},
	{"ack-dropped", "the client's final ACK is dropped: client EPOLLOUT a second before the listener's EPOLLIN", true},
	{"backlog-full", "listen backlog 1 and a slow server: the third client's SYN is dropped silently", false},
	{"defer-accept", "TCP_DEFER_ACCEPT: the listener stays silent until the client's data arrives", false},
	{"unix", "the same exchange over an AF_UNIX socket: connect() returns 0, no EPOLLOUT wait", false},
	{"half-close", "the client shuts down its write side; the server still replies after EOF", false},
	{"reset", "the server replies and aborts (RST): data first, then ECONNRESET", false},
	{"emfile", "accept4 fails with EMFILE: the listener is paused, then re-armed", false},
	{"tls", "the ok exchange over TLS 1.3: the handshake's records first, OnOpen only after them", false},
	{"proxy", "the ok exchange through epollnet proxy: both handshakes, client and backend, on one loop", false},
}

func findScenario(name string) *scenario {
	for i := range scenarios {
		if scenarios[i].name == name {
			return &scenarios[i]
		}
	}
	return nil
}

// listScenarios prints one line per scenario.
func listScenarios(w io.Writer) {
	for _, s := range scenarios {
		root := ""
		if s.root {
			root = " (root)"
		}
		fmt.Fprintf(w, "%-13s %s%s\n", s.name, s.summary, root)
	}
}

// needRoot explains, before anything starts, why a scenario cannot run
// for the user euid.
func needRoot(sc *scenario, euid int) error {
	if !sc.root || euid == 0 {
		return nil
	}
	return fmt.Errorf("scenario %q builds a private network namespace with nftables rules, "+
		"which needs root: run it with sudo. Scenarios without \"(root)\" in --list run as any user", sc.name)
}

//go:build !epollnet_portable

package trace

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/epollnet/epollnet/cmd/epollnet/internal/clitest"
	"github.com/epollnet/epollnet/cmd/epollnet/internal/tracefmt"
	"github.com/epollnet/epollnet/internal/nettest"
)

// runScenario runs a scenario and returns its records. Root scenarios
// skip where no namespace can be made (nettest.NeedRoot).
func runScenario(t *testing.T, name string) []tracefmt.Record {
	t.Helper()
	sc := findScenario(name)
	if sc.root {
		nettest.NeedRoot(t)
	}
	clitest.CheckLeaks(t)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	d, err := traceScenario(ctx, sc)
	if err != nil {
		t.Fatal(err)
	}
	return d.Records
}

func TestScenarioOKFollowsTheExchange(t *testing.T) {
	recs := runScenario(t, "ok")
	inOrder(t, recs,
		m("connect → EINPROGRESS", is("connect", "dialed", errIs("EINPROGRESS"))),
		m("client EPOLLOUT", is("ready", "dialed", readyIs("OUT"))),
		m("SO_ERROR 0", is("SO_ERROR", "dialed", errIs(""))),
		m("request written", is("write", "dialed", nIs(len(request)))),
		m("listener EPOLLIN", is("ready", "listener", readyIs("IN"))),
		m("accept4 → fd", is("accept4", "listener", errIs(""))),
		m("accept4 → EAGAIN", is("accept4", "listener", errIs("EAGAIN"))),
		m("request read", is("read", "accepted", nIs(len(request)))),
		m("reply read", is("read", "dialed", nIs(len(reply)))),
		m("client closed", is("close", "dialed", errIs(""))),
		m("server reads EOF", is("read", "accepted", nIs(0), errIs(""))),
		m("server closed", is("close", "accepted")))
}

func TestScenarioRefusedReportsSOError(t *testing.T) {
	recs := runScenario(t, "refused")
	got := inOrder(t, recs,
		m("connect → EINPROGRESS", is("connect", "dialed", errIs("EINPROGRESS"))),
		m("client ready", is("ready", "dialed")),
		m("SO_ERROR ECONNREFUSED", is("SO_ERROR", "dialed", errIs("ECONNREFUSED"))),
		m("close", is("close", "dialed", errIs("ECONNREFUSED"))))
	if r := got[1].Ready; !strings.Contains(r, "OUT") || !strings.Contains(r, "ERR") {
		t.Errorf("refused connect reported %s, want OUT and ERR: a failed connect reports EPOLLOUT too", r)
	}
}

func TestScenarioTimeoutClosesAtDeadline(t *testing.T) {
	recs := runScenario(t, "timeout")
	got := inOrder(t, recs,
		m("connect in SYN_SENT", is("connect", "dialed", stateIs("SYN_SENT"))),
		m("dial-timeout timer", is("timer", "dialed", detailIs("dial-timeout"))),
		m("close", is("close", "dialed")))
	if d := got[1].T - got[0].T; d < 1400*time.Millisecond || d > 3*time.Second {
		t.Errorf("deadline fired %v after connect, want about 1.5 s", d)
	}
	for _, r := range recs {
		if r.Kind == "ready" && r.Role == "dialed" {
			t.Errorf("event %s for a blackholed connect, want none", r.Ready)
		}
	}
}

func TestScenarioACKDroppedClientOutBeforeListenerIn(t *testing.T) {
	recs := runScenario(t, "ack-dropped")
	got := inOrder(t, recs,
		m("client EPOLLOUT", is("ready", "dialed", readyIs("OUT"))),
		m("request written", is("write", "dialed", nIs(len(request)))),
		m("listener EPOLLIN", is("ready", "listener", readyIs("IN"))))
	if d := got[2].T - got[0].T; d < 900*time.Millisecond {
		t.Errorf("listener readable %v after the client's EPOLLOUT, want the ~1 s the client waited", d)
	}
	if d := got[2].T - got[1].T; d > 200*time.Millisecond {
		t.Errorf("listener readable %v after the data that completes the handshake", d)
	}
}

func TestScenarioBacklogFullDelaysThirdClient(t *testing.T) {
	recs := runScenario(t, "backlog-full")
	var conn3 uint64
	for _, r := range recs {
		if r.Kind == "connect" && r.TCPState == "SYN_SENT" {
			conn3 = r.Conn
		}
	}
	if conn3 == 0 {
		t.Fatal("no client stayed in SYN_SENT behind the full queue")
	}
	ofConn := func(r tracefmt.Record) bool { return r.Conn == conn3 }
	got := inOrder(t, recs,
		m("third connect in SYN_SENT", is("connect", "dialed", ofConn)),
		m("the server starts accepting", is("epoll_ctl", "listener", detailIs("add"))),
		m("accept4 → fd", is("accept4", "listener", errIs(""))),
		m("third client connected", is("ready", "dialed", ofConn, stateIs("ESTABLISHED"))))
	if d := got[3].T - got[0].T; d < 900*time.Millisecond {
		t.Errorf("third client connected after %v, want a SYN retransmission (~1 s)", d)
	}
	opened := 0
	for _, r := range recs {
		if r.Kind == "open" && r.Role == "dialed" && r.T < got[1].T {
			opened++
		}
	}
	if opened != 2 {
		t.Errorf("%d clients open before the server accepted, want the 2 the queue holds", opened)
	}
}

func TestScenarioDeferAcceptWaitsForData(t *testing.T) {
	recs := runScenario(t, "defer-accept")
	got := inOrder(t, recs,
		m("client EPOLLOUT", is("ready", "dialed", readyIs("OUT"))),
		m("request written", is("write", "dialed")),
		m("listener EPOLLIN", is("ready", "listener")),
		m("accepted readable at once", is("ready", "accepted", readyIs("IN"))))
	if d := got[1].T - got[0].T; d < 250*time.Millisecond {
		t.Errorf("client wrote %v after connecting, want the scenario's 300 ms", d)
	}
}

func TestScenarioUnixConnectReturnsZero(t *testing.T) {
	recs := runScenario(t, "unix")
	inOrder(t, recs,
		m("connect → 0", is("connect", "dialed", errIs(""), stateIs(""))),
		m("open without an event", is("open", "dialed")),
		m("listener EPOLLIN", is("ready", "listener")),
		m("reply read", is("read", "dialed", nIs(len(reply)))))
	for _, r := range recs {
		if r.Kind == "open" && r.Role == "dialed" {
			break
		}
		if r.Kind == "ready" && r.Role == "dialed" {
			t.Errorf("AF_UNIX client waited for an event (%s) before it opened", r.Ready)
		}
	}
}

func TestScenarioHalfCloseServerWritesAfterEOF(t *testing.T) {
	recs := runScenario(t, "half-close")
	inOrder(t, recs,
		m("client shutdown(SHUT_WR)", is("shutdown", "dialed", errIs(""))),
		m("server reads EOF", is("read", "accepted", nIs(0), errIs(""))),
		m("server still writes", is("write", "accepted", nIs(len(reply)))),
		m("client reads the reply", is("read", "dialed", nIs(len(reply)))),
		m("client reads EOF", is("read", "dialed", nIs(0), errIs(""))))
}

func TestScenarioResetDeliversDataThenECONNRESET(t *testing.T) {
	recs := runScenario(t, "reset")
	inOrder(t, recs,
		m("server aborts", is("close", "accepted", errIs("epollnet: connection aborted locally"))),
		m("client ready with ERR", is("ready", "dialed", func(r tracefmt.Record) bool { return strings.Contains(r.Ready, "ERR") })),
		m("reply still read", is("read", "dialed", nIs(len(reply)))),
		m("then ECONNRESET", is("read", "dialed", errIs("ECONNRESET"))))
}

func TestScenarioEMFILEPausesAndRearmsListener(t *testing.T) {
	recs := runScenario(t, "emfile")
	inOrder(t, recs,
		m("accept4 EMFILE", is("accept4", "listener", errIs("EMFILE"))),
		m("listener paused", is("epoll_ctl", "listener", detailIs("mod"), readyIs("none"))),
		m("retry timer", is("timer", "listener", detailIs("accept-retry"))),
		m("listener re-armed", is("epoll_ctl", "listener", detailIs("mod"), readyIs("IN"))),
		m("accept4 → fd at last", is("accept4", "listener", errIs(""))),
		m("reply read", is("read", "dialed", nIs(len(reply)))))
}

// TestScenarioTLSOpensAfterHandshake follows the TCP handshake, then the
// TLS one on each side, then the exchange. Each side's events are matched
// in its own order: the handshake's writes come from a goroutine of its
// own and may be recorded after the other side read them, so only the
// loop's events (reads, the handshake's start and end) are compared
// across the sides.
func TestScenarioTLSOpensAfterHandshake(t *testing.T) {
	recs := runScenario(t, "tls")
	done := func(r tracefmt.Record) bool { return r.Detail == "done version=TLS1.3 alpn=- resumed=false" }
	inOrder(t, recs,
		m("connect → EINPROGRESS", is("connect", "dialed", errIs("EINPROGRESS"))),
		m("client EPOLLOUT", is("ready", "dialed", readyIs("OUT"))),
		m("client open", is("open", "dialed")),
		m("client TLS start", is("tls", "dialed", detailIs("start"))),
		m("accept4 → fd", is("accept4", "listener", errIs(""))),
		m("server open", is("open", "accepted")),
		m("server TLS start", is("tls", "accepted", detailIs("start"))),
		m("server reads the ClientHello", is("read", "accepted", func(r tracefmt.Record) bool { return r.N > 0 })),
		m("client reads the server's flight", is("read", "dialed", func(r tracefmt.Record) bool { return r.N > 0 })),
		m("client TLS done", is("tls", "dialed", done)),
		m("client writes the request, encrypted", is("write", "dialed", func(r tracefmt.Record) bool { return r.N > len(request) })),
		m("client reads the reply", is("read", "dialed", func(r tracefmt.Record) bool { return r.N > len(reply) })),
		m("client closed", is("close", "dialed", errIs(""))))
	inOrder(t, recs,
		m("server TLS start", is("tls", "accepted", detailIs("start"))),
		m("server reads the ClientHello", is("read", "accepted", func(r tracefmt.Record) bool { return r.N > 0 })),
		m("server reads the client's Finished", is("read", "accepted", func(r tracefmt.Record) bool { return r.N > 0 })),
		m("server TLS done", is("tls", "accepted", done)),
		m("server writes the reply, encrypted", is("write", "accepted", func(r tracefmt.Record) bool { return r.N > len(reply) })),
		m("server reads EOF", is("read", "accepted", nIs(0), errIs(""))),
		m("server closed", is("close", "accepted", errIs(""))))
	for _, r := range recs {
		if r.Kind == "tls" && r.Detail == "failed" {
			t.Errorf("%s handshake failed: %s", r.Role, r.Err)
		}
	}
	findings := strings.Join(tracefmt.Findings(recs), "\n")
	if !strings.Contains(findings, "OnOpen for it came only when the server's TLS handshake was done") {
		t.Errorf("findings lack the TLS one:\n%s", findings)
	}
}

// TestEveryScenarioHasCode keeps --list and the runner in step.
func TestEveryScenarioHasCode(t *testing.T) {
	for _, sc := range scenarios {
		if scenarioRuns[sc.name] == nil {
			t.Errorf("scenario %q is listed but has no code", sc.name)
		}
	}
	if len(scenarioRuns) != len(scenarios) {
		t.Errorf("%d scenarios have code, %d are listed", len(scenarioRuns), len(scenarios))
	}
}

// TestScenarioProxyShowsBothHandshakes: through the proxy, the loop
// accepts the client, then connects to the backend and accepts that
// connection too, all on loop 0; the request goes client, proxy, backend
// and the reply back; the client's FIN is passed on to the backend.
func TestScenarioProxyShowsBothHandshakes(t *testing.T) {
	recs := runScenario(t, "proxy")
	inOrder(t, recs,
		m("client connect", is("connect", "dialed", errIs("EINPROGRESS"))),
		m("request written by the client", is("write", "dialed", nIs(len(request)))),
		m("proxy accepts the client", is("accept4", "listener", errIs(""))),
		m("proxy connects to the backend", is("connect", "dialed", errIs("EINPROGRESS"))),
		m("backend accepts the proxy", is("accept4", "listener", errIs(""))),
		m("request relayed", is("write", "dialed", nIs(len(request)))),
		m("backend reads it", is("read", "accepted", nIs(len(request)))),
		m("reply relayed", is("write", "accepted", nIs(len(reply)))),
		m("client reads the reply", is("read", "dialed", nIs(len(reply)))),
		m("client closes", is("close", "dialed", errIs(""))),
		m("proxy passes the FIN on", is("shutdown", "dialed")))
	for _, r := range recs {
		if r.Kind != tracefmt.KindNote && r.Loop > 0 {
			t.Fatalf("record on loop %d: %+v; want everything on loop 0", r.Loop, r)
		}
	}
}

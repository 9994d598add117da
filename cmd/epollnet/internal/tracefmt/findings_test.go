package tracefmt

import (
	"regexp"
	"strings"
	"testing"
	"time"
)

// rec is a compact record builder for the findings table.
func rec(us int, conn uint64, role, kind string, f func(*Record)) Record {
	side := SideServer
	if role == "dialed" {
		side = SideClient
	}
	r := Record{T: time.Duration(us) * time.Microsecond, Conn: conn, Role: role, Kind: kind, Side: side, FD: int(conn) + 10}
	if f != nil {
		f(&r)
	}
	return r
}

// TestFindingsSpeakOnlyWhenShown checks each finding against a trace that
// shows its case and one that does not: a footer line must be backed by the
// recorded events.
func TestFindingsSpeakOnlyWhenShown(t *testing.T) {
	connect := func(err, st string) Record {
		return rec(10, 1, "dialed", "connect", func(r *Record) { r.Err, r.TCPState = err, st })
	}
	readyOut := func(us int, ready, st string) Record {
		return rec(us, 1, "dialed", "ready", func(r *Record) { r.Ready, r.TCPState = ready, st })
	}
	lnAdd := rec(1, 0, "listener", "epoll_ctl", func(r *Record) { r.Detail, r.Ready, r.FD = "add", "IN", 7 })
	lnIn := func(us int) Record {
		return rec(us, 0, "listener", "ready", func(r *Record) { r.Ready, r.FD = "IN", 7 })
	}
	for _, tc := range []struct {
		name    string
		want    string // a phrase of the finding
		shown   []Record
		notShow []Record
	}{
		{"handshake done inside connect", "already ESTABLISHED", []Record{connect("EINPROGRESS", "ESTABLISHED")},
			[]Record{connect("EINPROGRESS", "SYN_SENT")}},
		{"refused inside connect", "RST had already closed", []Record{connect("EINPROGRESS", "CLOSE")},
			[]Record{connect("ECONNREFUSED", "")}},
		{"unix connect returns 0", "AF_UNIX", []Record{connect("", "")}, []Record{connect("", "ESTABLISHED")}},
		{"listener readable after client EPOLLOUT", "before the listener's EPOLLIN", []Record{lnAdd, readyOut(20, "OUT", "ESTABLISHED"), lnIn(21)},
			[]Record{lnAdd, lnIn(19), readyOut(20, "OUT", "ESTABLISHED")}},
		{"listener readable only on client data", "only once the client's data arrived",
			[]Record{lnAdd, readyOut(20, "OUT", "ESTABLISHED"), rec(1000000, 1, "dialed", "write", func(r *Record) { r.N = 5 }), lnIn(1000010)},
			[]Record{readyOut(20, "OUT", "ESTABLISHED"), lnAdd, lnIn(1000010)}}, // registered late: says nothing
		{"EPOLLOUT on a failed connect", "EPOLLOUT was reported for a connect that failed",
			[]Record{readyOut(20, "OUT|ERR|HUP", "CLOSE"), rec(21, 1, "dialed", "SO_ERROR", func(r *Record) { r.Err = "ECONNREFUSED" })},
			[]Record{readyOut(20, "OUT", "ESTABLISHED"), rec(21, 1, "dialed", "SO_ERROR", nil)}},
		{"blackholed connect silent until deadline", "only the dial deadline ended it",
			[]Record{connect("EINPROGRESS", "SYN_SENT"), rec(1500000, 1, "dialed", "timer", func(r *Record) { r.Detail = "dial-timeout" })},
			[]Record{connect("EINPROGRESS", "SYN_SENT"), readyOut(20, "OUT|ERR|HUP", "CLOSE"),
				rec(1500000, 1, "dialed", "timer", func(r *Record) { r.Detail = "dial-timeout" })}},
		{"dropped SYN costs a second", "stayed in SYN_SENT", []Record{connect("EINPROGRESS", "SYN_SENT"), readyOut(1000010, "OUT", "ESTABLISHED")},
			[]Record{connect("EINPROGRESS", "SYN_SENT"), readyOut(30000, "OUT", "ESTABLISHED")}},
		{"accepted socket readable at once", "already queued when accept4() returned",
			[]Record{rec(5, 1, "dialed", "write", func(r *Record) { r.N = 5 }), rec(6, 0, "listener", "accept4", func(r *Record) { r.N = 12 }),
				rec(7, 2, "accepted", "ready", func(r *Record) { r.FD, r.Ready = 12, "IN" })},
			[]Record{rec(6, 0, "listener", "accept4", func(r *Record) { r.N = 12 }),
				rec(7, 2, "accepted", "ready", func(r *Record) { r.FD, r.Ready = 12, "IN" })}},
		{"accept4 EMFILE", "EMFILE twice", []Record{rec(5, 0, "listener", "accept4", func(r *Record) { r.Err = "EMFILE" }),
			rec(6, 0, "listener", "accept4", func(r *Record) { r.Err = "EMFILE" })},
			[]Record{rec(5, 0, "listener", "accept4", func(r *Record) { r.Err = "EAGAIN" })}},
		{"write after EOF", "after reading EOF", []Record{rec(5, 2, "accepted", "read", nil), rec(6, 2, "accepted", "write", func(r *Record) { r.N = 6 })},
			[]Record{rec(5, 2, "accepted", "write", func(r *Record) { r.N = 6 }), rec(6, 2, "accepted", "read", nil)}},
		{"data read before reset", "data sent before the RST was still read",
			[]Record{rec(5, 1, "dialed", "read", func(r *Record) { r.N = 6 }), rec(6, 1, "dialed", "read", func(r *Record) { r.Err = "ECONNRESET" })},
			[]Record{rec(5, 1, "dialed", "read", func(r *Record) { r.N = 6 })}},
		{"OnOpen only after the TLS handshake", "OnOpen for it came only when the server's TLS handshake was done",
			[]Record{rec(6, 0, "listener", "accept4", func(r *Record) { r.N = 12 }),
				rec(7, 2, "accepted", "open", func(r *Record) { r.FD = 12 }),
				rec(8, 2, "accepted", "tls", func(r *Record) { r.FD, r.Detail = 12, "start" }),
				rec(900, 2, "accepted", "tls", func(r *Record) { r.FD, r.Detail = 12, "done version=TLS1.3 alpn=- resumed=false" })},
			[]Record{rec(6, 0, "listener", "accept4", func(r *Record) { r.N = 12 }),
				rec(7, 2, "accepted", "open", func(r *Record) { r.FD = 12 }),
				rec(8, 2, "accepted", "tls", func(r *Record) { r.FD, r.Detail = 12, "start" }),
				rec(900, 2, "accepted", "tls", func(r *Record) { r.FD, r.Detail, r.Err = 12, "failed", "ECONNRESET" })}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := strings.Join(Findings(tc.shown), "\n"); !strings.Contains(got, tc.want) {
				t.Errorf("events that show it: findings %q, want one containing %q", got, tc.want)
			}
			if got := strings.Join(Findings(tc.notShow), "\n"); strings.Contains(got, tc.want) {
				t.Errorf("events that do not show it: findings %q contain %q", got, tc.want)
			}
			for _, f := range Findings(tc.shown) {
				checkSelfContained(t, f)
			}
		})
	}
}

// selfContained matches what a reader of the trace cannot look up: claim
// numbers, section marks and documents outside the repository.
var selfContained = regexp.MustCompile(`\bC[1-9]\b|§|KERNEL\.md|design[ ]note|the[ ]note`)

// checkSelfContained: a finding states the common belief, then what the
// kernel did, in words a newcomer can follow without another document.
func checkSelfContained(t *testing.T, f string) {
	t.Helper()
	common, here, ok := strings.Cut(f, ". Here: ")
	if !ok || !strings.HasPrefix(common, "Common picture: ") || here == "" {
		t.Errorf("finding %q is not \"Common picture: <belief>. Here: <what happened>\"", f)
	}
	if m := selfContained.FindString(f); m != "" {
		t.Errorf("finding %q cites %q", f, m)
	}
}

// TestFooterTitleSelfContained: the footer's heading names no outside
// document either.
func TestFooterTitleSelfContained(t *testing.T) {
	if m := selfContained.FindString(footerTitle); m != "" {
		t.Errorf("footer title %q cites %q", footerTitle, m)
	}
}

// TestTLSFindingCountsRoundTrips checks the TLS finding on the tls
// fixture: the delay from accept4() to the server's handshake end, the
// one round trip a TLS 1.3 handshake takes, and the client's wait.
func TestTLSFindingCountsRoundTrips(t *testing.T) {
	got := findTLSOpenAfterHandshake(records(tlsEvents()))
	for _, want := range []string{"accept4() returned fd 10", "0.7 ms later", "after one round trip",
		"the client's OnOpen came 0.7 ms after its connect completed"} {
		if !strings.Contains(got, want) {
			t.Errorf("finding %q lacks %q", got, want)
		}
	}
	checkSelfContained(t, got)
}

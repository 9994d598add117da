package trace

import (
	"bytes"
	"testing"

	"github.com/epollnet/epollnet/cmd/epollnet/internal/clitest"
	"github.com/epollnet/epollnet/cmd/epollnet/internal/tracefmt"
)

// runCLI runs "epollnet trace" with args.
func runCLI(t *testing.T, args ...string) (int, string, string) {
	t.Helper()
	return clitest.Run(t, Run, args...)
}

// match names a record a test looks for.
type match struct {
	desc string
	ok   func(tracefmt.Record) bool
}

func m(desc string, ok func(tracefmt.Record) bool) match { return match{desc, ok} }

// inOrder finds records matching ms, each after the previous one, and
// returns them; it fails t with the trace if one is missing.
func inOrder(t *testing.T, recs []tracefmt.Record, ms ...match) []tracefmt.Record {
	t.Helper()
	var found []tracefmt.Record
	i := 0
	for _, want := range ms {
		for i < len(recs) && !want.ok(recs[i]) {
			i++
		}
		if i == len(recs) {
			var b bytes.Buffer
			tracefmt.WriteText(&b, &tracefmt.Diagram{Records: recs}, tracefmt.TextOptions{})
			t.Fatalf("no %q after %d earlier matches in the trace:\n%s", want.desc, len(found), b.String())
		}
		found = append(found, recs[i])
		i++
	}
	return found
}

// is matches records of kind and role with extra conditions.
func is(kind, role string, extra ...func(tracefmt.Record) bool) func(tracefmt.Record) bool {
	return func(r tracefmt.Record) bool {
		if r.Kind != kind || (role != "" && r.Role != role) {
			return false
		}
		for _, f := range extra {
			if !f(r) {
				return false
			}
		}
		return true
	}
}

func errIs(e string) func(tracefmt.Record) bool {
	return func(r tracefmt.Record) bool { return r.Err == e }
}
func nIs(n int) func(tracefmt.Record) bool { return func(r tracefmt.Record) bool { return r.N == n } }
func stateIs(s string) func(tracefmt.Record) bool {
	return func(r tracefmt.Record) bool { return r.TCPState == s }
}
func readyIs(s string) func(tracefmt.Record) bool {
	return func(r tracefmt.Record) bool { return r.Ready == s }
}
func detailIs(s string) func(tracefmt.Record) bool {
	return func(r tracefmt.Record) bool { return r.Detail == s }
}

//go:build linux

package epollnet

import (
	"context"
	"net"
	"testing"
	"time"
)

func TestStatsCountDialFailuresByClassAndEAGAIN(t *testing.T) {
	e := newEngine(t, Options{Loops: 1})
	probe, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	closed := probe.Addr().String()
	probe.Close() // nothing listens there now: connect is refused
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if _, err := e.Dial(ctx, "tcp", closed, newRecorder(), nil); Classify(err) != ClassRefused {
		t.Fatalf("dial to a closed port: %v (%v)", err, Classify(err))
	}
	r := newRecorder()
	ln := listen(t, e, r, nil)
	dialTCP(t, ln) // never reads
	sc := recv(t, r.opened, "OnOpen")
	for sc.Buffered() == 0 {
		if _, err := sc.Write(make([]byte, 64<<10)); err != nil {
			t.Fatal(err)
		}
	}
	st := e.Stats().Total
	if st.DialFailed != 1 || st.DialFailedBy[ClassRefused] != 1 {
		t.Fatalf("DialFailed %d, by class %v", st.DialFailed, st.DialFailedBy)
	}
	if st.WriteEAGAIN == 0 {
		t.Fatal("a write the kernel refused was not counted")
	}
	if st.Events == 0 || st.Wakeups == 0 || st.Accepted != 1 || st.Opened != 1 {
		t.Fatalf("counters %+v", st)
	}
}

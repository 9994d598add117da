package epollnet

import (
	"net"
	"os"
	"testing"

	"github.com/epollnet/epollnet/internal/nettest"
)

// TestMain ends the run with one line saying which tests skipped for want
// of root or a program, and how to run them. Package net's poller takes
// two descriptors for good at its first use; taking them first keeps them
// out of the leak checks of whichever test happens to use net first.
func TestMain(m *testing.M) {
	if l, err := net.Listen("tcp", "127.0.0.1:0"); err == nil {
		l.Close()
	}
	os.Exit(nettest.Main(m))
}

package trace

import (
	"os"
	"testing"

	"github.com/epollnet/epollnet/internal/nettest"
)

// TestMain ends the run with one line saying which tests skipped for want
// of root or a program, and how to run them.
func TestMain(m *testing.M) { os.Exit(nettest.Main(m)) }

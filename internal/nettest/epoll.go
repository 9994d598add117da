package nettest

import (
	"testing"

	"github.com/epollnet/epollnet/internal/sys"
)

// NeedEpoll skips a test that pins Linux kernel behaviour (epoll's reports,
// SIOCOUTQ, TCP_INFO, raw descriptors handed to or taken from the engine)
// when the engine runs on the portable backend, which has none of them.
// why says what the test needs, for the skip message.
func NeedEpoll(t testing.TB, why string) {
	t.Helper()
	if sys.Backend != "epoll" {
		Skip(t, "the epoll backend", "run them on Linux without -tags epollnet_portable",
			"needs the Linux epoll backend (this build uses %q): %s", sys.Backend, why)
	}
}

package epollnet

import "github.com/epollnet/epollnet/internal/sys"

// Backend names the readiness backend this build uses: "epoll" on Linux,
// or "portable" (goroutines over the net package) on every other platform
// and on Linux built with -tags epollnet_portable. Both give the same
// Handler semantics; docs/portable.md says what differs.
func Backend() string { return sys.Backend }

//go:build !linux || epollnet_portable

package trace

import (
	"context"
	"fmt"
	"runtime"

	"github.com/epollnet/epollnet"
	"github.com/epollnet/epollnet/cmd/epollnet/internal/tracefmt"
)

// traceRun needs the epoll backend: trace records epoll_ctl, epoll_wait's
// reports and the kernel's TCP states, which the portable backend (Go's
// net package, goroutines per connection) does not have.
func traceRun(ctx context.Context, o traceOptions, out *output) (*tracefmt.Diagram, error) {
	return nil, fmt.Errorf("trace needs Linux and the epoll backend: this build (%s, %s backend) has no epoll events to show",
		runtime.GOOS, epollnet.Backend())
}

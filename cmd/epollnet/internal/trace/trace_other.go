//go:build !linux

package trace

import (
	"context"
	"fmt"
	"runtime"

	"github.com/epollnet/epollnet/cmd/epollnet/internal/tracefmt"
)

// traceRun needs epoll: elsewhere there is nothing to trace.
func traceRun(ctx context.Context, o traceOptions, out *output) (*tracefmt.Diagram, error) {
	return nil, fmt.Errorf("unsupported platform %s: epollnet needs Linux epoll", runtime.GOOS)
}

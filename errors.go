package epollnet

import (
	"errors"
	"fmt"
	"net"
	"os"

	"github.com/epollnet/epollnet/internal/sys"
)

// Sentinel errors. Errors returned by public methods are *net.OpError values
// wrapping one of these (or a syscall error named after its system call), so
// both errors.Is(err, ErrClosed) and errors.Is(err, syscall.ECONNRESET) work.
var (
	// ErrUnsupported is returned by New on platforms without epoll.
	ErrUnsupported = sys.ErrUnsupported

	// ErrClosed is returned by a method called on a connection or listener
	// that is closed or closing. It matches net.ErrClosed too.
	ErrClosed = fmt.Errorf("epollnet: use of closed connection: %w", net.ErrClosed)

	// ErrEngineClosed is returned by engine methods after Shutdown or Close.
	ErrEngineClosed = errors.New("epollnet: engine closed")

	// ErrPeerClosed is the close reason when the peer ended the stream (FIN)
	// and the connection then closed without a local error.
	ErrPeerClosed = errors.New("epollnet: connection closed by peer")

	// ErrPeerReset is the close reason when the peer reset the connection.
	// The reason also wraps the syscall error (ECONNRESET or EPIPE).
	ErrPeerReset = errors.New("epollnet: connection reset by peer")

	// ErrAborted is the close reason after Abort.
	ErrAborted = errors.New("epollnet: connection aborted locally")

	// ErrWriteCapExceeded is returned by Write when the connection's pending
	// output would exceed Options.MaxWriteBuffer; the connection is then closed
	// with this reason. Nothing is dropped silently.
	ErrWriteCapExceeded = errors.New("epollnet: write buffer cap exceeded")

	// ErrReadCapExceeded is the close reason when the handler left more than
	// Options.MaxReadBuffer bytes unconsumed.
	ErrReadCapExceeded = errors.New("epollnet: read buffer cap exceeded")

	// ErrEngineShutdown is the close reason of connections closed by
	// Engine.Shutdown or Engine.Close.
	ErrEngineShutdown = errors.New("epollnet: engine shut down")

	// ErrIdleTimeout is the close reason when a connection saw neither reads
	// nor writes for its idle timeout. It is a net.Error with Timeout() true.
	ErrIdleTimeout error = &timeoutError{"epollnet: idle timeout"}

	// ErrReadTimeout is the close reason when no data arrived for the
	// connection's read timeout. It is a net.Error with Timeout() true.
	ErrReadTimeout error = &timeoutError{"epollnet: read timeout"}

	// ErrLingerTimeout is the close reason when a graceful close waited for
	// the peer's FIN for Options.LingerTimeout in vain; the data passed to
	// Write was flushed to the kernel before.
	ErrLingerTimeout error = &timeoutError{"epollnet: linger timeout"}
)

// PROXY protocol refusals, reported to ProxyConfig.OnReject. The handler
// never sees these connections.
var (
	// ErrProxyUntrusted: a connection from a source outside
	// ProxyConfig.Trusted was refused.
	ErrProxyUntrusted = errors.New("epollnet: connection from a source not trusted to send a PROXY header")

	// ErrProxyHeader: the PROXY protocol header was malformed, or the peer
	// closed the connection before completing it. The error says which.
	ErrProxyHeader = errors.New("epollnet: invalid PROXY protocol header")

	// ErrProxyTimeout: the complete header had not arrived within
	// ProxyConfig.HeaderTimeout. It is a net.Error with Timeout() true.
	ErrProxyTimeout error = &timeoutError{"epollnet: PROXY protocol header timeout"}
)

// timeoutError is a net.Error whose Timeout method reports true and that
// matches os.ErrDeadlineExceeded, as Go's own deadline errors do.
type timeoutError struct{ msg string }

func (e *timeoutError) Error() string   { return e.msg }
func (e *timeoutError) Timeout() bool   { return true }
func (e *timeoutError) Temporary() bool { return true }
func (e *timeoutError) Is(target error) bool {
	return target == os.ErrDeadlineExceeded
}

// reasonError joins a close reason with the syscall error behind it, so that
// errors.Is matches either one: ErrPeerReset and syscall.ECONNRESET.
type reasonError struct {
	reason error
	err    error
}

func (e *reasonError) Error() string   { return e.reason.Error() + ": " + e.err.Error() }
func (e *reasonError) Unwrap() []error { return []error{e.reason, e.err} }

func withCause(reason, err error) error {
	if err == nil || err == reason {
		return reason
	}
	return &reasonError{reason: reason, err: err}
}

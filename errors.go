package epollnet

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net"
	"os"
	"syscall"

	"github.com/epollnet/epollnet/internal/sys"
)

// This file holds every error value and type of the package, the wrapping
// of read and write errors into close reasons, and Classify.

// Sentinel errors. Errors returned by public methods are *net.OpError values
// wrapping one of these (or a syscall error named after its system call), so
// both errors.Is(err, ErrClosed) and errors.Is(err, syscall.ECONNRESET) work.
var (
	// ErrUnsupported is returned, by the portable backend (see Backend),
	// for what needs the Linux epoll backend: ListenFD, ListenFrom,
	// socket activation and DialConfig.Socket.
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
	// Engine.Shutdown or Engine.Abort.
	ErrEngineShutdown = errors.New("epollnet: engine shut down")

	// ErrIdleTimeout is the close reason when a connection saw neither reads
	// nor writes for its idle timeout. It is a net.Error with Timeout() true.
	ErrIdleTimeout error = &timeoutError{"epollnet: idle timeout"}

	// ErrReadTimeout is the close reason when no data arrived for the
	// connection's read timeout. It is a net.Error with Timeout() true.
	ErrReadTimeout error = &timeoutError{"epollnet: read timeout"}

	// ErrLingerTimeout is the close reason when a graceful close, its
	// output flushed to the kernel and its FIN sent, saw the peer
	// acknowledge nothing more and send no FIN for Options.LingerTimeout.
	ErrLingerTimeout error = &timeoutError{"epollnet: linger timeout"}

	// ErrSendTimeout is the close reason when a graceful close's output
	// made no progress for Options.SendTimeout: the kernel took no byte of
	// it and the peer acknowledged nothing, so the peer stopped reading.
	// The connection is reset and the output still queued is lost. It is a
	// net.Error with Timeout() true.
	ErrSendTimeout error = &timeoutError{"epollnet: send timeout"}
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

// TLS failures (tls.go). A failed server handshake is reported to
// ListenConfig.OnTLSError, a failed client handshake as the dial error.
var (
	// ErrTLSHandshake: the TLS handshake failed. The error reported wraps
	// both this and crypto/tls's own error (an alert, a
	// tls.RecordHeaderError, an x509 verification error, io.EOF from a
	// peer that left), so errors.Is and errors.As find either; it is a
	// net.Error.
	ErrTLSHandshake = errors.New("epollnet: TLS handshake failed")

	// ErrTLSHandshakeTimeout: the handshake had not completed within
	// ListenConfig.TLSHandshakeTimeout or DialConfig.TLSHandshakeTimeout.
	// It is a net.Error with Timeout() true.
	ErrTLSHandshakeTimeout error = &timeoutError{"epollnet: TLS handshake timeout"}

	// ErrTLSRecord is the close reason when the TLS record layer failed
	// after the handshake: a record that did not decrypt or parse, a fatal
	// alert from the peer, or the stream ending inside a record. The
	// reason wraps crypto/tls's error too (io.ErrUnexpectedEOF for a
	// truncated record).
	ErrTLSRecord = errors.New("epollnet: TLS record error")
)

// Errors that are not exported: callers match them through net.Error, the
// exported value they wrap, or not at all.
var (
	// errDialTimeout is the close reason of a dial whose deadline passed:
	// the loop's timer closed the socket, because on a blackholed address
	// the kernel alone waits about 134 s before it gives up with ETIMEDOUT
	// (see docs/kernel.md, "A blackholed connect").
	errDialTimeout error = &timeoutError{"epollnet: dial timeout"}

	// errDialOnLoop is returned by the blocking Dial called from a handler.
	errDialOnLoop = errors.New("epollnet: blocking Dial called on an event loop goroutine; use DialAsync")

	// Pipe's argument errors.
	errPipeArgs    = errors.New("epollnet: Pipe needs two distinct connections")
	errPipeLoops   = errors.New("epollnet: Pipe needs two connections of one event loop; dial the second with Conn.DialAsync")
	errPipeOffLoop = errors.New("epollnet: Pipe called off the connections' event loop goroutine; call it from their handler")

	// errNilHandler is returned by Listen, Dial and their variants without a
	// Handler.
	errNilHandler = errors.New("epollnet: nil Handler")

	// errSocketPortable is returned for DialConfig.Socket by the portable
	// backend, whose descriptors are not the operating system's.
	errSocketPortable = fmt.Errorf("epollnet: DialConfig.Socket: %w", ErrUnsupported)

	// errDialConfig is returned for a negative duration in DialConfig.
	errDialConfig = errors.New("epollnet: negative Timeout, KeepAlive or TLSHandshakeTimeout in DialConfig")

	// errProxyEOF is the reason a connection is refused when the peer closed
	// it before its PROXY header was complete.
	errProxyEOF = fmt.Errorf("%w: the peer closed the connection before completing it", ErrProxyHeader)
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

// tlsError joins ErrTLSHandshake or ErrTLSRecord with crypto/tls's error,
// like reasonError, and is a net.Error whose Timeout reports that of the
// error it wraps.
type tlsError struct {
	reason error
	err    error
}

func (e *tlsError) Error() string   { return e.reason.Error() + ": " + e.err.Error() }
func (e *tlsError) Unwrap() []error { return []error{e.reason, e.err} }
func (e *tlsError) Temporary() bool { return false }
func (e *tlsError) Timeout() bool {
	var ne net.Error
	return errors.As(e.err, &ne) && ne.Timeout()
}

// readError names the failing read and marks a vanished peer as a reset.
func readError(err error) error {
	rerr := sys.Wrap("read", err)
	if err == syscall.ECONNRESET {
		return withCause(ErrPeerReset, rerr)
	}
	return rerr
}

// writeError names the failing call and marks a vanished peer as a reset.
func writeError(err error) error {
	werr := sys.Wrap("sendmsg", err)
	if err == syscall.EPIPE || err == syscall.ECONNRESET {
		return withCause(ErrPeerReset, werr)
	}
	return werr
}

// Dial errors. A failed dial is always reported as a *net.OpError with Op
// "dial", the network, the remote address (nil when a hostname could not be
// resolved) and, when DialConfig.LocalAddr was set, that address as Source.
// Its Err is one of:
//
//   - an *os.SyscallError naming the system call ("socket", "setsockopt",
//     "bind", "connect", "getsockopt", "getpeername", "epoll_ctl") around the
//     errno, so errors.Is(err, syscall.ECONNREFUSED) works. A connect that
//     failed asynchronously is reported as "connect" with the errno read from
//     SO_ERROR, as Go's net package does;
//   - the dial deadline (DialConfig.Timeout), a net.Error whose Timeout
//     method reports true and which matches os.ErrDeadlineExceeded;
//   - context.Canceled or context.DeadlineExceeded from Dial's context;
//   - a *net.DNSError or *net.AddrError from name resolution or parsing;
//   - ErrEngineShutdown when the engine shut down during the dial, or
//     ErrEngineClosed when it was already closed.
//
// Classify maps all of them, and the close reasons of open connections, to
// a handful of classes.

// ErrorClass is a coarse cause of a dial or connection error, for counting
// failures by kind (a load generator's report, a retry policy).
type ErrorClass int

// Error classes, as returned by Classify.
const (
	// ClassNone is the class of a nil error.
	ClassNone ErrorClass = iota
	// ClassRefused: nobody listens there. ECONNREFUSED, from an RST
	// answering the SYN (closed port, nft "reject with tcp reset") or from
	// ICMP port unreachable; for Unix sockets also ENOENT from connect (no
	// socket file) (see docs/kernel.md, "A refused connect", "An
	// ICMP-rejected connect" and "AF_UNIX connect returns 0 or EAGAIN").
	ClassRefused
	// ClassTimeout: the dial deadline passed, Dial's context deadline
	// passed, the kernel gave up (ETIMEDOUT, after TCP_SYNCNT or
	// TCP_USER_TIMEOUT), or any other net.Error whose Timeout reports true,
	// such as ErrIdleTimeout and ErrReadTimeout (see docs/kernel.md, "A
	// blackholed connect").
	ClassTimeout
	// ClassUnreachable: no route or an ICMP error other than port
	// unreachable. EHOSTUNREACH, ENETUNREACH, EHOSTDOWN, ENETDOWN,
	// and EACCES on TCP, which is how Linux reports ICMPv6 "administratively
	// prohibited" (over IPv4 the same reject gives EHOSTUNREACH).
	ClassUnreachable
	// ClassReset: the connection was reset or aborted: ECONNRESET,
	// ECONNABORTED, EPIPE, or a reason matching ErrPeerReset. A connection
	// the client already reported open can end this way when the server's
	// accept queue overflowed with tcp_abort_on_overflow=1 (see
	// docs/kernel.md, "A full backlog drops SYNs silently").
	ClassReset
	// ClassCanceled: Dial's context was canceled.
	ClassCanceled
	// ClassNoLocalPorts: EADDRNOTAVAIL, usually the ephemeral port range is
	// exhausted for this destination (see DialConfig.LocalAddr); also a
	// LocalAddr that is not an address of this host.
	ClassNoLocalPorts
	// ClassTLS: the TLS handshake or record layer failed: ErrTLSHandshake
	// (an unknown authority, a wrong name, an expired certificate, an
	// alert, a peer that does not speak TLS) and ErrTLSRecord, or a
	// crypto/tls or x509 error itself. A handshake that timed out is
	// ClassTimeout, one cut by a reset ClassReset: the errno and timeouts
	// decide first.
	ClassTLS
	// ClassOther is every other error: resolution failures, invalid
	// arguments, engine shutdown, EMFILE, EACCES on a Unix socket file...
	ClassOther

	numErrorClasses = iota // the size of LoopStats.DialFailedBy
)

var errorClassNames = [...]string{"none", "refused", "timeout", "unreachable", "reset",
	"canceled", "no-local-ports", "tls", "other"}

// String returns the class's short name, e.g. "refused" or "no-local-ports".
func (c ErrorClass) String() string {
	if c >= 0 && int(c) < len(errorClassNames) {
		return errorClassNames[c]
	}
	return fmt.Sprintf("ErrorClass(%d)", int(c))
}

// Classify returns the class of err, which may be a dial error, a close
// reason given to Handler.OnClose or an error returned by a Conn method.
// The errno carried by err decides first; then cancellation, timeouts,
// ErrPeerReset and TLS failures; everything else is ClassOther.
func Classify(err error) ErrorClass {
	if err == nil {
		return ClassNone
	}
	var errno syscall.Errno
	if errors.As(err, &errno) {
		if c := classifyErrno(err, errno); c != ClassOther {
			return c
		}
	}
	var ne net.Error
	switch {
	case errors.Is(err, context.Canceled):
		return ClassCanceled
	case errors.Is(err, context.DeadlineExceeded), errors.Is(err, os.ErrDeadlineExceeded):
		return ClassTimeout
	case errors.As(err, &ne) && ne.Timeout() && errno == 0:
		// An errno's own Timeout method also says true for EAGAIN, which
		// is not a timeout here; errno classes were decided above.
		return ClassTimeout
	case errors.Is(err, ErrPeerReset):
		return ClassReset
	case isTLSError(err):
		return ClassTLS
	}
	return ClassOther
}

// isTLSError reports a TLS failure: the engine's, or one that crypto/tls
// or crypto/x509 returned (for an error from a tls.Conn used directly).
func isTLSError(err error) bool {
	var (
		alert     tls.AlertError
		header    tls.RecordHeaderError
		verify    *tls.CertificateVerificationError
		authority x509.UnknownAuthorityError
		invalid   x509.CertificateInvalidError
		hostname  x509.HostnameError
	)
	return errors.Is(err, ErrTLSHandshake) || errors.Is(err, ErrTLSRecord) ||
		errors.As(err, &alert) || errors.As(err, &header) || errors.As(err, &verify) ||
		errors.As(err, &authority) || errors.As(err, &invalid) || errors.As(err, &hostname)
}

// classifyErrno maps the errno found in err. EACCES and ENOENT mean
// different things on Unix sockets and elsewhere, so the operation decides.
func classifyErrno(err error, errno syscall.Errno) ErrorClass {
	switch errno {
	case syscall.ECONNREFUSED:
		return ClassRefused
	case syscall.ENOENT:
		if syscallName(err) == "connect" {
			return ClassRefused // AF_UNIX: no socket file at that path
		}
	case syscall.ETIMEDOUT:
		return ClassTimeout
	case syscall.EHOSTUNREACH, syscall.ENETUNREACH, syscall.EHOSTDOWN, syscall.ENETDOWN:
		return ClassUnreachable
	case syscall.EACCES:
		if !isUnixError(err) {
			return ClassUnreachable // ICMPv6 administratively prohibited
		}
	case syscall.ECONNRESET, syscall.ECONNABORTED, syscall.EPIPE:
		return ClassReset
	case syscall.EADDRNOTAVAIL:
		return ClassNoLocalPorts
	}
	return ClassOther
}

// syscallName returns the name of the system call that err wraps, or "".
func syscallName(err error) string {
	var se *os.SyscallError
	if errors.As(err, &se) {
		return se.Syscall
	}
	return ""
}

// isUnixError reports whether err is an *net.OpError on a Unix socket.
func isUnixError(err error) bool {
	var oe *net.OpError
	return errors.As(err, &oe) && oe.Net == "unix"
}

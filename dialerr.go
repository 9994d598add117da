package epollnet

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"syscall"
)

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

// errDialTimeout is the close reason of a dial whose deadline passed: the
// loop's timer closed the socket, because on a blackholed address the kernel
// alone waits about 134 s before it gives up with ETIMEDOUT (see
// docs/kernel.md, "A blackholed connect").
var errDialTimeout error = &timeoutError{"epollnet: dial timeout"}

// errDialOnLoop is returned by the blocking Dial called from a handler.
var errDialOnLoop = errors.New("epollnet: blocking Dial called on an event loop goroutine; use DialAsync")

// errNilHandler is returned by Dial and DialAsync without a Handler.
var errNilHandler = errors.New("epollnet: nil Handler")

// errDialConfig is returned for a negative duration in DialConfig.
var errDialConfig = errors.New("epollnet: negative Timeout or KeepAlive in DialConfig")

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
	// ClassOther is every other error: resolution failures, invalid
	// arguments, engine shutdown, EMFILE, EACCES on a Unix socket file...
	ClassOther

	numErrorClasses = iota // the size of LoopStats.DialFailedBy
)

var errorClassNames = [...]string{"none", "refused", "timeout", "unreachable", "reset",
	"canceled", "no-local-ports", "other"}

// String returns the class's short name, e.g. "refused" or "no-local-ports".
func (c ErrorClass) String() string {
	if c >= 0 && int(c) < len(errorClassNames) {
		return errorClassNames[c]
	}
	return fmt.Sprintf("ErrorClass(%d)", int(c))
}

// Classify returns the class of err, which may be a dial error, a close
// reason given to Handler.OnClose or an error returned by a Conn method.
// The errno carried by err decides first; then cancellation, timeouts and
// ErrPeerReset; everything else is ClassOther.
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
	}
	return ClassOther
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

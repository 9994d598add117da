//go:build unix

package tracefmt

import (
	"syscall"

	"golang.org/x/sys/unix"
)

// errnoName returns the symbol of e on this platform ("EINPROGRESS"); the
// numbers differ between Linux and the BSDs, the symbols do not.
func errnoName(e syscall.Errno) string { return unix.ErrnoName(e) }

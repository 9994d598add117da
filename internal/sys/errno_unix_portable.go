//go:build !windows && (!linux || epollnet_portable)

package sys

import "syscall"

// mapErrno is the identity where errno values are Unix ones.
func mapErrno(e syscall.Errno) syscall.Errno { return e }

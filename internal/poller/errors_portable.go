//go:build !linux || epollnet_portable

package poller

import "syscall"

// The errnos epoll_ctl gives for the same mistakes.
var (
	errExist error = syscall.EEXIST
	errNoEnt error = syscall.ENOENT
)

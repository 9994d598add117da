//go:build !unix

package tracefmt

import "syscall"

// errnoName has no table on this platform; the message is used instead.
func errnoName(e syscall.Errno) string { return "" }

//go:build unix

package cli

import "syscall"

// OpenFileLimit returns RLIMIT_NOFILE's soft limit (Go raises it to the
// hard one at start-up), or false if unknown: the commands derive their
// default connection caps from it.
func OpenFileLimit() (uint64, bool) {
	var rl syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &rl); err != nil {
		return 0, false
	}
	return uint64(rl.Cur), true
}

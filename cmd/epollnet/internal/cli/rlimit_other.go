//go:build !unix

package cli

// OpenFileLimit reports no limit: the platform has no RLIMIT_NOFILE.
func OpenFileLimit() (uint64, bool) { return 0, false }

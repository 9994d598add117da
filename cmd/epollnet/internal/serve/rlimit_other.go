//go:build !unix

package serve

// openFileLimit reports no limit: the platform has no RLIMIT_NOFILE.
func openFileLimit() (uint64, bool) { return 0, false }

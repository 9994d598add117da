// Package nettest is the testing glue around internal/netns: a test gets
// its own Linux network namespace with NewNS, which skips the test without
// root (NeedRoot) and closes the namespace with the test. The namespace
// itself, its nftables rules and its sockets are netns's; NS and the ICMP
// codes are re-exported here so a test needs one import.
//
// It imports package testing, so only tests may import it: the CLI uses
// netns directly.
//
// The fixture exists only on Linux; on other platforms the package is empty.
package nettest

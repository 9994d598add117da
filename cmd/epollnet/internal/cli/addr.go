package cli

import (
	"errors"
	"net"
	"strings"
	"sync/atomic"
)

// Protocols serve speaks and bench drives.
const (
	ProtoEcho    = "echo"
	ProtoDiscard = "discard"
	ProtoHTTP    = "http"
	ProtoRaw     = "raw" // bench only: send, expect nothing back
)

// SplitAddr tells "unix:/path" from a TCP "host:port" and checks the form:
// the address syntax of serve --listen and bench --target.
func SplitAddr(s string) (network, address string, err error) {
	if path, ok := strings.CutPrefix(s, "unix:"); ok {
		if path == "" {
			return "", "", errors.New("empty Unix socket path")
		}
		return "unix", path, nil
	}
	if _, port, err := net.SplitHostPort(s); err != nil || port == "" {
		return "", "", errors.New("want HOST:PORT or unix:/path")
	}
	return "tcp", s, nil
}

// PaddedCount is a counter owned by one event loop and read by a report,
// padded to a cache line so that two loops never write the same one.
type PaddedCount struct {
	atomic.Uint64
	_ [56]byte
}

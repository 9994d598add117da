package bench

import (
	"os"
	"strconv"
	"strings"
)

// timeWaitSockets returns the TCP sockets in TIME_WAIT in bench's network
// namespace, to every destination (the "tw" count of /proc/net/sockstat,
// read in constant time; listing the sockets to one destination from
// /proc/net/tcp would take a fifth of a second of CPU with the table full,
// inside the run's CPU). ok is false where the count cannot be read.
func timeWaitSockets() (n int, ok bool) {
	b, err := os.ReadFile("/proc/net/sockstat")
	if err != nil {
		return 0, false
	}
	return sockstatTW(string(b))
}

// sockstatTW reads the tw field of sockstat's "TCP:" line.
func sockstatTW(s string) (int, bool) {
	for _, line := range strings.Split(s, "\n") {
		rest, found := strings.CutPrefix(line, "TCP: ")
		if !found {
			continue
		}
		f := strings.Fields(rest)
		for i := 0; i+1 < len(f); i += 2 {
			if f[i] == "tw" {
				n, err := strconv.Atoi(f[i+1])
				return n, err == nil
			}
		}
	}
	return 0, false
}

// readSysctlInt reads an integer sysctl under /proc/sys/net/ipv4.
func readSysctlInt(name string) (int, bool) {
	b, err := os.ReadFile("/proc/sys/net/ipv4/" + name)
	if err != nil {
		return 0, false
	}
	n, err := strconv.Atoi(strings.TrimSpace(string(b)))
	return n, err == nil
}

// localPortRange reads net.ipv4.ip_local_port_range, the ephemeral ports
// connect picks from (for IPv6 too).
func localPortRange() (lo, hi int, ok bool) {
	b, err := os.ReadFile("/proc/sys/net/ipv4/ip_local_port_range")
	if err != nil {
		return 0, 0, false
	}
	f := strings.Fields(string(b))
	if len(f) != 2 {
		return 0, 0, false
	}
	lo, err1 := strconv.Atoi(f[0])
	hi, err2 := strconv.Atoi(f[1])
	return lo, hi, err1 == nil && err2 == nil && lo <= hi
}

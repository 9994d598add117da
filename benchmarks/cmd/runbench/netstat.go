package main

import (
	"os"
	"strconv"
	"strings"
)

// netCounters are the kernel counters that reveal a disturbed run: packets
// the loopback device dropped because a CPU's input backlog
// (net.core.netdev_max_backlog) was full, and the TCP retransmissions
// that follow them. A retransmission on loopback waits for a timer (200 ms
// and up), so a run with either is a run with stalls, not a slow server.
type netCounters struct {
	drops, retrans int64
}

func readNetCounters() netCounters {
	var n netCounters
	if b, err := os.ReadFile("/proc/net/softnet_stat"); err == nil {
		for _, line := range strings.Split(string(b), "\n") {
			if f := strings.Fields(line); len(f) > 1 {
				v, _ := strconv.ParseInt(f[1], 16, 64) // column 2: dropped
				n.drops += v
			}
		}
	}
	if b, err := os.ReadFile("/proc/net/snmp"); err == nil {
		var names []string
		for _, line := range strings.Split(string(b), "\n") {
			rest, ok := strings.CutPrefix(line, "Tcp: ")
			if !ok {
				continue
			}
			f := strings.Fields(rest)
			if names == nil {
				names = f
				continue
			}
			for i, name := range names {
				if name == "RetransSegs" && i < len(f) {
					n.retrans, _ = strconv.ParseInt(f[i], 10, 64)
				}
			}
		}
	}
	return n
}

func (n netCounters) sub(m netCounters) netCounters {
	return netCounters{drops: n.drops - m.drops, retrans: n.retrans - m.retrans}
}

// timeWaitCount returns the TCP sockets in TIME_WAIT in this network
// namespace (the "tw" of /proc/net/sockstat), or -1. The churn scenarios
// fill the table: loadgen closes first, and on loopback both ends share
// it. It holds at most net.ipv4.tcp_max_tw_buckets; a close beyond that
// skips TIME_WAIT (TcpExtTCPTimeWaitOverflow), and connect finds its free
// ports faster, so a run's rate depends on the state earlier runs left.
func timeWaitCount() int64 {
	b, err := os.ReadFile("/proc/net/sockstat")
	if err != nil {
		return -1
	}
	return sockstatTW(string(b))
}

// sockstatTW reads the tw field of sockstat's TCP line.
func sockstatTW(s string) int64 {
	for _, line := range strings.Split(s, "\n") {
		if rest, ok := strings.CutPrefix(line, "TCP: "); ok {
			f := strings.Fields(rest)
			for i := 0; i+1 < len(f); i += 2 {
				if f[i] == "tw" {
					if n, err := strconv.ParseInt(f[i+1], 10, 64); err == nil {
						return n
					}
				}
			}
		}
	}
	return -1
}

const backlogSysctl = "/proc/sys/net/core/netdev_max_backlog"

// setBacklog sets net.core.netdev_max_backlog (machine-wide) and returns a
// function that restores the old value.
func setBacklog(v int) (restore func(), old string, err error) {
	b, err := os.ReadFile(backlogSysctl)
	if err != nil {
		return nil, "", err
	}
	old = strings.TrimSpace(string(b))
	if err := os.WriteFile(backlogSysctl, []byte(strconv.Itoa(v)), 0o644); err != nil {
		return nil, old, err
	}
	return func() { os.WriteFile(backlogSysctl, []byte(old), 0o644) }, old, nil
}

func currentBacklog() string {
	b, _ := os.ReadFile(backlogSysctl)
	return strings.TrimSpace(string(b))
}

// maxTWBuckets is net.ipv4.tcp_max_tw_buckets, as text.
func maxTWBuckets() string {
	b, err := os.ReadFile("/proc/sys/net/ipv4/tcp_max_tw_buckets")
	if err != nil {
		return "?"
	}
	v, err := strconv.ParseFloat(strings.TrimSpace(string(b)), 64)
	if err != nil {
		return "?"
	}
	return thousands(v)
}

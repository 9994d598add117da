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

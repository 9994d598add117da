package bench

import (
	"bufio"
	"encoding/binary"
	"fmt"
	"net/netip"
	"os"
	"strconv"
	"strings"
)

// tcpTimeWait is the state number of TIME_WAIT in /proc/net/tcp.
const tcpTimeWait = "06"

// timeWaitTo counts the sockets of bench's network namespace that are in
// TIME_WAIT with target as their remote end: connections bench closed
// first, each still holding its local port. ok is false where
// /proc/net/tcp (tcp6 for an IPv6 target) cannot be read.
func timeWaitTo(target netip.AddrPort) (n int, ok bool) {
	file, want := "/proc/net/tcp", procAddr(target)
	if !target.Addr().Is4() {
		file = "/proc/net/tcp6"
	}
	f, err := os.Open(file)
	if err != nil {
		return 0, false
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		// sl local_address rem_address st ...
		fields := strings.Fields(sc.Text())
		if len(fields) > 3 && fields[3] == tcpTimeWait && fields[2] == want {
			n++
		}
	}
	return n, sc.Err() == nil
}

// procAddr writes an address as /proc/net/tcp does: each 32-bit word of
// the address as the kernel holds it (network order), printed as a number
// of this machine's byte order, then the port.
func procAddr(ap netip.AddrPort) string {
	var b strings.Builder
	ip := ap.Addr().AsSlice()
	for i := 0; i+4 <= len(ip); i += 4 {
		fmt.Fprintf(&b, "%08X", binary.NativeEndian.Uint32(ip[i:]))
	}
	fmt.Fprintf(&b, ":%04X", ap.Port())
	return b.String()
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

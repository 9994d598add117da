// Package sockopt holds the socket options the suite's Go clients share.
package sockopt

import "syscall"

// ipBindAddressNoPort is IP_BIND_ADDRESS_NO_PORT (Linux 4.2), which the
// syscall package does not name.
const ipBindAddressNoPort = 24

// BindAddressNoPort is a net.Dialer Control function that defers the
// choice of the local port from bind to connect, where the kernel picks
// one free for this destination: with several source addresses, more than
// 64k connections reach one server port.
func BindAddressNoPort(_, _ string, rc syscall.RawConn) error {
	var serr error
	err := rc.Control(func(fd uintptr) {
		serr = syscall.SetsockoptInt(int(fd), syscall.IPPROTO_IP, ipBindAddressNoPort, 1)
	})
	if err != nil {
		return err
	}
	return serr
}

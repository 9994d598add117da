//go:build linux && !epollnet_portable

package sys

import (
	"fmt"
	"net"
	"net/netip"

	"golang.org/x/sys/unix"
)

// sockaddrToAddr converts a kernel socket address to a net.Addr. For an
// unnamed Unix socket it returns a *net.UnixAddr with an empty name.
func sockaddrToAddr(sa unix.Sockaddr) net.Addr {
	switch sa := sa.(type) {
	case *unix.SockaddrInet4:
		return &net.TCPAddr{IP: net.IP(sa.Addr[:]).To16(), Port: sa.Port}
	case *unix.SockaddrInet6:
		a := netip.AddrFrom16(sa.Addr)
		zone := ""
		if sa.ZoneId != 0 {
			if ifi, err := net.InterfaceByIndex(int(sa.ZoneId)); err == nil {
				zone = ifi.Name
			}
		}
		return &net.TCPAddr{IP: a.AsSlice(), Port: sa.Port, Zone: zone}
	case *unix.SockaddrUnix:
		return &net.UnixAddr{Name: sa.Name, Net: "unix"}
	}
	return nil
}

// AddrToSockaddr converts a *net.TCPAddr or *net.UnixAddr to a kernel socket
// address. An IPv4 address (or an IPv4-mapped one) gives AF_INET.
func AddrToSockaddr(addr net.Addr) (unix.Sockaddr, error) {
	switch a := addr.(type) {
	case *net.TCPAddr:
		if ip4 := a.IP.To4(); ip4 != nil {
			sa := &unix.SockaddrInet4{Port: a.Port}
			copy(sa.Addr[:], ip4)
			return sa, nil
		}
		if len(a.IP) == 0 {
			return &unix.SockaddrInet6{Port: a.Port}, nil
		}
		if ip6 := a.IP.To16(); ip6 != nil {
			sa := &unix.SockaddrInet6{Port: a.Port}
			copy(sa.Addr[:], ip6)
			if a.Zone != "" {
				ifi, err := net.InterfaceByName(a.Zone)
				if err != nil {
					return nil, err
				}
				sa.ZoneId = uint32(ifi.Index)
			}
			return sa, nil
		}
		return nil, fmt.Errorf("epollnet: invalid IP address %v", a.IP)
	case *net.UnixAddr:
		return &unix.SockaddrUnix{Name: a.Name}, nil
	}
	return nil, fmt.Errorf("epollnet: unsupported address type %T", addr)
}

// Family returns the address family a socket for addr must have. A TCP
// address with no IP gives AF_INET6, which is dual-stack unless IPV6_V6ONLY.
func Family(addr net.Addr) int {
	switch a := addr.(type) {
	case *net.TCPAddr:
		if a.IP.To4() != nil {
			return unix.AF_INET
		}
		return unix.AF_INET6
	case *net.UnixAddr:
		return unix.AF_UNIX
	}
	return -1
}

//go:build windows

package sys

import "syscall"

// windowsErrnos maps the Winsock and Win32 codes that the net package
// returns to the errnos the engine and Classify know.
var windowsErrnos = map[syscall.Errno]syscall.Errno{
	64:    syscall.ECONNRESET,    // ERROR_NETNAME_DELETED
	1225:  syscall.ECONNREFUSED,  // ERROR_CONNECTION_REFUSED
	1236:  syscall.ECONNABORTED,  // ERROR_CONNECTION_ABORTED
	10048: syscall.EADDRINUSE,    // WSAEADDRINUSE
	10049: syscall.EADDRNOTAVAIL, // WSAEADDRNOTAVAIL
	10050: syscall.ENETDOWN,      // WSAENETDOWN
	10051: syscall.ENETUNREACH,   // WSAENETUNREACH
	10053: syscall.ECONNABORTED,  // WSAECONNABORTED
	10054: syscall.ECONNRESET,    // WSAECONNRESET
	10055: syscall.ENOBUFS,       // WSAENOBUFS
	10057: syscall.ENOTCONN,      // WSAENOTCONN
	10058: syscall.EPIPE,         // WSAESHUTDOWN
	10060: syscall.ETIMEDOUT,     // WSAETIMEDOUT
	10061: syscall.ECONNREFUSED,  // WSAECONNREFUSED
	10064: syscall.EHOSTDOWN,     // WSAEHOSTDOWN
	10065: syscall.EHOSTUNREACH,  // WSAEHOSTUNREACH
	10024: syscall.EMFILE,        // WSAEMFILE
	10013: syscall.EACCES,        // WSAEACCES
}

// mapErrno translates a Windows code, keeping any other errno.
func mapErrno(e syscall.Errno) syscall.Errno {
	if m, ok := windowsErrnos[e]; ok {
		return m
	}
	return e
}

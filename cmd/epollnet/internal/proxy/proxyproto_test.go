package proxy

import (
	"errors"
	"fmt"
	"io"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"github.com/epollnet/epollnet/cmd/epollnet/internal/clitest"
	"github.com/epollnet/epollnet/internal/nettest"
	"github.com/epollnet/epollnet/internal/proxyproto"
)

// headerBackend accepts connections that begin with a PROXY header,
// sends each parsed header on the channel, and echoes what follows.
func headerBackend(t *testing.T) (string, <-chan *proxyproto.Header) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	headers := make(chan *proxyproto.Header, 16)
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() {
				defer c.Close()
				h, rest, err := readHeader(c)
				if err != nil {
					headers <- nil
					return
				}
				headers <- h
				c.Write(rest)
				// Through plain Reader and Writer: io.Copy between TCP
				// connections splices, through a pipe the net package
				// keeps in a pool, which the leak check would count.
				io.Copy(struct{ io.Writer }{c}, struct{ io.Reader }{c})
			}()
		}
	}()
	return ln.Addr().String(), headers
}

// readHeader reads c until a whole PROXY header parsed, and returns it and
// the bytes that followed it.
func readHeader(c net.Conn) (*proxyproto.Header, []byte, error) {
	c.SetReadDeadline(time.Now().Add(10 * time.Second))
	defer c.SetReadDeadline(time.Time{})
	var buf []byte
	tmp := make([]byte, 512)
	for {
		n, err := c.Read(tmp)
		buf = append(buf, tmp[:n]...)
		h, used, perr := proxyproto.Parse(buf, proxyproto.V1|proxyproto.V2)
		switch {
		case perr == nil:
			return h, buf[used:], nil
		case !errors.Is(perr, proxyproto.ErrNeedMore):
			return nil, nil, perr
		case err != nil:
			return nil, nil, err
		}
	}
}

// dialFrom connects to addr from the local address src (port 0).
func dialFrom(t *testing.T, src, addr string) net.Conn {
	t.Helper()
	d := net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(src)}, Timeout: 5 * time.Second}
	c, err := d.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

// echoLine sends msg on c, half-closes and checks that it comes back.
func echoLine(t *testing.T, c net.Conn, msg string) {
	t.Helper()
	c.SetDeadline(time.Now().Add(10 * time.Second))
	if _, err := io.WriteString(c, msg); err != nil {
		t.Fatal(err)
	}
	c.(*net.TCPConn).CloseWrite()
	got, err := io.ReadAll(c)
	if string(got) != msg || err != nil {
		t.Fatalf("echo: got %q, %v; want %q", got, err, msg)
	}
}

// wantSource checks that a backend's header names the client at src, and
// the proxy's listener as the destination.
func wantSource(t *testing.T, headers <-chan *proxyproto.Header, version int, src net.Addr, dst string) {
	t.Helper()
	var h *proxyproto.Header
	select {
	case h = <-headers:
	case <-time.After(10 * time.Second):
		t.Fatal("the backend got no connection")
	}
	want := src.(*net.TCPAddr).AddrPort()
	if h == nil || h.Version != version || h.Source != want || h.Destination.String() != dst || h.Family != proxyproto.Inet {
		t.Fatalf("header %+v; want version %d from %v to %s", h, version, want, dst)
	}
}

// TestProxyProtocolOut: with --proxy-protocol-out, each backend connection
// begins with a header of that version naming the client (from 127.0.0.2,
// so that it differs from the proxy's own address) and the address it
// connected to; what the client sends follows it.
func TestProxyProtocolOut(t *testing.T) {
	for _, v := range []int{1, 2} {
		t.Run(fmt.Sprintf("v%d", v), func(t *testing.T) {
			clitest.CheckLeaks(t)
			be, headers := headerBackend(t)
			_, addr := startProxy(t, []string{be}, func(o *proxyOptions) { o.proxyOut = v })
			c := dialFrom(t, "127.0.0.2", addr)
			echoLine(t, c, "hello behind the proxy\n")
			wantSource(t, headers, v, c.LocalAddr(), addr)
		})
	}
}

// TestProxyAcceptProxyPassesClientOn: a client that comes through a load
// balancer (a v2 header, here written by the test) is relayed with the
// header's addresses in the proxy's own header, not the balancer's.
func TestProxyAcceptProxyPassesClientOn(t *testing.T) {
	clitest.CheckLeaks(t)
	be, headers := headerBackend(t)
	_, addr := startProxy(t, []string{be}, func(o *proxyOptions) {
		o.proxyOut, o.acceptProxy = 1, true
		o.trusted = []netip.Prefix{netip.MustParsePrefix("127.0.0.1/32")}
	})
	client := netip.MustParseAddrPort("192.0.2.7:40000")
	dst := netip.MustParseAddrPort("198.51.100.1:443")
	h := proxyproto.Header{Version: 2, Command: proxyproto.Proxy, Family: proxyproto.Inet,
		Transport: proxyproto.Stream, Source: client, Destination: dst}
	hdr, err := h.Append(nil)
	if err != nil {
		t.Fatal(err)
	}
	c := dialFrom(t, "127.0.0.1", addr)
	c.Write(hdr)
	echoLine(t, c, "hello\n")
	wantSource(t, headers, 1, net.TCPAddrFromAddrPort(client), dst.String())
}

// TestProxyBetweenHAProxies chains real HAProxy on both sides: a client at
// 127.0.0.2 connects to HAProxy, which sends a PROXY v2 header
// (send-proxy-v2) to the proxy (--accept-proxy), which sends its own v2
// header (--proxy-protocol-out v2) to a second HAProxy frontend
// (accept-proxy), which tells the final backend with a v1 header
// (send-proxy) who the client was: the client's address must survive
// both hops, and its bytes come back.
func TestProxyBetweenHAProxies(t *testing.T) {
	clitest.CheckLeaks(t)
	bin := nettest.NeedProgram(t, "haproxy", "haproxy")
	be, headers := headerBackend(t)
	front, behind := refusedAddr(t), refusedAddr(t)
	_, addr := startProxy(t, []string{behind}, func(o *proxyOptions) {
		o.proxyOut, o.acceptProxy = 2, true
		o.trusted = []netip.Prefix{netip.MustParsePrefix("127.0.0.1/32")}
	})
	startHAProxy(t, bin, fmt.Sprintf(`global
	maxconn 100
defaults
	mode tcp
	timeout connect 5s
	timeout client 30s
	timeout server 30s
frontend front
	bind %s
	default_backend to_epollnet
backend to_epollnet
	server s %s send-proxy-v2
frontend behind
	bind %s accept-proxy
	default_backend to_backend
backend to_backend
	server s %s send-proxy
`, front, addr, behind, be))
	var c net.Conn
	waitFor(t, "HAProxy to listen", func() bool {
		d := net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP("127.0.0.2")}}
		var err error
		c, err = d.Dial("tcp", front)
		return err == nil
	})
	defer c.Close()
	echoLine(t, c, "hello through two HAProxies\n")
	wantSource(t, headers, 1, c.LocalAddr(), front)
}

// startHAProxy runs haproxy with cfg in the foreground until the test ends.
func startHAProxy(t *testing.T, bin, cfg string) {
	t.Helper()
	path := filepath.Join(t.TempDir(), "haproxy.cfg")
	if err := os.WriteFile(path, []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(bin, "-db", "-f", path)
	out := &clitest.SyncBuffer{}
	cmd.Stdout, cmd.Stderr = out, out
	if err := cmd.Start(); err != nil {
		t.Fatalf("starting haproxy: %v", err)
	}
	t.Cleanup(func() {
		cmd.Process.Kill()
		cmd.Wait()
		if t.Failed() {
			t.Logf("haproxy output:\n%s", out.String())
		}
	})
}

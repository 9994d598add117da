//go:build linux

package epollnet

import (
	"bytes"
	"context"
	"fmt"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"github.com/epollnet/epollnet/internal/nettest"
)

// TestProxyProtocolBehindHAProxy puts a real HAProxy in front of an
// epollnet listener on loopback, with send-proxy (v1) and send-proxy-v2
// (with CRC32C and a unique ID), and checks that the handler sees the
// client's address, not HAProxy's. The client binds 127.0.0.2 so the two
// differ; only 127.0.0.1, HAProxy's side, is trusted. HAProxy's v2 health
// checks (check-send-proxy) are LOCAL commands and must open too.
func TestProxyProtocolBehindHAProxy(t *testing.T) {
	bin := nettest.NeedProgram(t, "haproxy", "haproxy")
	e := newEngine(t, Options{Loops: 1})
	h := newProxyEcho()
	ln, rejected := proxyListen(t, e, h, ProxyConfig{Trusted: []netip.Prefix{netip.MustParsePrefix("127.0.0.1/32")}})
	backend := ln.Addr().String()
	v1, v2 := freePort(t), freePort(t)
	cfg := fmt.Sprintf(`global
	maxconn 100
defaults
	mode tcp
	timeout connect 5s
	timeout client 30s
	timeout server 30s
frontend fe_v1
	bind 127.0.0.1:%d
	default_backend be_v1
frontend fe_v2
	bind 127.0.0.1:%d
	unique-id-format conn-%%{+X}o%%ci:%%cp
	default_backend be_v2
backend be_v1
	server s %s send-proxy
backend be_v2
	server s %s send-proxy-v2 proxy-v2-options crc32c,unique-id check check-send-proxy inter 200ms
`, v1, v2, backend, backend)
	startHAProxy(t, bin, cfg)
	for _, tc := range []struct {
		name    string
		port    int
		version int
	}{{"send-proxy", v1, 1}, {"send-proxy-v2", v2, 2}} {
		t.Run(tc.name, func(t *testing.T) {
			c := dialHAProxy(t, tc.port)
			defer c.Close()
			roundTrip(t, c, []byte("ping"), []byte("ping"))
			for {
				o := recv(t, h.opened, "OnOpen")
				if o.hdr != nil && o.hdr.Local {
					continue // a health check
				}
				client := c.LocalAddr().(*net.TCPAddr).AddrPort()
				wantAddr(t, o.remote, client)
				if o.hdr.Version != tc.version || o.hdr.Peer.(*net.TCPAddr).AddrPort().Addr() != netip.MustParseAddr("127.0.0.1") {
					t.Fatalf("header %+v", o.hdr)
				}
				if tc.version == 2 && len(o.hdr.UniqueID()) == 0 {
					t.Fatalf("no UNIQUE_ID in %+v", o.hdr.TLVs)
				}
				t.Logf("HAProxy %s: RemoteAddr %v, peer %v, TLVs %d", tc.name, o.remote, o.hdr.Peer, len(o.hdr.TLVs))
				return
			}
		})
	}
	waitFor(t, func() bool {
		for {
			select {
			case o := <-h.opened:
				if o.hdr != nil && o.hdr.Local {
					return true
				}
			default:
				return false
			}
		}
	}, "a LOCAL health check from HAProxy")
	select {
	case r := <-rejected:
		t.Fatalf("a connection from HAProxy was refused: %v", r.err)
	default:
	}
}

// freePort returns a loopback TCP port that was free a moment ago.
func freePort(t *testing.T) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// dialHAProxy connects from 127.0.0.2, retrying while HAProxy starts.
func dialHAProxy(t *testing.T, port int) *net.TCPConn {
	t.Helper()
	d := net.Dialer{LocalAddr: &net.TCPAddr{IP: net.IPv4(127, 0, 0, 2)}}
	deadline := time.Now().Add(10 * time.Second)
	for {
		c, err := d.Dial("tcp", fmt.Sprintf("127.0.0.1:%d", port))
		if err == nil {
			return c.(*net.TCPConn)
		}
		if time.Now().After(deadline) {
			t.Fatalf("HAProxy does not listen on %d: %v", port, err)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// startHAProxy runs haproxy in the foreground with the configuration cfg
// until the test ends; its output is logged if the test failed.
func startHAProxy(t *testing.T, bin, cfg string) {
	t.Helper()
	path := filepath.Join(t.TempDir(), "haproxy.cfg")
	if err := os.WriteFile(path, []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cmd := exec.CommandContext(ctx, bin, "-db", "-f", path)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Start(); err != nil {
		cancel()
		t.Fatalf("starting haproxy: %v", err)
	}
	t.Cleanup(func() {
		cancel()
		cmd.Wait()
		if t.Failed() {
			t.Logf("haproxy output:\n%s", out.String())
		}
	})
}

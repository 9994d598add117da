//go:build linux

package epollnet

import (
	"bytes"
	"errors"
	"io"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/epollnet/epollnet/internal/proxyproto"
)

// proxyOpen is what a handler saw in OnOpen.
type proxyOpen struct {
	remote net.Addr
	hdr    *ProxyHeader
}

// proxyEcho echoes data, reports what OnOpen saw, and counts callbacks: a
// connection refused for its header must see none.
type proxyEcho struct {
	BaseHandler
	opened               chan proxyOpen
	closed               chan error
	onOpen               func(c *Conn)
	opens, datas, closes atomic.Int32
}

func newProxyEcho() *proxyEcho {
	return &proxyEcho{opened: make(chan proxyOpen, 64), closed: make(chan error, 64)}
}

func (p *proxyEcho) OnOpen(c *Conn) {
	p.opens.Add(1)
	p.opened <- proxyOpen{c.RemoteAddr(), c.ProxyHeader()}
	if p.onOpen != nil {
		p.onOpen(c)
	}
}

func (p *proxyEcho) OnData(c *Conn, in []byte) int {
	p.datas.Add(1)
	c.Write(in)
	return len(in)
}

func (p *proxyEcho) OnClose(c *Conn, reason error) {
	p.closes.Add(1)
	select {
	case p.closed <- reason:
	default: // HAProxy's health checks may close more than a test reads
	}
}

// rejection is one ProxyConfig.OnReject call.
type rejection struct {
	peer net.Addr
	err  error
}

var loopback = []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8")}

// proxyListen listens on loopback with pc (Trusted defaulting to loopback)
// and returns the OnReject calls as a channel.
func proxyListen(t *testing.T, e *Engine, h Handler, pc ProxyConfig) (*Listener, chan rejection) {
	t.Helper()
	rejected := make(chan rejection, 64)
	if pc.Trusted == nil {
		pc.Trusted = loopback
	}
	pc.OnReject = func(peer net.Addr, err error) { rejected <- rejection{peer, err} }
	return listen(t, e, h, &ListenConfig{ProxyProtocol: &pc}), rejected
}

var (
	clientAP = netip.MustParseAddrPort("203.0.113.7:40000")
	serverAP = netip.MustParseAddrPort("192.0.2.1:443")
	client6  = netip.MustParseAddrPort("[2001:db8::7]:40000")
	server6  = netip.MustParseAddrPort("[2001:db8::1]:443")
)

func encodeHeader(t *testing.T, h proxyproto.Header) []byte {
	t.Helper()
	b, err := h.Append(nil)
	if err != nil {
		t.Fatalf("encoding %+v: %v", h, err)
	}
	return b
}

func tcpHeader(version int, src, dst netip.AddrPort) proxyproto.Header {
	f := proxyproto.Inet
	if src.Addr().Is6() {
		f = proxyproto.Inet6
	}
	return proxyproto.Header{Version: version, Command: proxyproto.Proxy, Family: f,
		Transport: proxyproto.Stream, Source: src, Destination: dst}
}

// roundTrip writes b and reads the echo of want.
func roundTrip(t *testing.T, c net.Conn, b, want []byte) {
	t.Helper()
	if _, err := c.Write(b); err != nil {
		t.Fatalf("write: %v", err)
	}
	got := make([]byte, len(want))
	c.SetReadDeadline(time.Now().Add(10 * time.Second))
	if _, err := io.ReadFull(c, got); err != nil || !bytes.Equal(got, want) {
		t.Fatalf("echo %q, %v; want %q", got, err, want)
	}
}

// expectReset checks that the server aborted the connection. werr is the
// error of the client's last write: when the RST arrived before it, the
// write reports ECONNRESET (or EPIPE) and consumes the socket's error, so
// the read that follows sees only EOF.
func expectReset(t *testing.T, c net.Conn, werr error) {
	t.Helper()
	if errors.Is(werr, syscall.ECONNRESET) || errors.Is(werr, syscall.EPIPE) {
		return
	}
	c.SetReadDeadline(time.Now().Add(10 * time.Second))
	if n, err := c.Read(make([]byte, 1)); !errors.Is(err, syscall.ECONNRESET) {
		t.Fatalf("client read %d, %v; want ECONNRESET", n, err)
	}
}

func wantAddr(t *testing.T, got net.Addr, want netip.AddrPort) {
	t.Helper()
	ta, ok := got.(*net.TCPAddr)
	if !ok || ta.AddrPort() != want {
		t.Fatalf("address %v (%T), want %v", got, got, want)
	}
}

// TestProxyHeaderAddressInOnOpen is the end-to-end case over loopback: the
// header and the first data in one write; OnOpen sees the client's address
// from the header, OnData the data intact.
func TestProxyHeaderAddressInOnOpen(t *testing.T) {
	for _, tc := range []struct {
		name string
		hdr  proxyproto.Header
	}{
		{"v1 TCP4", tcpHeader(1, clientAP, serverAP)},
		{"v1 TCP6", tcpHeader(1, client6, server6)},
		{"v2 TCP4", tcpHeader(2, clientAP, serverAP)},
		{"v2 TCP6", tcpHeader(2, client6, server6)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := newEngine(t, Options{Loops: 1})
			h := newProxyEcho()
			ln, _ := proxyListen(t, e, h, ProxyConfig{})
			c := dialTCP(t, ln)
			payload := []byte("GET / HTTP/1.1\r\n\r\n")
			roundTrip(t, c, append(encodeHeader(t, tc.hdr), payload...), payload)
			o := recv(t, h.opened, "OnOpen")
			wantAddr(t, o.remote, tc.hdr.Source)
			if o.hdr == nil || o.hdr.Version != tc.hdr.Version || o.hdr.Local {
				t.Fatalf("ProxyHeader %+v", o.hdr)
			}
			wantAddr(t, o.hdr.Destination, tc.hdr.Destination)
			wantAddr(t, o.hdr.Peer, c.LocalAddr().(*net.TCPAddr).AddrPort())
		})
	}
}

func TestProxyV2TLVsExposed(t *testing.T) {
	e := newEngine(t, Options{Loops: 1})
	h := newProxyEcho()
	ln, _ := proxyListen(t, e, h, ProxyConfig{})
	hdr := tcpHeader(2, clientAP, serverAP)
	ssl := append([]byte{0x01, 0, 0, 0, 0}, 0x21, 0, 7)
	ssl = append(append(ssl, "TLSv1.3"...), 0x22, 0, 4)
	ssl = append(ssl, "peer"...)
	hdr.TLVs = []proxyproto.TLV{{Type: 0x01, Value: []byte("h2")}, {Type: 0x02, Value: []byte("example.com")},
		{Type: 0x05, Value: []byte("id-42")}, {Type: 0x30, Value: []byte("blue")},
		{Type: 0x20, Value: ssl}, {Type: 0x03}}
	roundTrip(t, dialTCP(t, ln), append(encodeHeader(t, hdr), "x"...), []byte("x"))
	ph := recv(t, h.opened, "OnOpen").hdr
	if ph.ALPN() != "h2" || ph.Authority() != "example.com" || string(ph.UniqueID()) != "id-42" || ph.NetNS() != "blue" {
		t.Fatalf("TLVs %+v", ph.TLVs)
	}
	s, ok := ph.SSL()
	if !ok || s.Client != 1 || s.Verify != 0 || s.Version != "TLSv1.3" || s.CommonName != "peer" {
		t.Fatalf("SSL %+v, %v", s, ok)
	}
	if _, ok := ph.TLV(0x03); !ok {
		t.Fatal("CRC32C TLV missing")
	}
}

// TestProxyHeaderByteByByte delivers the header one byte per read: the
// engine waits until the server has read each byte before sending the next.
func TestProxyHeaderByteByByte(t *testing.T) {
	for _, version := range []int{1, 2} {
		e := newEngine(t, Options{Loops: 1})
		h := newProxyEcho()
		ln, _ := proxyListen(t, e, h, ProxyConfig{})
		c := dialTCP(t, ln)
		b := encodeHeader(t, tcpHeader(version, clientAP, serverAP))
		for i := range b {
			if _, err := c.Write(b[i : i+1]); err != nil {
				t.Fatal(err)
			}
			waitFor(t, func() bool { return e.Stats().Total.BytesIn == uint64(i+1) }, "the server's read")
		}
		roundTrip(t, c, []byte("after"), []byte("after"))
		wantAddr(t, recv(t, h.opened, "OnOpen").remote, clientAP)
	}
}

// TestProxyHeaderSplitInTwo splits header+data in two writes at chosen
// offsets, the second part carrying the header's end and the data.
func TestProxyHeaderSplitInTwo(t *testing.T) {
	e := newEngine(t, Options{Loops: 1})
	h := newProxyEcho()
	ln, _ := proxyListen(t, e, h, ProxyConfig{})
	b := append(encodeHeader(t, tcpHeader(2, client6, server6)), "data"...)
	var in uint64
	for _, k := range []int{1, 6, 12, 13, 15, 16, 40, len(b) - 5} {
		c := dialTCP(t, ln)
		c.Write(b[:k])
		in += uint64(k)
		waitFor(t, func() bool { return e.Stats().Total.BytesIn == in }, "the first part")
		roundTrip(t, c, b[k:], []byte("data"))
		in += uint64(len(b) - k)
		wantAddr(t, recv(t, h.opened, "OnOpen").remote, client6)
	}
}

func waitFor(t *testing.T, cond func() bool, what string) {
	t.Helper()
	for deadline := time.Now().Add(10 * time.Second); !cond(); {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(time.Millisecond)
	}
}

// TestProxyMalformedHeaderAborts: each malformed header is refused with an
// RST, counted, reported, and the handler hears nothing.
func TestProxyMalformedHeaderAborts(t *testing.T) {
	crc := encodeHeader(t, proxyproto.Header{Version: 2, Command: proxyproto.Proxy,
		TLVs: []proxyproto.TLV{{Type: 0x03}}})
	crc[len(crc)-1] ^= 0xFF
	for _, tc := range []struct {
		name string
		in   []byte
		why  error
	}{
		{"HTTP without header", []byte("GET / HTTP/1.1\r\n\r\n"), proxyproto.ErrNotProxy},
		{"v1 port out of range", []byte("PROXY TCP4 1.2.3.4 5.6.7.8 65536 1\r\n"), proxyproto.ErrV1Port},
		{"v1 bare LF", []byte("PROXY TCP4 1.2.3.4 5.6.7.8 1 1\n"), proxyproto.ErrV1CRLF},
		{"v2 CRC32C mismatch", crc, proxyproto.ErrV2Checksum},
		{"v2 command 3", append([]byte("\r\n\r\n\x00\r\nQUIT\n"), 0x23, 0x11, 0, 0), proxyproto.ErrV2Command},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := newEngine(t, Options{Loops: 1})
			h := newProxyEcho()
			ln, rejected := proxyListen(t, e, h, ProxyConfig{})
			c := dialTCP(t, ln)
			_, werr := c.Write(tc.in)
			expectReset(t, c, werr)
			r := recv(t, rejected, "OnReject")
			if !errors.Is(r.err, ErrProxyHeader) || r.err.Error() != ErrProxyHeader.Error()+": "+tc.why.(*proxyproto.Error).Reason {
				t.Fatalf("reason %v, want ErrProxyHeader: %v", r.err, tc.why)
			}
			wantAddr(t, r.peer, c.LocalAddr().(*net.TCPAddr).AddrPort())
			if st := e.Stats().Total; st.ProxyRejected != 1 || h.opens.Load()+h.datas.Load()+h.closes.Load() != 0 {
				t.Fatalf("ProxyRejected %d; callbacks: %d OnOpen, %d OnData, %d OnClose", st.ProxyRejected,
					h.opens.Load(), h.datas.Load(), h.closes.Load())
			}
		})
	}
}

func TestProxyUntrustedSourceRefused(t *testing.T) {
	e := newEngine(t, Options{Loops: 1})
	h := newProxyEcho()
	ln, rejected := proxyListen(t, e, h, ProxyConfig{Trusted: []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8")}})
	// The refusal happens at accept, so on loopback the RST can reach the
	// client before its connect() call has returned: Dial fails then.
	c, err := net.Dial("tcp", ln.Addr().String())
	if err == nil {
		defer c.Close()
		_, werr := c.Write(encodeHeader(t, tcpHeader(1, clientAP, serverAP)))
		expectReset(t, c, werr)
	} else if !errors.Is(err, syscall.ECONNRESET) {
		t.Fatalf("Dial: %v; want success or ECONNRESET", err)
	}
	if r := recv(t, rejected, "OnReject"); !errors.Is(r.err, ErrProxyUntrusted) {
		t.Fatalf("reason %v", r.err)
	}
	if st := e.Stats().Total; st.ProxyRejected != 1 || st.Opened != 0 || h.opens.Load() != 0 {
		t.Fatalf("stats %+v, %d OnOpen", st, h.opens.Load())
	}
}

// TestProxyUntrustedServedWithoutHeader: with AllowUntrusted a client
// outside Trusted is served plainly; a header it sends is only data.
func TestProxyUntrustedServedWithoutHeader(t *testing.T) {
	e := newEngine(t, Options{Loops: 1})
	h := newProxyEcho()
	ln, _ := proxyListen(t, e, h, ProxyConfig{AllowUntrusted: true,
		Trusted: []netip.Prefix{netip.MustParsePrefix("::ffff:10.0.0.0/104")}})
	c := dialTCP(t, ln)
	spoof := encodeHeader(t, tcpHeader(1, clientAP, serverAP))
	roundTrip(t, c, spoof, spoof)
	o := recv(t, h.opened, "OnOpen")
	wantAddr(t, o.remote, c.LocalAddr().(*net.TCPAddr).AddrPort())
	if o.hdr != nil {
		t.Fatalf("ProxyHeader %+v for a connection without one", o.hdr)
	}
}

// TestProxyHeaderTimeout: half a header, then silence: aborted at
// HeaderTimeout with a timeout error.
func TestProxyHeaderTimeout(t *testing.T) {
	e := newEngine(t, Options{Loops: 1})
	h := newProxyEcho()
	ln, rejected := proxyListen(t, e, h, ProxyConfig{HeaderTimeout: 100 * time.Millisecond})
	start := time.Now() // before the dial: the engine's clock starts at accept, which can precede Dial's return
	c := dialTCP(t, ln)
	_, werr := c.Write([]byte("PROXY TCP4 203.0.113.7 "))
	expectReset(t, c, werr)
	r := recv(t, rejected, "OnReject")
	var ne net.Error
	if !errors.Is(r.err, ErrProxyTimeout) || !errors.As(r.err, &ne) || !ne.Timeout() || !errors.Is(r.err, os.ErrDeadlineExceeded) {
		t.Fatalf("reason %v, want ErrProxyTimeout", r.err)
	}
	if d := time.Since(start); d < 100*time.Millisecond {
		t.Fatalf("aborted after %v, before HeaderTimeout", d)
	}
	if e.Stats().Total.ProxyRejected != 1 || h.opens.Load()+h.closes.Load() != 0 {
		t.Fatal("not counted, or the handler was told")
	}
}

func TestProxyPeerClosesBeforeHeader(t *testing.T) {
	e := newEngine(t, Options{Loops: 1})
	h := newProxyEcho()
	ln, rejected := proxyListen(t, e, h, ProxyConfig{})
	c := dialTCP(t, ln)
	c.Write([]byte("\r\n\r\n\x00\r\nQU"))
	c.CloseWrite()
	if r := recv(t, rejected, "OnReject"); !errors.Is(r.err, ErrProxyHeader) {
		t.Fatalf("reason %v", r.err)
	}
	if h.opens.Load()+h.closes.Load() != 0 {
		t.Fatal("the handler was told")
	}
}

// TestProxyLocalAndUnknownKeepRealAddress: a v2 LOCAL command (health
// checks) and a v1 UNKNOWN line keep the connection's own endpoints.
func TestProxyLocalAndUnknownKeepRealAddress(t *testing.T) {
	e := newEngine(t, Options{Loops: 1})
	h := newProxyEcho()
	ln, _ := proxyListen(t, e, h, ProxyConfig{})
	local := encodeHeader(t, proxyproto.Header{Version: 2, Command: proxyproto.Local})
	unknown := []byte("PROXY UNKNOWN ::1 ::1 1 2\r\n")
	for _, hdr := range [][]byte{local, unknown} {
		c := dialTCP(t, ln)
		roundTrip(t, c, append(hdr, 'x'), []byte("x"))
		o := recv(t, h.opened, "OnOpen")
		wantAddr(t, o.remote, c.LocalAddr().(*net.TCPAddr).AddrPort())
		if o.hdr == nil || o.hdr.Local != (hdr[0] == '\r') || o.hdr.Network != "" || o.hdr.Source != nil {
			t.Fatalf("ProxyHeader %+v", o.hdr)
		}
	}
}

// TestProxyOnOpenCloseDropsData: data that came with the header is not
// delivered once OnOpen closed the connection, as for any new connection.
func TestProxyOnOpenCloseDropsData(t *testing.T) {
	e := newEngine(t, Options{Loops: 1})
	h := newProxyEcho()
	h.onOpen = func(c *Conn) { c.Close() }
	ln, _ := proxyListen(t, e, h, ProxyConfig{})
	c := dialTCP(t, ln)
	c.Write(append(encodeHeader(t, tcpHeader(1, clientAP, serverAP)), "data"...))
	if err := recv(t, h.closed, "OnClose"); err != nil {
		t.Fatalf("reason %v", err)
	}
	if h.datas.Load() != 0 || h.closes.Load() != 1 {
		t.Fatalf("%d OnData, %d OnClose", h.datas.Load(), h.closes.Load())
	}
}

// TestProxyOnOpenPauseHoldsData: PauseRead in OnOpen holds the bytes that
// came with the header until ResumeRead.
func TestProxyOnOpenPauseHoldsData(t *testing.T) {
	e := newEngine(t, Options{Loops: 1})
	h := newProxyEcho()
	conns := make(chan *Conn, 1)
	h.onOpen = func(c *Conn) { c.PauseRead(); conns <- c }
	ln, _ := proxyListen(t, e, h, ProxyConfig{})
	c := dialTCP(t, ln)
	c.Write(append(encodeHeader(t, tcpHeader(2, clientAP, serverAP)), "held"...))
	sc := recv(t, conns, "OnOpen")
	syncLoops(e) // OnOpen has returned and queued the delivery of "held"
	syncLoops(e) // which has run, and found the connection paused
	if h.datas.Load() != 0 {
		t.Fatal("OnData while paused")
	}
	sc.ResumeRead()
	roundTrip(t, c, nil, []byte("held"))
}

// TestProxyShutdownWhileWaiting: a connection still waiting for its header
// at Shutdown is closed without callbacks and without counting as refused.
func TestProxyShutdownWhileWaiting(t *testing.T) {
	e := newEngine(t, Options{Loops: 1})
	h := newProxyEcho()
	ln, _ := proxyListen(t, e, h, ProxyConfig{})
	c := dialTCP(t, ln)
	c.Write([]byte("PROX"))
	waitFor(t, func() bool { return e.Stats().Total.BytesIn == 4 }, "the partial header")
	if err := e.Shutdown(t.Context()); err != nil {
		t.Fatal(err)
	}
	if st := e.Stats().Total; st.ProxyRejected != 0 || st.Conns != 0 || h.opens.Load()+h.closes.Load() != 0 {
		t.Fatalf("stats %+v, %d OnOpen, %d OnClose", st, h.opens.Load(), h.closes.Load())
	}
}

func TestProxyUnixListenerTrustsPeers(t *testing.T) {
	e := newEngine(t, Options{Loops: 1})
	h := newProxyEcho()
	path := filepath.Join(t.TempDir(), "s")
	ln, err := e.Listen("unix", path, h, &ListenConfig{ProxyProtocol: &ProxyConfig{}})
	if err != nil {
		t.Fatal(err)
	}
	c, err := net.Dial("unix", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	roundTrip(t, c, append(encodeHeader(t, tcpHeader(2, client6, server6)), 'u'), []byte("u"))
	o := recv(t, h.opened, "OnOpen")
	wantAddr(t, o.remote, client6)
	if _, ok := o.hdr.Peer.(*net.UnixAddr); !ok {
		t.Fatalf("Peer %v (%T)", o.hdr.Peer, o.hdr.Peer)
	}
}

func TestProxyVersionDisabled(t *testing.T) {
	e := newEngine(t, Options{Loops: 1})
	h := newProxyEcho()
	ln, rejected := proxyListen(t, e, h, ProxyConfig{DisableV1: true})
	c := dialTCP(t, ln)
	_, werr := c.Write(encodeHeader(t, tcpHeader(1, clientAP, serverAP)))
	expectReset(t, c, werr)
	if r := recv(t, rejected, "OnReject"); !errors.Is(r.err, ErrProxyHeader) {
		t.Fatalf("reason %v", r.err)
	}
}

func TestProxyConfigValidated(t *testing.T) {
	e := newEngine(t, Options{Loops: 1})
	for _, pc := range []ProxyConfig{
		{},
		{Trusted: loopback, HeaderTimeout: -1},
		{Trusted: loopback, DisableV1: true, DisableV2: true},
		{Trusted: []netip.Prefix{{}}},
	} {
		if ln, err := e.Listen("tcp", "127.0.0.1:0", BaseHandler{}, &ListenConfig{ProxyProtocol: &pc}); err == nil {
			ln.Close()
			t.Fatalf("Listen accepted %+v", pc)
		}
	}
}

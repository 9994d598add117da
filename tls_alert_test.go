//go:build linux

package epollnet

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
	"errors"
	"math/big"
	"net"
	"os/exec"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/epollnet/epollnet/internal/nettest"
	"golang.org/x/sys/unix"
)

// TestTLSHandshakeFailureSendsAlert: a server handshake that crypto/tls
// refuses (here: a client offering only TLS 1.2 to a TLS 1.3 server) ends
// with crypto/tls's fatal alert reaching the client before the close: Go's
// client reports "remote error: tls: protocol version not supported", and
// openssl s_client the alert, rather than a bare EOF or reset.
func TestTLSHandshakeFailureSendsAlert(t *testing.T) {
	e := newEngine(t, Options{Loops: 1})
	f := newTLSFailures()
	cfg := certs(t).serverConfig()
	cfg.MinVersion = tls.VersionTLS13
	ln := listenTLS(t, e, newRecorder(), &ListenConfig{TLSConfig: cfg, OnTLSError: f.hook})

	ccfg := certs(t).clientConfig("localhost")
	ccfg.MaxVersion = tls.VersionTLS12
	_, err := tls.DialWithDialer(&net.Dialer{Timeout: 10 * time.Second}, "tcp", ln.Addr().String(), ccfg)
	if !isRemoteAlert(err) || !strings.Contains(err.Error(), "protocol version not supported") {
		t.Fatalf("Go client: %v, want the server's protocol_version alert", err)
	}
	recv(t, f.ch, "OnTLSError")

	openssl := nettest.NeedProgram(t, "openssl", "openssl")
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	out, err := exec.CommandContext(ctx, openssl, "s_client", "-connect", ln.Addr().String(),
		"-servername", "localhost", "-tls1_2").CombinedOutput()
	if err == nil || !strings.Contains(string(out), "alert protocol version") {
		t.Fatalf("s_client: %v, want the server's protocol_version alert in:\n%s", err, out)
	}
	recv(t, f.ch, "OnTLSError")
}

// bigCert is a certificate for localhost from the tests' CA made size
// bytes larger by a private extension: a server flight that does not fit
// in a small send buffer.
func bigCert(t *testing.T, size int) tls.Certificate {
	p := certs(t)
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now()
	tmpl := &x509.Certificate{
		SerialNumber:    big.NewInt(5),
		Subject:         pkix.Name{CommonName: "localhost"},
		DNSNames:        []string{"localhost"},
		NotBefore:       now.Add(-time.Hour),
		NotAfter:        now.Add(24 * time.Hour),
		KeyUsage:        x509.KeyUsageDigitalSignature,
		ExtKeyUsage:     []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		ExtraExtensions: []pkix.Extension{{Id: asn1.ObjectIdentifier{1, 3, 6, 1, 4, 1, 32473, 1}, Value: make([]byte, size)}},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, p.ca, &key.PublicKey, p.caKey)
	if err != nil {
		t.Fatal(err)
	}
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key}
}

// stalledConn is a client's connection that appends extra to its first
// write and whose reads wait until gate is closed.
type stalledConn struct {
	net.Conn
	extra []byte
	gate  <-chan struct{}
}

func (c *stalledConn) Write(p []byte) (int, error) {
	n, err := c.Conn.Write(p)
	if err == nil && c.extra != nil {
		_, err = c.Conn.Write(c.extra)
		c.extra = nil
	}
	return n, err
}

func (c *stalledConn) Read(p []byte) (int, error) {
	<-c.gate
	return c.Conn.Read(p)
}

// failBehindQueuedFlight makes a server handshake fail while the
// server's flight is still queued: a big certificate, small socket
// buffers, and a client that sends a plaintext handshake record where its
// encrypted Finished belongs (crypto/tls answers bad_record_mac) and does
// not read until gate is closed. failed is closed when the server's
// handshake failed; result gets the client's handshake error, or the
// error of its first read.
func failBehindQueuedFlight(t *testing.T, gate <-chan struct{}) (e *Engine, f *tlsFailures, failed <-chan struct{}, result <-chan error) {
	fc := make(chan struct{})
	e = newEngine(t, Options{Loops: 1, Tracer: func(ev *TraceEvent) {
		switch {
		case ev.Kind == TraceOpen && ev.Role == RoleAccepted:
			unix.SetsockoptInt(ev.FD, unix.SOL_SOCKET, unix.SO_SNDBUF, 4096)
		case ev.Kind == TraceTLS && ev.Role == RoleAccepted && ev.Detail == "failed":
			close(fc)
		}
	}})
	f = newTLSFailures()
	ln := listenTLS(t, e, newRecorder(), &ListenConfig{OnTLSError: f.hook,
		TLSConfig: &tls.Config{Certificates: []tls.Certificate{bigCert(t, 128<<10)}}})
	d := &net.Dialer{Timeout: 10 * time.Second, Control: func(_, _ string, rc syscall.RawConn) error {
		rc.Control(func(fd uintptr) { unix.SetsockoptInt(int(fd), unix.SOL_SOCKET, unix.SO_RCVBUF, 4096) })
		return nil
	}}
	raw, err := d.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	plain := []byte("\x16\x03\x03\x00\x04\x14\x00\x00\x00") // a Finished, not encrypted
	gc := tls.Client(&stalledConn{Conn: raw, extra: plain, gate: gate}, certs(t).clientConfig("localhost"))
	gc.SetDeadline(time.Now().Add(10 * time.Second))
	res := make(chan error, 1)
	go func() {
		err := gc.Handshake() // TLS 1.3: complete once the server's flight is read
		if err == nil {
			_, err = gc.Read(make([]byte, 1))
		}
		raw.Close()
		res <- err
	}()
	return e, f, fc, res
}

// TestTLSHandshakeFailureAlertFlushedBehindQueuedOutput: when the
// handshake fails while the server's flight is still queued, the flight
// and crypto/tls's alert behind it still reach the client, which reads
// only after the failure: the close flushes them as a graceful close
// does, rather than dropping them.
func TestTLSHandshakeFailureAlertFlushedBehindQueuedOutput(t *testing.T) {
	gate := make(chan struct{})
	_, f, failed, result := failBehindQueuedFlight(t, gate)
	recv(t, failed, "the server's handshake failure")
	close(gate)
	if err := recv(t, result, "the client"); !isRemoteAlert(err) {
		t.Fatalf("client: %v, want the server's alert", err)
	}
	if err := recv(t, f.ch, "OnTLSError"); !errors.Is(err, ErrTLSHandshake) {
		t.Fatalf("OnTLSError: %v", err)
	}
}

// TestTLSFailedHandshakeReportedAcrossEngineClose: a handshake that
// failed, and whose alert was still being flushed when Engine.Abort cut
// the connection, is reported with crypto/tls's error and counted: it was
// not cut by the close, it had failed before.
func TestTLSFailedHandshakeReportedAcrossEngineClose(t *testing.T) {
	gate := make(chan struct{})
	e, f, failed, result := failBehindQueuedFlight(t, gate)
	recv(t, failed, "the server's handshake failure")
	e.Abort()
	close(gate)
	recv(t, result, "the client")
	if err := recv(t, f.ch, "OnTLSError"); !errors.Is(err, ErrTLSHandshake) {
		t.Fatalf("OnTLSError: %v, want ErrTLSHandshake", err)
	}
	if st := e.Stats().Total; st.TLSHandshakeErrors != 1 || st.Conns != 0 {
		t.Fatalf("TLSHandshakeErrors %d, Conns %d", st.TLSHandshakeErrors, st.Conns)
	}
}

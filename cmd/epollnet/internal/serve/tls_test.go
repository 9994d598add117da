package serve

import (
	"bufio"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/epollnet/epollnet/cmd/epollnet/internal/cli"
	"github.com/epollnet/epollnet/cmd/epollnet/internal/clitest"
	"github.com/epollnet/epollnet/internal/nettest"
)

// writeCert writes a self-signed ECDSA certificate for 127.0.0.1 and
// localhost, and its key, as PEM files in a temporary directory.
func writeCert(t *testing.T) (certFile, keyFile string) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1),
		Subject:      pkix.Name{CommonName: "epollnet test"},
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().Add(time.Hour),
		DNSNames:     []string{"localhost"},
		IPAddresses:  []net.IP{net.IPv4(127, 0, 0, 1)},
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	kder, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	certFile, keyFile = filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem")
	if err := os.WriteFile(certFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(keyFile, pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: kder}), 0o600); err != nil {
		t.Fatal(err)
	}
	return certFile, keyFile
}

// TestServeTLSAnswersGoClient: serve --proto http --tls-cert --tls-key
// answers Go's HTTPS client over TLS 1.3 with ALPN http/1.1, keep-alive
// included.
func TestServeTLSAnswersGoClient(t *testing.T) {
	clitest.CheckLeaks(t)
	cert, key := writeCert(t)
	addr := startServe(t, "--proto", "http", "--listen", "127.0.0.1:0", "--loops", "1", "--tls-cert", cert, "--tls-key", key)
	tr := &http.Transport{TLSClientConfig: &tls.Config{InsecureSkipVerify: true, MinVersion: tls.VersionTLS13,
		NextProtos: []string{"http/1.1"}}}
	defer tr.CloseIdleConnections()
	client := &http.Client{Transport: tr, Timeout: 10 * time.Second}
	for range 3 {
		resp, err := client.Get("https://" + addr + "/")
		if err != nil {
			t.Fatal(err)
		}
		buf := make([]byte, 64)
		n, _ := resp.Body.Read(buf)
		resp.Body.Close()
		if resp.StatusCode != 200 || string(buf[:n]) != HelloBody || resp.TLS == nil ||
			resp.TLS.Version != tls.VersionTLS13 || resp.TLS.NegotiatedProtocol != "http/1.1" {
			t.Fatalf("status %d, body %q, TLS %+v", resp.StatusCode, buf[:n], resp.TLS)
		}
	}
}

// TestServeTLSWithCurlAndOpenSSL: curl -k --tlsv1.3 --http1.1 gets 200,
// and openssl s_client offering h2 and http/1.1 settles on http/1.1.
func TestServeTLSWithCurlAndOpenSSL(t *testing.T) {
	curl := nettest.NeedProgram(t, "curl", "curl")
	openssl := nettest.NeedProgram(t, "openssl", "openssl")
	cert, key := writeCert(t)
	addr := startServe(t, "--proto", "http", "--listen", "127.0.0.1:0", "--loops", "1", "--tls-cert", cert, "--tls-key", key)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	out, err := exec.CommandContext(ctx, curl, "-sk", "--tlsv1.3", "--http1.1", "-o", "/dev/null",
		"-w", "%{http_code} %{http_version}", "https://"+addr+"/").CombinedOutput()
	if err != nil || string(out) != "200 1.1" {
		t.Errorf("curl: %v: %q", err, out)
	}
	cmd := exec.CommandContext(ctx, openssl, "s_client", "-connect", addr, "-alpn", "h2,http/1.1", "-ign_eof")
	cmd.Stdin = strings.NewReader("GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
	out, err = cmd.CombinedOutput()
	if err != nil || !strings.Contains(string(out), "ALPN protocol: http/1.1") || !strings.Contains(string(out), "HTTP/1.1 200 OK") {
		t.Errorf("openssl s_client: %v:\n%s", err, out)
	}
}

// TestServeTLSEcho: --proto echo over TLS echoes what a TLS client sends.
func TestServeTLSEcho(t *testing.T) {
	cert, key := writeCert(t)
	addr := startServe(t, "--proto", "echo", "--listen", "127.0.0.1:0", "--loops", "1", "--tls-cert", cert, "--tls-key", key)
	c, err := tls.Dial("tcp", addr, &tls.Config{InsecureSkipVerify: true})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(10 * time.Second))
	if _, err := c.Write([]byte("over tls\n")); err != nil {
		t.Fatal(err)
	}
	line, err := bufio.NewReader(c).ReadString('\n')
	if err != nil || line != "over tls\n" {
		t.Fatalf("echo %q, %v", line, err)
	}
}

// TestServeTLSFlagErrors: --tls-cert and --tls-key go together (a usage
// error, exit 2); a file that cannot be read fails the start (exit 1)
// with its name and the reason.
func TestServeTLSFlagErrors(t *testing.T) {
	cert, _ := writeCert(t)
	code, _, stderr := runCLI(t, "--tls-cert", cert)
	if code != cli.ExitUsage || !strings.Contains(stderr, "--tls-cert and --tls-key go together") {
		t.Errorf("--tls-cert alone: exit %d\n%s", code, stderr)
	}
	code, _, stderr = runCLI(t, "--listen", "127.0.0.1:0", "--tls-cert", cert, "--tls-key", "/nonexistent/key.pem")
	if code != cli.ExitFail || !strings.Contains(stderr, "/nonexistent/key.pem") || !strings.Contains(stderr, "no such file") {
		t.Errorf("a missing key: exit %d\n%s", code, stderr)
	}
}

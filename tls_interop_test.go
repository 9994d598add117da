//go:build linux

package epollnet

import (
	"bufio"
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/epollnet/epollnet/internal/nettest"
)

// Interoperability with TLS stacks nobody here wrote: OpenSSL's s_client
// and s_server, and curl. Each test skips when its program is missing.

// writeFiles writes the CA certificate and the leaf's certificate and key
// as PEM files, for openssl and curl.
func (p *testPKI) writeFiles(t *testing.T) (caFile, certFile, keyFile string) {
	t.Helper()
	dir := t.TempDir()
	keyDER, err := x509.MarshalPKCS8PrivateKey(p.leaf.PrivateKey)
	if err != nil {
		t.Fatal(err)
	}
	caFile = filepath.Join(dir, "ca.pem")
	certFile = filepath.Join(dir, "cert.pem")
	keyFile = filepath.Join(dir, "key.pem")
	for name, data := range map[string][]byte{
		caFile:   p.caPEM,
		certFile: pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: p.leaf.Certificate[0]}),
		keyFile:  pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: keyDER}),
	} {
		if err := os.WriteFile(name, data, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	return caFile, certFile, keyFile
}

// lineServer answers each line with its upper-case form, then closes:
// close_notify, then the FIN.
type lineServer struct{ *tlsRecorder }

func (h lineServer) OnData(c *Conn, in []byte) int {
	i := bytes.IndexByte(in, '\n')
	if i < 0 {
		return 0
	}
	c.Write(bytes.ToUpper(in[:i+1]))
	c.Close()
	return len(in)
}

// runTool runs a program with stdin for at most 20 s and returns its
// standard output.
func runTool(t *testing.T, stdin string, name string, args ...string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, name, args...)
	cmd.Stdin = strings.NewReader(stdin)
	var out, errOut bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errOut
	if err := cmd.Run(); err != nil {
		t.Fatalf("%s %s: %v\n%s%s", name, strings.Join(args, " "), err, out.String(), errOut.String())
	}
	return out.String()
}

// TestTLSInteropOpenSSLClient: openssl s_client, TLS 1.2 and 1.3 with ALPN
// and certificate verification, against the engine's server; the session
// it saves is resumed by the next s_client.
func TestTLSInteropOpenSSLClient(t *testing.T) {
	openssl := nettest.NeedProgram(t, "openssl", "openssl")
	p := certs(t)
	caFile, _, _ := p.writeFiles(t)
	for _, v := range []string{"-tls1_2", "-tls1_3"} {
		t.Run(v[1:], func(t *testing.T) {
			e := newEngine(t, Options{Loops: 1})
			r := newTLSRecorder()
			scfg := p.serverConfig()
			scfg.NextProtos = []string{"h2", "http/1.1"}
			ln := listenTLS(t, e, lineServer{r}, &ListenConfig{TLSConfig: scfg})
			sess := filepath.Join(t.TempDir(), "session")
			for i, resume := range []string{"-sess_out", "-sess_in"} {
				out := runTool(t, "hello openssl\n", openssl, "s_client", "-connect", ln.Addr().String(),
					"-CAfile", caFile, "-servername", "localhost", "-verify_return_error", "-quiet",
					v, "-alpn", "http/1.1", resume, sess)
				if out != "HELLO OPENSSL\n" {
					t.Fatalf("s_client printed %q", out)
				}
				cs := recv(t, r.states, "OnOpen")
				want := uint16(tls.VersionTLS12)
				if v == "-tls1_3" {
					want = tls.VersionTLS13
				}
				if cs.Version != want || cs.NegotiatedProtocol != "http/1.1" || cs.ServerName != "localhost" || cs.DidResume != (i == 1) {
					t.Fatalf("connection %d: version %x, ALPN %q, SNI %q, resumed %v", i, cs.Version, cs.NegotiatedProtocol, cs.ServerName, cs.DidResume)
				}
				if err := recv(t, r.closed, "OnClose"); err != nil && !errors.Is(err, ErrPeerClosed) {
					t.Fatalf("OnClose: %v", err)
				}
			}
		})
	}
}

// TestTLSInteropOpenSSLServer: the engine's dial against openssl s_server
// (-rev answers each line reversed), TLS 1.2 and 1.3.
func TestTLSInteropOpenSSLServer(t *testing.T) {
	openssl := nettest.NeedProgram(t, "openssl", "openssl")
	p := certs(t)
	_, certFile, keyFile := p.writeFiles(t)
	for _, v := range []string{"-tls1_2", "-tls1_3"} {
		t.Run(v[1:], func(t *testing.T) {
			e := newEngine(t, Options{Loops: 1})
			ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
			defer cancel()
			cmd := exec.CommandContext(ctx, openssl, "s_server", "-accept", "127.0.0.1:0", "-cert", certFile,
				"-key", keyFile, "-naccept", "1", "-rev", v)
			stdout, err := cmd.StdoutPipe()
			if err != nil {
				t.Fatal(err)
			}
			if err := cmd.Start(); err != nil {
				t.Fatal(err)
			}
			defer cmd.Wait()
			out := bufio.NewScanner(stdout)
			addr := ""
			for addr == "" && out.Scan() {
				if a, ok := strings.CutPrefix(out.Text(), "ACCEPT "); ok {
					addr = a
				}
			}
			if addr == "" {
				t.Fatal("s_server did not say where it listens")
			}
			go func() {
				for out.Scan() { // drain, so that s_server never blocks on its output
				}
			}()
			r := newTLSRecorder()
			data := collect(r.recorder)
			c, err := e.Dial(ctx, "tcp", addr, r, &DialConfig{TLSConfig: p.clientConfig("localhost")})
			if err != nil {
				t.Fatalf("Dial: %v", err)
			}
			c.Write([]byte("hello openssl\n"))
			if got := readN(t, data, 14); string(got) != "lssnepo olleh\n" {
				t.Fatalf("s_server answered %q", got)
			}
			cs := recv(t, r.states, "OnOpen")
			if (v == "-tls1_3") != (cs.Version == tls.VersionTLS13) {
				t.Fatalf("version %x", cs.Version)
			}
			c.Close()
			recv(t, r.closed, "OnClose")
			if err := cmd.Wait(); err != nil {
				t.Fatalf("s_server: %v", err)
			}
		})
	}
}

// httpsServer answers every request with a fixed response and closes.
type httpsServer struct{ *tlsRecorder }

func (h httpsServer) OnData(c *Conn, in []byte) int {
	if !bytes.Contains(in, []byte("\r\n\r\n")) {
		return 0
	}
	c.Write([]byte("HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 14\r\nConnection: close\r\n\r\nhello, curl!\r\n"))
	c.Close()
	return len(in)
}

// TestTLSInteropCurl: curl, which offers h2 and http/1.1 by ALPN, gets a
// response from the engine's HTTPS server, verifying its certificate.
func TestTLSInteropCurl(t *testing.T) {
	curl := nettest.NeedProgram(t, "curl", "curl")
	p := certs(t)
	caFile, _, _ := p.writeFiles(t)
	e := newEngine(t, Options{Loops: 1})
	r := newTLSRecorder()
	scfg := p.serverConfig()
	scfg.NextProtos = []string{"http/1.1"}
	ln := listenTLS(t, e, httpsServer{r}, &ListenConfig{TLSConfig: scfg})
	for _, extra := range [][]string{nil, {"--tlsv1.2", "--tls-max", "1.2"}} {
		args := append([]string{"-sS", "--cacert", caFile}, extra...)
		out := runTool(t, "", curl, append(args, "https://"+ln.Addr().String()+"/")...)
		if out != "hello, curl!\r\n" {
			t.Fatalf("curl %v printed %q", extra, out)
		}
		if cs := recv(t, r.states, "OnOpen"); cs.NegotiatedProtocol != "http/1.1" {
			t.Fatalf("ALPN %q", cs.NegotiatedProtocol)
		}
		recv(t, r.closed, "OnClose")
	}
}

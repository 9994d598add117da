package main

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
	"fmt"
	"math/big"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"time"
)

// The TLS scenarios. Every server gets the same certificate, ECDSA P-256
// (made for the run), and every client offers the same: TLS 1.3, one key
// exchange (X25519, the first OpenSSL 3.0 and crypto/tls offer without
// post-quantum hybrids, and one nbio's older crypto/tls fork supports),
// and crypto/tls's order of cipher suites. wrk's OpenSSL gets that through
// an OPENSSL_CONF of the run's; tlschurn and the behaviour check are Go.

// tlsFiles are the run's certificate and client settings, in a temporary
// directory the runner removes at the end.
type tlsFiles struct {
	dir        string
	cert, key  string // PEM
	pem        string // both in one file, as HAProxy takes them
	clientConf string // OPENSSL_CONF for wrk
}

// newTLSFiles makes the directory, a self-signed ECDSA P-256 certificate for
// 127.0.0.1, and wrk's OpenSSL configuration.
func newTLSFiles() (*tlsFiles, error) {
	dir, err := os.MkdirTemp("", "runbench-tls-")
	if err != nil {
		return nil, err
	}
	f := &tlsFiles{dir: dir, cert: filepath.Join(dir, "cert.pem"), key: filepath.Join(dir, "key.pem"),
		pem: filepath.Join(dir, "both.pem"), clientConf: filepath.Join(dir, "client.cnf")}
	if err := f.write(); err != nil {
		os.RemoveAll(dir)
		return nil, err
	}
	return f, nil
}

func (f *tlsFiles) write() error {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return err
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(time.Now().UnixNano()),
		Subject:      pkix.Name{CommonName: "runbench"},
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().Add(7 * 24 * time.Hour),
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		DNSNames:     []string{"localhost"},
		IPAddresses:  []net.IP{net.IPv4(127, 0, 0, 1)},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		return err
	}
	kder, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		return err
	}
	certPEM := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})
	keyPEM := pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: kder})
	conf := "openssl_conf = openssl_init\n[openssl_init]\nssl_conf = ssl_sect\n[ssl_sect]\n" +
		"system_default = system_default_sect\n[system_default_sect]\nMinProtocol = TLSv1.3\n" +
		"Ciphersuites = " + tls13Suites + "\nGroups = X25519\n"
	for name, b := range map[string][]byte{f.cert: certPEM, f.key: keyPEM,
		f.pem: append(append([]byte{}, certPEM...), keyPEM...), f.clientConf: []byte(conf)} {
		if err := os.WriteFile(name, b, 0o600); err != nil {
			return err
		}
	}
	return nil
}

func (f *tlsFiles) remove() { os.RemoveAll(f.dir) }

// needsTLS reports whether the selected scenarios include a TLS one.
func needsTLS(o *options) bool {
	for _, sc := range scenarios {
		if sc.tls() && (o.scenarios == nil || o.scenarios[sc.name]) {
			return true
		}
	}
	return false
}

// runTLSChurn drives an HTTPS server with tlschurn: connections at a
// time, each for one request, every handshake full (tlsFull) or resumed
// (tlsResume). A full-handshake run that resumed, or a resumption run that
// resumed less than 99% of its handshakes, is a problem.
func runTLSChurn(ctx context.Context, o *options, sc scenario, addr string, srv *server) (sample, error) {
	ctx, cancel := context.WithTimeout(ctx, o.dur+o.warm+90*time.Second)
	defer cancel()
	argv := []string{o.bin("tlschurn"), "-a", addr, "-c", strconv.Itoa(sc.conns),
		"-d", secs(o.dur), "-w", secs(o.warm), "-b", strconv.Itoa(o.sources)}
	if sc.kind == tlsResume {
		argv = append(argv, "-resume")
	}
	return runMarked(ctx, o, argv, srv, func(kv kv, s *sample) {
		full, resumed := kv.float("full"), kv.float("resumed")
		s.tls = strings.Join([]string{kv["version"], kv["suite"], kv["group"]}, ", ")
		switch {
		case sc.kind == tlsFull && resumed > 0:
			s.problem = strings.TrimSpace(fmt.Sprintf("%s %.0f of %.0f handshakes resumed", s.problem, resumed, full+resumed))
		case sc.kind == tlsResume && resumed < 0.99*(full+resumed):
			s.problem = strings.TrimSpace(fmt.Sprintf("%s only %.0f of %.0f handshakes resumed", s.problem, resumed, full+resumed))
		}
	})
}

// clientTLS is the behaviour check's TLS configuration: what tlschurn
// offers.
func clientTLS() *tls.Config {
	return &tls.Config{InsecureSkipVerify: true, MinVersion: tls.VersionTLS13,
		CurvePreferences: []tls.CurveID{tls.X25519}}
}

// checkHTTPS runs checkHTTP's exchange over TLS, with a Go client, and
// returns what the handshake negotiated, and what wrk's OpenSSL negotiates
// (an openssl s_client with wrk's configuration) where they differ.
func checkHTTPS(o *options, addr string) (info string, err error) {
	d := &net.Dialer{Timeout: 2 * time.Second}
	c, err := tls.DialWithDialer(d, "tcp", addr, clientTLS())
	if err != nil {
		return "", fmt.Errorf("TLS handshake: %v", err)
	}
	defer c.Close()
	st := c.ConnectionState()
	info = fmt.Sprintf("%s, %s, %s", tls.VersionName(st.Version), tls.CipherSuiteName(st.CipherSuite), st.CurveID)
	if st.Version != tls.VersionTLS13 {
		return info, fmt.Errorf("negotiated %s, want TLS 1.3", tls.VersionName(st.Version))
	}
	if err := httpExchange(c); err != nil {
		return info, err
	}
	if w := opensslNegotiated(o, addr); w != "" && w != tls.CipherSuiteName(st.CipherSuite) {
		info += "; with wrk's OpenSSL: " + w
	}
	return info, nil
}

// opensslNegotiated returns the cipher suite openssl s_client negotiates
// with wrk's configuration, or "" if it cannot tell.
func opensslNegotiated(o *options, addr string) string {
	if _, err := exec.LookPath("openssl"); err != nil {
		return ""
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, "openssl", "s_client", "-connect", addr, "-brief")
	cmd.Env = append(os.Environ(), "OPENSSL_CONF="+o.tls.clientConf)
	out, _ := cmd.CombinedOutput() // stdin is empty: it connects, reports and leaves
	sc := bufio.NewScanner(strings.NewReader(string(out)))
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), "Ciphersuite:"); ok {
			return strings.TrimSpace(v)
		}
	}
	return ""
}

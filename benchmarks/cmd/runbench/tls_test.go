package main

import (
	"crypto/ecdsa"
	"crypto/tls"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

func TestTLSFilesMakeOneP256CertificateForEveryServer(t *testing.T) {
	f, err := newTLSFiles()
	if err != nil {
		t.Fatal(err)
	}
	pair, err := tls.LoadX509KeyPair(f.cert, f.key)
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := pair.PrivateKey.(*ecdsa.PrivateKey); !ok {
		t.Fatalf("key is %T, want ECDSA", pair.PrivateKey)
	}
	both, err := tls.LoadX509KeyPair(f.pem, f.pem) // HAProxy's file holds both
	if err != nil {
		t.Fatal(err)
	}
	if string(both.Certificate[0]) != string(pair.Certificate[0]) {
		t.Fatal("HAProxy's file holds another certificate")
	}
	conf, err := os.ReadFile(f.clientConf)
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"Groups = X25519", "MinProtocol = TLSv1.3", "Ciphersuites = TLS_AES_128_GCM_SHA256:"} {
		if !strings.Contains(string(conf), want) {
			t.Errorf("wrk's OpenSSL configuration lacks %q:\n%s", want, conf)
		}
	}
	f.remove()
	if _, err := os.Stat(f.dir); !os.IsNotExist(err) {
		t.Fatalf("%s left behind: %v", f.dir, err)
	}
}

func TestTLSScenariosCompareWithNetHTTP(t *testing.T) {
	n := 0
	for _, sc := range scenarios {
		if !sc.tls() {
			if want := map[bool]string{false: cref, true: direct}[sc.isProxy()]; sc.reference().name != want {
				t.Errorf("%s: reference %q, want the C server", sc.name, sc.reference().name)
			}
			continue
		}
		n++
		if sc.proto() != "https" || sc.reference().name != "nethttp" {
			t.Errorf("%s: proto %q, reference %q", sc.name, sc.proto(), sc.reference().name)
		}
		names := map[string]bool{}
		for _, im := range sc.impls() {
			names[im.name] = true
		}
		for _, want := range []string{"epollnet", "nethttp", "nbio", "nginx", "haproxy"} {
			if !names[want] {
				t.Errorf("%s: no %s", sc.name, want)
			}
		}
	}
	if n != 3 {
		t.Fatalf("%d TLS scenarios, want 3", n)
	}
}

func TestMissingNativeServerIsSkippedWithAReason(t *testing.T) {
	nativeServers["test-missing"] = &nativeServer{programs: []string{"/nonexistent/srv"}, install: "apt-get install srv"}
	defer delete(nativeServers, "test-missing")
	if why := missing("test-missing"); !strings.Contains(why, "/nonexistent/srv not found (apt-get install srv)") {
		t.Fatalf("missing = %q", why)
	}
	if why := missing("epollnet"); why != "" {
		t.Fatalf("missing(epollnet) = %q, want \"\"", why)
	}
}

// TestNativeConfigsAreValid has each installed native server check the
// configuration the runner writes for it (nginx -t, haproxy -c).
func TestNativeConfigsAreValid(t *testing.T) {
	f, err := newTLSFiles()
	if err != nil {
		t.Fatal(err)
	}
	defer f.remove()
	o := &options{tls: f}
	for name, check := range map[string][]string{"nginx": {"-t"}, "haproxy": {"-c"}} {
		n := nativeServers[name]
		if n.program() == "" {
			t.Logf("%s: skipped: %s", name, missing(name))
			continue
		}
		argv, err := n.argv(o, "127.0.0.1:1")
		if err != nil {
			t.Fatal(err)
		}
		var conf []byte
		for _, a := range argv {
			if filepath.Base(a) == "server.conf" {
				conf, err = os.ReadFile(a)
			}
		}
		if err != nil || conf == nil {
			t.Fatal(err)
		}
		for _, want := range []string{"127.0.0.1:1", tls13Suites} {
			if !strings.Contains(string(conf), want) {
				t.Errorf("%s configuration lacks %q", name, want)
			}
		}
		args := append(append([]string{}, argv[1:]...), check...)
		if out, err := exec.Command(argv[0], args...).CombinedOutput(); err != nil {
			t.Errorf("%s %v: %v\n%s\n%s", name, check, err, out, conf)
		}
	}
}

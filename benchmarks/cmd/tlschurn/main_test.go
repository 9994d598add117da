package main

import (
	"bytes"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
)

// churn runs tlschurn against srv and returns its result line's fields.
func churn(t *testing.T, srv *httptest.Server, extra ...string) map[string]string {
	t.Helper()
	var out, errb bytes.Buffer
	args := append([]string{"-a", strings.TrimPrefix(srv.URL, "https://"), "-c", "2", "-d", "1", "-w", "0"}, extra...)
	if rc := mainErr(args, &out, &errb); rc != 0 {
		t.Fatalf("tlschurn %v: exit %d\n%s%s", args, rc, out.String(), errb.String())
	}
	kv := map[string]string{}
	for _, line := range strings.Split(out.String(), "\n") {
		if strings.HasPrefix(line, "result ") {
			for _, f := range strings.Fields(line) {
				if k, v, ok := strings.Cut(f, "="); ok {
					kv[k] = v
				}
			}
		}
	}
	if !strings.Contains(out.String(), "verify ok") || kv["errors"] != "0" {
		t.Fatalf("tlschurn %v:\n%s%s", args, out.String(), errb.String())
	}
	return kv
}

func num(t *testing.T, kv map[string]string, k string) int {
	t.Helper()
	n, err := strconv.Atoi(kv[k])
	if err != nil {
		t.Fatalf("%s=%q: %v", k, kv[k], err)
	}
	return n
}

// TestFullHandshakesNeverResumeAndResumptionDoes: without -resume the
// server, which sends tickets, sees no resumed handshake; with -resume it
// sees at most one full handshake per goroutine (its first, before a
// ticket came), and the client's counts agree with the server's.
func TestFullHandshakesNeverResumeAndResumptionDoes(t *testing.T) {
	var full, resumed atomic.Int64
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.TLS.DidResume {
			resumed.Add(1)
		} else {
			full.Add(1)
		}
		fmt.Fprint(w, "Hello, World!")
	}))
	srv.StartTLS()
	defer srv.Close()

	kv := churn(t, srv)
	if num(t, kv, "resumed") != 0 || resumed.Load() != 0 || num(t, kv, "msgs") == 0 {
		t.Fatalf("without -resume: client %v, server saw %d resumed", kv, resumed.Load())
	}
	if kv["version"] != "TLS1.3" || kv["group"] != "X25519" {
		t.Fatalf("negotiated %s %s %s, want TLS 1.3 with X25519", kv["version"], kv["suite"], kv["group"])
	}

	full.Store(0)
	kv = churn(t, srv, "-resume")
	if n := num(t, kv, "full"); n > 2 || full.Load() > 2 || num(t, kv, "resumed") == 0 {
		t.Fatalf("with -resume: client %v, server saw %d full handshakes", kv, full.Load())
	}
}

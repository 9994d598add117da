package tracefmt

import (
	"bytes"
	"encoding/json"
	"reflect"
	"sort"
	"strings"
	"testing"
)

// jsonFields is the documented schema (docs/trace.md). Renaming a field
// breaks users' jq scripts: this list changes only with the docs.
var jsonFields = []string{"addr", "conn", "detail", "err", "fd", "kind", "loop", "n", "ready",
	"role", "side", "t_us", "tcp_state"}

// TestJSONFieldsAreTheDocumentedOnes checks every line's keys and the
// values of a few well-known events.
func TestJSONFieldsAreTheDocumentedOnes(t *testing.T) {
	var b bytes.Buffer
	if err := WriteJSON(&b, records(okEvents())); err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSpace(b.String()), "\n")
	if len(lines) != len(okEvents()) {
		t.Fatalf("%d lines for %d events", len(lines), len(okEvents()))
	}
	for _, line := range lines {
		var m map[string]any
		if err := json.Unmarshal([]byte(line), &m); err != nil {
			t.Fatalf("%v: %s", err, line)
		}
		var keys []string
		for k := range m {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		if !reflect.DeepEqual(keys, jsonFields) {
			t.Fatalf("keys %v, want %v", keys, jsonFields)
		}
	}
	var connect map[string]any
	json.Unmarshal([]byte(lines[4]), &connect)
	want := map[string]any{"t_us": 201.0, "fd": 9.0, "conn": 1.0, "role": "dialed", "kind": "connect",
		"err": "EINPROGRESS", "addr": "127.0.0.1:40000", "tcp_state": "ESTABLISHED", "side": "client", "ready": ""}
	for k, v := range want {
		if connect[k] != v {
			t.Errorf("connect line: %s = %v, want %v (%s)", k, connect[k], v, lines[4])
		}
	}
}

// TestJSONRoundTrip checks that ReadJSON gives back what WriteJSON wrote,
// notes and TLS records included, and rejects unknown fields.
func TestJSONRoundTrip(t *testing.T) {
	for _, recs := range [][]Record{ackDroppedRecords(), records(tlsEvents())} {
		var b bytes.Buffer
		if err := WriteJSON(&b, recs); err != nil {
			t.Fatal(err)
		}
		got, err := ReadJSON(&b)
		if err != nil {
			t.Fatal(err)
		}
		if !reflect.DeepEqual(got, recs) {
			t.Fatalf("round trip changed the records:\n got %+v\nwant %+v", got, recs)
		}
	}
	if _, err := ReadJSON(strings.NewReader(`{"t_us":1,"kind":"ready","extra":1}`)); err == nil {
		t.Fatal("ReadJSON accepted an unknown field")
	}
}

// TestJSONTLSRecord: a TLS handshake's record keeps the engine's kind and
// detail, which scripts match on.
func TestJSONTLSRecord(t *testing.T) {
	var b bytes.Buffer
	if err := WriteJSON(&b, records(tlsEvents())); err != nil {
		t.Fatal(err)
	}
	var kinds []string
	for _, line := range strings.Split(strings.TrimSpace(b.String()), "\n") {
		var m map[string]any
		if err := json.Unmarshal([]byte(line), &m); err != nil {
			t.Fatal(err)
		}
		if m["kind"] == "tls" {
			kinds = append(kinds, m["role"].(string)+" "+m["detail"].(string))
		}
	}
	want := []string{"dialed start", "accepted start", "dialed done version=TLS1.3 alpn=- resumed=false",
		"accepted done version=TLS1.3 alpn=- resumed=false"}
	if !reflect.DeepEqual(kinds, want) {
		t.Errorf("tls lines %q, want %q", kinds, want)
	}
}

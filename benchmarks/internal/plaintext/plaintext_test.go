package plaintext

import (
	"bytes"
	"strings"
	"testing"
)

const get = "GET / HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n"

func TestScan(t *testing.T) {
	for _, tc := range []struct {
		in      string
		n, used int
		closing bool
	}{
		{"", 0, 0, false},
		{"GET / HTTP/1.1\r\nHost: x\r\n", 0, 0, false},
		{get, 1, len(get), false},
		{get + get + get[:10], 2, 2 * len(get), false},
		{strings.Repeat(get, 16), 16, 16 * len(get), false},
		{"GET / HTTP/1.1\r\nConnection: close\r\n\r\n" + get, 1, 37, true},
		{"GET / HTTP/1.1\r\nCONNECTION:   Close\r\n\r\n", 1, 39, true},
		{"GET / HTTP/1.1\r\nConnection: keep-alive\r\n\r\n", 1, 42, false},
		{"GET / HTTP/1.0\r\n\r\n", 1, 18, true},
		{"GET /connection: close HTTP/1.1\r\n\r\n", 1, 35, false},
	} {
		n, used, closing := Scan([]byte(tc.in))
		if n != tc.n || used != tc.used || closing != tc.closing {
			t.Errorf("Scan(%q) = %d, %d, %v; want %d, %d, %v", tc.in, n, used, closing, tc.n, tc.used, tc.closing)
		}
	}
}

func TestResponses(t *testing.T) {
	one := Responses(1)
	if len(one) != Len || !bytes.HasSuffix(one, []byte("\r\nContent-Length: 13\r\n\r\nHello, World!")) {
		t.Fatalf("Responses(1) = %q", one)
	}
	if got := len(Responses(1000)); got != Batch*Len {
		t.Fatalf("len(Responses(1000)) = %d, want %d", got, Batch*Len)
	}
	if !bytes.Contains(CloseResponse(), []byte("\r\nConnection: close\r\n")) {
		t.Fatalf("CloseResponse() = %q", CloseResponse())
	}
	if !bytes.Contains(one, []byte(" GMT\r\n")) {
		t.Fatalf("no GMT date in %q", one)
	}
}

func FuzzScan(f *testing.F) {
	f.Add([]byte(get + get))
	f.Add([]byte("GET / HTTP/1.0\r\nConnection: close\r\n\r\n"))
	f.Fuzz(func(t *testing.T, in []byte) {
		n, used, _ := Scan(in)
		if used > len(in) || (n == 0) != (used == 0) {
			t.Fatalf("Scan = %d, %d on %d bytes", n, used, len(in))
		}
		if used > 0 && !bytes.HasSuffix(in[:used], crlfcrlf) {
			t.Fatalf("used %d does not end a request", used)
		}
	})
}

package http1

import "testing"

// BenchmarkParseRequest parses the GET wrk sends: four fields, no body.
func BenchmarkParseRequest(b *testing.B) {
	in := []byte(wrkGET)
	var p RequestParser
	var req Request
	b.SetBytes(int64(len(in)))
	b.ReportAllocs()
	for b.Loop() {
		if n, err := p.Parse(in, &req); n != len(in) || err != nil {
			b.Fatalf("Parse = %d, %v", n, err)
		}
	}
}

// BenchmarkParseRequestChunked parses a POST with a 1 KiB body in 4 chunks.
func BenchmarkParseRequestChunked(b *testing.B) {
	s, _ := chunkedRequest(4, 256)
	in := []byte(s)
	var p RequestParser
	var req Request
	b.SetBytes(int64(len(in)))
	b.ReportAllocs()
	for b.Loop() {
		if n, err := p.Parse(in, &req); n != len(in) || err != nil {
			b.Fatalf("Parse = %d, %v", n, err)
		}
	}
}

// BenchmarkParseResponse parses what `epollnet serve --proto http` answers.
func BenchmarkParseResponse(b *testing.B) {
	h := ResponseHead{StatusCode: 200, Date: testDate, Headers: []Header{hdr("Content-Type", "text/plain")}}
	in := AppendResponse(nil, &h, []byte("Hello, World!"))
	var p ResponseParser
	var resp Response
	b.SetBytes(int64(len(in)))
	b.ReportAllocs()
	for b.Loop() {
		if n, err := p.Parse(in, "GET", &resp); n != len(in) || err != nil {
			b.Fatalf("Parse = %d, %v", n, err)
		}
	}
}

// BenchmarkAppendResponse writes a small fixed response with a cached Date.
func BenchmarkAppendResponse(b *testing.B) {
	h := ResponseHead{StatusCode: 200, Date: testDate, Headers: []Header{hdr("Content-Type", "text/plain")}}
	body := []byte("Hello, World!")
	buf := make([]byte, 0, 256)
	b.ReportAllocs()
	for b.Loop() {
		buf = AppendResponse(buf[:0], &h, body)
	}
	b.SetBytes(int64(len(buf)))
}

// BenchmarkAppendRequest writes the request the load generator sends.
func BenchmarkAppendRequest(b *testing.B) {
	hs := []Header{hdr("User-Agent", "epollnet-bench"), hdr("Accept", "*/*")}
	buf := make([]byte, 0, 256)
	b.ReportAllocs()
	for b.Loop() {
		buf = AppendRequest(buf[:0], "GET", "/", "127.0.0.1:8080", hs, nil)
	}
	b.SetBytes(int64(len(buf)))
}

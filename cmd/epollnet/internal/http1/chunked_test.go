package http1

import (
	"strings"
	"testing"
)

// chunkedRequest returns a chunked request whose body is count chunks of
// size bytes each, and that body.
func chunkedRequest(count, size int) (in, body string) {
	var b, d strings.Builder
	b.WriteString(chunkedHead)
	for i := 0; i < count; i++ {
		data := strings.Repeat(string(rune('a'+i%26)), size)
		b.WriteString(strings.ToLower(hex(size)) + "\r\n" + data + "\r\n")
		d.WriteString(data)
	}
	b.WriteString("0\r\n\r\n")
	return b.String(), d.String()
}

func hex(n int) string {
	const digits = "0123456789ABCDEF"
	s := ""
	for ; n > 0; n /= 16 {
		s = string(digits[n%16]) + s
	}
	return s
}

// TestChunkedResumesAcrossCalls feeds a chunked body a byte at a time, as a
// slow client would, and checks the decoder resumes after complete chunks
// instead of decoding from the start each call.
func TestChunkedResumesAcrossCalls(t *testing.T) {
	in, body := chunkedRequest(300, 17)
	var p RequestParser
	var req Request
	head := len(chunkedHead)
	for k := head; k < len(in); k++ {
		n, err := p.Parse([]byte(in[:k]), &req)
		if n != 0 || err != nil {
			t.Fatalf("prefix %d: Parse = %d, %v", k, n, err)
		}
		// Each complete chunk ("11" CRLF data CRLF) is consumed once.
		const chunkLen = 2 + 2 + 17 + 2
		if done := (k - head) / chunkLen * chunkLen; k-head < 300*chunkLen && p.chunked.off != done {
			t.Fatalf("prefix %d: decoder at %d, want %d", k, p.chunked.off, done)
		}
	}
	n, err := p.Parse([]byte(in), &req)
	if n != len(in) || err != nil || string(req.Body) != body {
		t.Fatalf("Parse(all) = %d, %v, body %d bytes", n, err, len(req.Body))
	}
}

// TestChunkedRestartsForAnotherHead checks that state left by an unfinished
// body is dropped when a different head follows without Reset.
func TestChunkedRestartsForAnotherHead(t *testing.T) {
	var p RequestParser
	var req Request
	if n, err := p.Parse([]byte(chunkedHead+"3\r\nabc\r\n"), &req); n != 0 || err != nil {
		t.Fatalf("partial: Parse = %d, %v", n, err)
	}
	other := "POST /other HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nxy\r\n0\r\n\r\n"
	if n, err := p.Parse([]byte(other), &req); n != len(other) || err != nil || string(req.Body) != "xy" {
		t.Fatalf("other: Parse = %d, %v, body %q", n, err, req.Body)
	}
	p.Reset()
	in, body := chunkedRequest(2, 3)
	if n, err := p.Parse([]byte(in), &req); n != len(in) || err != nil || string(req.Body) != body {
		t.Fatalf("after Reset: Parse = %d, %v, body %q", n, err, req.Body)
	}
}

// TestChunkedScratchNotKeptWhenLarge checks that a large decoded body does
// not stay pinned to the parser for the connection's lifetime.
func TestChunkedScratchNotKeptWhenLarge(t *testing.T) {
	p := RequestParser{Limits: Limits{MaxBodyBytes: 1 << 20}}
	var req Request
	big, _ := chunkedRequest(100, 1000)
	if n, err := p.Parse([]byte(big), &req); n != len(big) || err != nil {
		t.Fatalf("big: Parse = %d, %v", n, err)
	}
	if cap(p.chunked.data) <= maxScratchKeep {
		t.Fatalf("scratch cap %d, want the big body's", cap(p.chunked.data))
	}
	small, _ := chunkedRequest(1, 10)
	if n, err := p.Parse([]byte(small), &req); n != len(small) || err != nil {
		t.Fatalf("small: Parse = %d, %v", n, err)
	}
	if c := cap(p.chunked.data); c > maxScratchKeep {
		t.Errorf("scratch cap %d after a small body, want <= %d", c, maxScratchKeep)
	}
}

// TestParseDoesNotAllocate pins the steady-state promise: once the Request's
// arrays and the scratch buffer have grown, parsing allocates nothing.
func TestParseDoesNotAllocate(t *testing.T) {
	chunked, _ := chunkedRequest(4, 100)
	for _, in := range []string{
		wrkGET,
		crlf("POST /p HTTP/1.1\nHost: h\nContent-Length: 5\n\nhello"),
		chunked + "0\r\n", // trailing partial request: the loop stops after one
	} {
		var p RequestParser
		var req Request
		b := []byte(in)
		p.Parse(b, &req)
		if allocs := testing.AllocsPerRun(100, func() { p.Parse(b, &req) }); allocs != 0 {
			t.Errorf("Parse(%.30q...) allocates %v times", in, allocs)
		}
	}
	var rp ResponseParser
	var resp Response
	b := []byte(crlf("HTTP/1.1 200 OK\nDate: x\nContent-Type: text/plain\nContent-Length: 2\n\nok"))
	rp.Parse(b, "GET", &resp)
	if allocs := testing.AllocsPerRun(100, func() { rp.Parse(b, "GET", &resp) }); allocs != 0 {
		t.Errorf("ResponseParser.Parse allocates %v times", allocs)
	}
}

// TestChunkedManyTinyChunksAllowed checks that the overhead rule refuses
// extension padding, not a client that merely sends small chunks.
func TestChunkedManyTinyChunksAllowed(t *testing.T) {
	in, body := chunkedRequest(5000, 1)
	var p RequestParser
	var req Request
	if n, err := p.Parse([]byte(in), &req); n != len(in) || err != nil || string(req.Body) != body {
		t.Fatalf("Parse = %d, %v", n, err)
	}
}

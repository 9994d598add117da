package http1

import (
	"bytes"
	"testing"
)

// fuzzLimits are small, so the fuzzer reaches every limit.
var fuzzLimits = Limits{MaxHeaderBytes: 512, MaxHeaders: 8, MaxBodyBytes: 256, MaxURI: 128}

// outcome is one Parse result in comparable form.
type outcome struct{ n, status int }

func outcomeOf(n int, err error) outcome { return outcome{n, statusOf(err)} }

// checkPrefixes checks the incremental contract on data, given parse, which
// parses with a fresh parser, and grown, which parses with one parser kept
// across calls: every prefix of data needs more data, or gives the whole
// input's result (a complete message at the same n, or the same status).
// Parsing growing prefixes with one parser gives the same results.
func checkPrefixes(t *testing.T, data []byte, full outcome, parse, grown func([]byte) outcome) {
	step := 1
	if len(data) > 300 {
		step = len(data)/300 + 1
	}
	for k := 0; k < len(data); k += step {
		got := parse(data[:k])
		if got != (outcome{}) && got != full && !(got.n == 0 && got.status == full.status) {
			t.Fatalf("prefix %d of %q: %+v, whole input %+v", k, data, got, full)
		}
		if g := grown(data[:k]); g != got {
			t.Fatalf("prefix %d of %q: resumed parser %+v, fresh parser %+v", k, data, g, got)
		}
	}
	if g := grown(data); g != full {
		t.Fatalf("whole %q: resumed parser %+v, fresh parser %+v", data, g, full)
	}
}

// checkOutcome checks the invariants of any single result.
func checkOutcome(t *testing.T, data []byte, o outcome, err error) {
	switch {
	case o.n < 0 || o.n > len(data):
		t.Fatalf("Parse(%q) = %d, beyond the input", data, o.n)
	case err != nil && o.n != 0:
		t.Fatalf("Parse(%q) = %d with error %v", data, o.n, err)
	case err != nil && o.status < 400:
		t.Fatalf("Parse(%q) error %v has no 4xx/5xx status", data, err)
	}
}

func FuzzParseRequest(f *testing.F) {
	for _, tc := range validRequests {
		f.Add([]byte(tc.in))
	}
	for _, tc := range invalidRequests {
		f.Add([]byte(tc.in))
	}
	f.Add([]byte(wrkGET + wrkGET))
	f.Fuzz(func(t *testing.T, data []byte) {
		p := RequestParser{Limits: fuzzLimits}
		var req Request
		n, err := p.Parse(data, &req)
		full := outcomeOf(n, err)
		checkOutcome(t, data, full, err)
		grown := RequestParser{Limits: fuzzLimits}
		checkPrefixes(t, data, full,
			func(b []byte) outcome {
				p := RequestParser{Limits: fuzzLimits}
				return outcomeOf(p.Parse(b, &Request{}))
			},
			func(b []byte) outcome { return outcomeOf(grown.Parse(b, &Request{})) })
		if n > 0 {
			checkRequestRoundTrip(t, data[:n], &req)
		}
	})
}

// checkRequestRoundTrip writes req back with AppendRequest and parses the
// result: method, target, Host, the other fields and the body survive.
func checkRequestRoundTrip(t *testing.T, data []byte, req *Request) {
	var hs []Header
	for _, h := range req.Headers {
		if !equalFold(h.Name, "host") && !equalFold(h.Name, "content-length") && !equalFold(h.Name, "transfer-encoding") {
			hs = append(hs, h)
		}
	}
	var body []byte
	if req.ContentLength != 0 {
		body = append([]byte{}, req.Body...)
	}
	out := AppendRequest(nil, string(req.Method), string(req.Target), string(req.Host), hs, body)
	var p RequestParser
	var back Request
	n, err := p.Parse(out, &back)
	switch {
	case n != len(out) || err != nil:
		t.Fatalf("round trip of %q: Parse(%q) = %d, %v", data, out, n, err)
	case !bytes.Equal(back.Method, req.Method) || !bytes.Equal(back.Target, req.Target) ||
		!bytes.Equal(back.Host, req.Host) || !bytes.Equal(back.Body, req.Body):
		t.Fatalf("round trip of %q: got %+v from %q", data, reqMsg(&back), out)
	case fields2s(back.Headers[1:len(hs)+1]) != fields2s(hs):
		t.Fatalf("round trip of %q: fields %q, want %q", data, fields2s(back.Headers), fields2s(hs))
	}
}

func FuzzParseResponse(f *testing.F) {
	for _, tc := range validResponses {
		f.Add([]byte(tc.in), tc.method == "HEAD")
	}
	for _, tc := range invalidResponses {
		f.Add([]byte(tc.in), false)
	}
	f.Fuzz(func(t *testing.T, data []byte, head bool) {
		method := "GET"
		if head {
			method = "HEAD"
		}
		p := ResponseParser{Limits: fuzzLimits}
		var resp Response
		n, err := p.Parse(data, method, &resp)
		full := outcomeOf(n, err)
		checkOutcome(t, data, full, err)
		grown := ResponseParser{Limits: fuzzLimits}
		checkPrefixes(t, data, full,
			func(b []byte) outcome {
				p := ResponseParser{Limits: fuzzLimits}
				return outcomeOf(p.Parse(b, method, &Response{}))
			},
			func(b []byte) outcome { return outcomeOf(grown.Parse(b, method, &Response{})) })
		if n > 0 && !head {
			checkResponseRoundTrip(t, data[:n], &resp)
		}
	})
}

// checkResponseRoundTrip writes resp back with AppendResponse and parses the
// result: the status, the other fields and the body survive.
func checkResponseRoundTrip(t *testing.T, data []byte, resp *Response) {
	var hs []Header
	for _, h := range resp.Headers {
		if !equalFold(h.Name, "host") && !equalFold(h.Name, "content-length") && !equalFold(h.Name, "transfer-encoding") {
			hs = append(hs, h)
		}
	}
	rh := ResponseHead{StatusCode: resp.StatusCode, Headers: hs}
	out := AppendResponse(nil, &rh, resp.Body)
	var p ResponseParser
	var back Response
	n, err := p.Parse(out, "GET", &back)
	switch {
	case n != len(out) || err != nil:
		t.Fatalf("round trip of %q: Parse(%q) = %d, %v", data, out, n, err)
	case back.StatusCode != resp.StatusCode || !bytes.Equal(back.Body, resp.Body):
		t.Fatalf("round trip of %q: got %+v from %q", data, respMsg(&back), out)
	case fields2s(back.Headers[:len(hs)]) != fields2s(hs):
		t.Fatalf("round trip of %q: fields %q, want %q", data, fields2s(back.Headers), fields2s(hs))
	}
}

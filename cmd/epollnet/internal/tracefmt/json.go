package tracefmt

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"time"
)

// jsonRecord is the wire form of a Record: one object per line, with the
// field names documented in docs/trace.md. Every field is always present,
// so consumers need no defaults; the names are a stable interface.
type jsonRecord struct {
	TUS      int64  `json:"t_us"`
	Loop     int    `json:"loop"`
	FD       int    `json:"fd"`
	Conn     uint64 `json:"conn"`
	Role     string `json:"role"`
	Kind     string `json:"kind"`
	Ready    string `json:"ready"`
	N        int    `json:"n"`
	Err      string `json:"err"`
	Addr     string `json:"addr"`
	TCPState string `json:"tcp_state"`
	Detail   string `json:"detail"`
	Side     string `json:"side"`
}

// JSONEncoder writes records as JSON Lines.
type JSONEncoder struct{ enc *json.Encoder }

// NewJSONEncoder returns an encoder writing to w.
func NewJSONEncoder(w io.Writer) *JSONEncoder {
	enc := json.NewEncoder(w)
	enc.SetEscapeHTML(false)
	return &JSONEncoder{enc: enc}
}

// Encode writes r as one line.
func (e *JSONEncoder) Encode(r Record) error {
	return e.enc.Encode(jsonRecord{
		TUS: r.T.Microseconds(), Loop: r.Loop, FD: r.FD, Conn: r.Conn, Role: r.Role,
		Kind: r.Kind, Ready: r.Ready, N: r.N, Err: r.Err, Addr: r.Addr,
		TCPState: r.TCPState, Detail: r.Detail, Side: r.Side,
	})
}

// WriteJSON writes every record, one JSON object per line.
func WriteJSON(w io.Writer, recs []Record) error {
	e := NewJSONEncoder(w)
	for _, r := range recs {
		if err := e.Encode(r); err != nil {
			return err
		}
	}
	return nil
}

// ReadJSON reads records written by WriteJSON. Unknown fields are
// rejected, so a renamed field cannot pass unnoticed.
func ReadJSON(r io.Reader) ([]Record, error) {
	var recs []Record
	sc := bufio.NewScanner(r)
	for line := 1; sc.Scan(); line++ {
		dec := json.NewDecoder(bytes.NewReader(sc.Bytes()))
		dec.DisallowUnknownFields()
		var j jsonRecord
		if err := dec.Decode(&j); err != nil {
			return nil, fmt.Errorf("tracefmt: line %d: %w", line, err)
		}
		recs = append(recs, Record{
			T: time.Duration(j.TUS) * time.Microsecond, Loop: j.Loop, FD: j.FD, Conn: j.Conn,
			Role: j.Role, Kind: j.Kind, Ready: j.Ready, N: j.N, Err: j.Err, Addr: j.Addr,
			TCPState: j.TCPState, Detail: j.Detail, Side: j.Side,
		})
	}
	return recs, sc.Err()
}

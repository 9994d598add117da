package promtext

import (
	"bytes"
	"math"
	"reflect"
	"strings"
	"testing"
)

// TestWriteExactOutput pins the bytes of a small exposition: HELP and TYPE
// before the samples, labels in the given order, escapes, integer and
// special values.
func TestWriteExactOutput(t *testing.T) {
	fams := []Family{
		{Name: "app_requests_total", Help: "Requests.\nBy \\loop.", Type: Counter, Samples: []Sample{
			{Labels: []Label{{"loop", "0"}}, Value: 12},
			{Labels: []Label{{"loop", "1"}}, Value: 1 << 53},
		}},
		{Name: "app_temp", Type: Gauge, Samples: []Sample{
			{Labels: []Label{{"where", `a "b" \c` + "\nd"}}, Value: -1.5},
			{Value: math.Inf(1)},
		}},
		{Name: "app_ratio", Help: "r", Type: Gauge, Samples: []Sample{{Value: math.NaN()}}},
	}
	var b bytes.Buffer
	if err := Write(&b, fams); err != nil {
		t.Fatal(err)
	}
	want := `# HELP app_requests_total Requests.\nBy \\loop.
# TYPE app_requests_total counter
app_requests_total{loop="0"} 12
app_requests_total{loop="1"} 9007199254740992
# TYPE app_temp gauge
app_temp{where="a \"b\" \\c\nd"} -1.5
app_temp +Inf
# HELP app_ratio r
# TYPE app_ratio gauge
app_ratio NaN
`
	if b.String() != want {
		t.Fatalf("got:\n%s\nwant:\n%s", b.String(), want)
	}
}

// TestWriteParseRoundTrip: what Write writes, Parse reads back unchanged.
func TestWriteParseRoundTrip(t *testing.T) {
	fams := []Family{
		{Name: "x_total", Help: `odd \ help` + "\n" + `"quoted"`, Type: Counter, Samples: []Sample{
			{Labels: []Label{{"a", `v\"` + "\n"}, {"b", ""}}, Value: 3},
			{Labels: []Label{{"a", "w"}, {"b", "é"}}, Value: 1e300},
		}},
		{Name: "y:ratio", Type: Gauge, Samples: []Sample{{Value: 0.25}, {Labels: []Label{{"_k", "1"}}, Value: -7}}},
		{Name: "z_empty", Help: "no samples", Type: Gauge},
	}
	var b bytes.Buffer
	if err := Write(&b, fams); err != nil {
		t.Fatal(err)
	}
	got, err := Parse(&b)
	if err != nil {
		t.Fatalf("%v\n%s", err, b.String())
	}
	if !reflect.DeepEqual(got, fams) {
		t.Fatalf("round trip:\n got %+v\nwant %+v", got, fams)
	}
}

// TestWriteRefusesWhatPrometheusWould: invalid names, repeated families
// and series, negative counters, unknown types; nothing is written then.
func TestWriteRefusesWhatPrometheusWould(t *testing.T) {
	s := func(v float64, ls ...Label) []Sample { return []Sample{{Labels: ls, Value: v}} }
	for _, tc := range []struct {
		name string
		fams []Family
	}{
		{"metric name with dash", []Family{{Name: "a-b", Type: Gauge}}},
		{"metric name starting with a digit", []Family{{Name: "1a", Type: Gauge}}},
		{"label name with colon", []Family{{Name: "a", Type: Gauge, Samples: s(1, Label{"x:y", "1"})}}},
		{"reserved label name", []Family{{Name: "a", Type: Gauge, Samples: s(1, Label{"__name__", "1"})}}},
		{"label given twice", []Family{{Name: "a", Type: Gauge, Samples: s(1, Label{"x", "1"}, Label{"x", "2"})}}},
		{"family twice", []Family{{Name: "a", Type: Gauge}, {Name: "a", Type: Gauge}}},
		{"series twice", []Family{{Name: "a", Type: Gauge, Samples: []Sample{
			{Labels: []Label{{"x", "1"}, {"y", "2"}}}, {Labels: []Label{{"y", "2"}, {"x", "1"}}}}}}},
		{"negative counter", []Family{{Name: "a_total", Type: Counter, Samples: s(-1)}}},
		{"NaN counter", []Family{{Name: "a_total", Type: Counter, Samples: s(math.NaN())}}},
		{"histogram", []Family{{Name: "a", Type: "histogram"}}},
	} {
		var b bytes.Buffer
		if err := Write(&b, tc.fams); err == nil || b.Len() != 0 {
			t.Errorf("%s: err %v, wrote %q", tc.name, err, b.String())
		}
	}
}

// TestParseRejectsMalformedExpositions: each input breaks one rule of the
// format (or one of Parse's stricter ones).
func TestParseRejectsMalformedExpositions(t *testing.T) {
	for _, tc := range []struct{ name, in string }{
		{"no final line feed", "a 1"},
		{"carriage return", "a 1\r\n"},
		{"no value", "a\n"},
		{"value not a number", "a one\n"},
		{"two values and a timestamp", "a 1 2 3\n"},
		{"bad timestamp", "a 1 x\n"},
		{"no blank after labels", "a{x=\"1\"}1\n"},
		{"unquoted label value", "a{x=1} 1\n"},
		{"unterminated label value", "a{x=\"1} 1\n"},
		{"unknown escape", "a{x=\"\\t\"} 1\n"},
		{"escaped quote in HELP", "# HELP a \\\"x\\\"\n"},
		{"label name with dash", "a{x-y=\"1\"} 1\n"},
		{"missing comma", "a{x=\"1\" y=\"2\"} 1\n"},
		{"repeated series", "a{x=\"1\"} 1\na{x=\"1\"} 2\n"},
		{"repeated series, labels reordered", "a{x=\"1\",y=\"2\"} 1\na{y=\"2\",x=\"1\"} 2\n"},
		{"family split in two groups", "a 1\nb 1\na{x=\"1\"} 1\n"},
		{"TYPE after samples", "a 1\n# TYPE a gauge\n"},
		{"TYPE twice", "# TYPE a gauge\n# TYPE a gauge\n"},
		{"HELP twice", "# HELP a x\n# HELP a y\n"},
		{"unknown type", "# TYPE a gaugé\n"},
		{"histogram", "# TYPE a histogram\n"},
		{"negative counter", "# TYPE a_total counter\na_total -1\n"},
		{"invalid metric name", "a.b 1\n"},
	} {
		if fams, err := Parse(strings.NewReader(tc.in)); err == nil {
			t.Errorf("%s: %q parsed as %+v", tc.name, tc.in, fams)
		}
	}
}

// TestParseAcceptsTheFormatsFreedoms: blank lines, other comments,
// timestamps, blanks around label pairs, a trailing comma, no TYPE.
func TestParseAcceptsTheFormatsFreedoms(t *testing.T) {
	in := "# a comment\n\n#HELP not a help line\n# TYPE a counter\na{ x = \"1\" , } 2 1700000000000\n\tb 3\n"
	fams, err := Parse(strings.NewReader(in))
	if err != nil {
		t.Fatal(err)
	}
	want := []Family{
		{Name: "a", Type: Counter, Samples: []Sample{{Labels: []Label{{"x", "1"}}, Value: 2}}},
		{Name: "b", Type: Untyped, Samples: []Sample{{Value: 3}}},
	}
	if !reflect.DeepEqual(fams, want) {
		t.Fatalf("got %+v", fams)
	}
}

// FuzzParse: Parse never panics, and whatever it accepts survives a round
// trip through Write.
func FuzzParse(f *testing.F) {
	f.Add("# HELP a x\\ny\n# TYPE a counter\na{l=\"v\\\"\"} 1\n")
	f.Add("b{x=\"1\",} NaN\nc +Inf 12\n")
	f.Fuzz(func(t *testing.T, in string) {
		fams, err := Parse(strings.NewReader(in))
		if err != nil {
			return
		}
		var b bytes.Buffer
		if err := Write(&b, fams); err != nil {
			t.Fatalf("Parse accepted %q but Write refuses %+v: %v", in, fams, err)
		}
		again, err := Parse(&b)
		if err != nil {
			t.Fatalf("Write output does not parse: %v\n%s", err, b.String())
		}
		if len(again) != len(fams) {
			t.Fatalf("%d families, then %d", len(fams), len(again))
		}
	})
}

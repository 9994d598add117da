// Package promtext writes (and, strictly, parses) the Prometheus text
// exposition format, version 0.0.4: HELP and TYPE lines, then one line per
// sample, name{label="value",...} value.
//
// It covers what "epollnet serve --metrics" needs, counters and gauges,
// in about two hundred lines, where github.com/prometheus/client_golang
// would bring a registry, collectors, protobuf and a dozen modules for the
// same output. Parse exists so that tests can read the output back and
// check it against the format's rules rather than against this writer.
//
// Format reference: https://prometheus.io/docs/instrumenting/exposition_formats/
package promtext

import (
	"bufio"
	"fmt"
	"io"
	"math"
	"slices"
	"strconv"
	"strings"
)

// ContentType is the media type of the format, for the Content-Type header.
const ContentType = "text/plain; version=0.0.4; charset=utf-8"

// Type is a metric family's type, as the TYPE line names it.
type Type string

// Types this package writes. Parse also accepts Untyped; it refuses
// histograms and summaries, whose samples span several names.
const (
	Counter Type = "counter" // only goes up, or resets to 0 when the process restarts
	Gauge   Type = "gauge"   // a value that goes up and down
	Untyped Type = "untyped"
)

// Label is one name="value" pair of a sample.
type Label struct {
	Name, Value string
}

// Sample is one time series' current value.
type Sample struct {
	Labels []Label
	Value  float64
}

// Family is a metric: its name, help text, type, and one sample per label
// set.
type Family struct {
	Name    string
	Help    string
	Type    Type
	Samples []Sample
}

// Write writes fams in the text format. It returns an error, before
// writing anything, for what Prometheus would refuse: an invalid metric or
// label name, a label name used twice in a sample, a family name or a
// label set repeated, a negative counter, or an unknown type.
func Write(w io.Writer, fams []Family) error {
	if err := check(fams); err != nil {
		return err
	}
	bw := bufio.NewWriter(w)
	for _, f := range fams {
		if f.Help != "" {
			fmt.Fprintf(bw, "# HELP %s %s\n", f.Name, escape(f.Help, false))
		}
		fmt.Fprintf(bw, "# TYPE %s %s\n", f.Name, f.Type)
		for _, s := range f.Samples {
			bw.WriteString(f.Name)
			writeLabels(bw, s.Labels)
			bw.WriteByte(' ')
			bw.WriteString(FormatValue(s.Value))
			bw.WriteByte('\n')
		}
	}
	return bw.Flush()
}

func writeLabels(bw *bufio.Writer, ls []Label) {
	if len(ls) == 0 {
		return
	}
	bw.WriteByte('{')
	for i, l := range ls {
		if i > 0 {
			bw.WriteByte(',')
		}
		bw.WriteString(l.Name)
		bw.WriteString(`="`)
		bw.WriteString(escape(l.Value, true))
		bw.WriteByte('"')
	}
	bw.WriteByte('}')
}

// check applies Write's rules to every family.
func check(fams []Family) error {
	names := map[string]bool{}
	for _, f := range fams {
		if !ValidMetricName(f.Name) {
			return fmt.Errorf("promtext: invalid metric name %q", f.Name)
		}
		if names[f.Name] {
			return fmt.Errorf("promtext: metric %s written twice", f.Name)
		}
		names[f.Name] = true
		if f.Type != Counter && f.Type != Gauge && f.Type != Untyped {
			return fmt.Errorf("promtext: metric %s: unsupported type %q", f.Name, f.Type)
		}
		series := map[string]bool{}
		for _, s := range f.Samples {
			key, err := labelKey(s.Labels)
			if err != nil {
				return fmt.Errorf("promtext: metric %s: %w", f.Name, err)
			}
			if series[key] {
				return fmt.Errorf("promtext: metric %s: label set {%s} written twice", f.Name, key)
			}
			series[key] = true
			if f.Type == Counter && (s.Value < 0 || math.IsNaN(s.Value)) {
				return fmt.Errorf("promtext: counter %s{%s} is %v", f.Name, key, s.Value)
			}
		}
	}
	return nil
}

// labelKey checks a label set and returns a canonical key for it, the
// labels sorted by name, so that {a,b} and {b,a} are the same series.
func labelKey(ls []Label) (string, error) {
	seen := make(map[string]string, len(ls))
	for _, l := range ls {
		if !ValidLabelName(l.Name) {
			return "", fmt.Errorf("invalid label name %q", l.Name)
		}
		if _, dup := seen[l.Name]; dup {
			return "", fmt.Errorf("label %s given twice", l.Name)
		}
		seen[l.Name] = l.Value
	}
	keys := make([]string, 0, len(seen))
	for k := range seen {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	var b strings.Builder
	for i, k := range keys {
		if i > 0 {
			b.WriteByte(',')
		}
		fmt.Fprintf(&b, "%s=%q", k, seen[k])
	}
	return b.String(), nil
}

// escape escapes a HELP text (backslash and line feed) or, with quote, a
// label value (also the double quote), as the format requires.
func escape(s string, quote bool) string {
	if !strings.ContainsAny(s, "\\\n\"") {
		return s
	}
	var b strings.Builder
	for _, r := range s {
		switch {
		case r == '\\':
			b.WriteString(`\\`)
		case r == '\n':
			b.WriteString(`\n`)
		case r == '"' && quote:
			b.WriteString(`\"`)
		default:
			b.WriteRune(r)
		}
	}
	return b.String()
}

// FormatValue formats a sample value: integers without exponent or
// fraction up to 2^53 (counters are exact there), other values in Go's
// shortest form, and the special values as Prometheus spells them.
func FormatValue(v float64) string {
	switch {
	case math.IsNaN(v):
		return "NaN"
	case math.IsInf(v, 1):
		return "+Inf"
	case math.IsInf(v, -1):
		return "-Inf"
	case v == math.Trunc(v) && math.Abs(v) <= 1<<53:
		return strconv.FormatFloat(v, 'f', -1, 64)
	}
	return strconv.FormatFloat(v, 'g', -1, 64)
}

// ValidMetricName reports whether s matches [a-zA-Z_:][a-zA-Z0-9_:]*.
func ValidMetricName(s string) bool { return validName(s, true) }

// ValidLabelName reports whether s matches [a-zA-Z_][a-zA-Z0-9_]* and does
// not begin with "__", which Prometheus reserves for itself.
func ValidLabelName(s string) bool { return validName(s, false) && !strings.HasPrefix(s, "__") }

func validName(s string, colon bool) bool {
	if s == "" {
		return false
	}
	for i, r := range s {
		ok := r == '_' || r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' ||
			i > 0 && r >= '0' && r <= '9' || colon && r == ':'
		if !ok {
			return false
		}
	}
	return true
}

package promtext

import (
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
)

// Parse reads the text format and returns its families in the order they
// appear, each with its samples. It is strict, to check an exposition
// rather than to ingest anything: beyond the format's own rules (valid
// names, escapes \\ \" \n only, one HELP and one TYPE per family and before
// its samples, a family's lines in one group, no repeated series, every
// line ended by a line feed) it refuses negative counters, carriage
// returns, and histograms and summaries, which this package does not
// write. Timestamps are accepted and dropped.
func Parse(r io.Reader) ([]Family, error) {
	data, err := io.ReadAll(r)
	if err != nil {
		return nil, err
	}
	text := string(data)
	if text != "" && !strings.HasSuffix(text, "\n") {
		return nil, errors.New("promtext: the last line does not end with a line feed")
	}
	p := parser{index: map[string]int{}, series: map[string]bool{},
		sampled: map[string]bool{}, typed: map[string]bool{}, help: map[string]bool{}}
	for i, line := range strings.Split(strings.TrimSuffix(text, "\n"), "\n") {
		if err := p.line(line); err != nil {
			return nil, fmt.Errorf("promtext: line %d: %w", i+1, err)
		}
	}
	return p.fams, nil
}

type parser struct {
	fams    []Family
	index   map[string]int  // family name → index in fams
	current string          // the family whose group is open
	sampled map[string]bool // families that have samples already
	series  map[string]bool // name{canonical labels} seen
	typed   map[string]bool // families that had a TYPE line
	help    map[string]bool // families that had a HELP line
}

func (p *parser) line(line string) error {
	if strings.ContainsRune(line, '\r') {
		return errors.New("carriage return")
	}
	line = strings.Trim(line, " \t")
	switch {
	case line == "":
		return nil
	case line[0] == '#':
		return p.comment(line)
	}
	return p.sample(line)
}

// family returns the family name, opening its group; a family whose group
// was closed by another one may not reopen.
func (p *parser) family(name string) (*Family, error) {
	i, ok := p.index[name]
	switch {
	case !ok:
		p.index[name] = len(p.fams)
		p.fams = append(p.fams, Family{Name: name, Type: Untyped})
		i = len(p.fams) - 1
	case p.current != name:
		return nil, fmt.Errorf("metric %s continues after other metrics: a family's lines must be one group", name)
	}
	p.current = name
	return &p.fams[i], nil
}

// comment parses "# HELP name text" and "# TYPE name type"; other comments
// are ignored.
func (p *parser) comment(line string) error {
	fields := strings.Fields(line[1:])
	if len(line) < 2 || (line[1] != ' ' && line[1] != '\t') || len(fields) < 2 || (fields[0] != "HELP" && fields[0] != "TYPE") {
		return nil
	}
	name := fields[1]
	if !ValidMetricName(name) {
		return fmt.Errorf("invalid metric name %q", name)
	}
	if p.sampled[name] {
		return fmt.Errorf("%s line for %s after its samples", fields[0], name)
	}
	f, err := p.family(name)
	if err != nil {
		return err
	}
	if fields[0] == "TYPE" {
		if len(fields) != 3 {
			return fmt.Errorf("TYPE line for %s: want one type", name)
		}
		if p.typed[name] {
			return fmt.Errorf("second TYPE line for %s", name)
		}
		p.typed[name] = true
		switch t := Type(fields[2]); t {
		case Counter, Gauge:
			f.Type = t
		case Untyped:
		default:
			return fmt.Errorf("metric %s: type %q not supported", name, fields[2])
		}
		return nil
	}
	if p.help[name] {
		return fmt.Errorf("second HELP line for %s", name)
	}
	p.help[name] = true
	// The text is what follows "HELP", the name and blanks.
	rest := strings.TrimLeft(line[1:], " \t")[len("HELP"):]
	rest = strings.TrimLeft(rest, " \t")[len(name):]
	help, err := unescape(strings.TrimLeft(rest, " \t"), false)
	if err != nil {
		return fmt.Errorf("HELP for %s: %w", name, err)
	}
	f.Help = help
	return nil
}

// sample parses name{labels} value [timestamp].
func (p *parser) sample(line string) error {
	end := strings.IndexAny(line, "{ \t")
	if end < 0 {
		return fmt.Errorf("sample %q has no value", line)
	}
	name, rest := line[:end], line[end:]
	if !ValidMetricName(name) {
		return fmt.Errorf("invalid metric name %q", name)
	}
	var labels []Label
	if rest[0] == '{' {
		var err error
		if labels, rest, err = parseLabels(rest[1:]); err != nil {
			return fmt.Errorf("metric %s: %w", name, err)
		}
	}
	fields := strings.Fields(rest)
	if len(fields) < 1 || len(fields) > 2 || rest == "" || (rest[0] != ' ' && rest[0] != '\t') {
		return fmt.Errorf("metric %s: want a value and at most a timestamp after the name and labels", name)
	}
	v, err := strconv.ParseFloat(fields[0], 64)
	if err != nil {
		return fmt.Errorf("metric %s: bad value %q", name, fields[0])
	}
	if len(fields) == 2 {
		if _, err := strconv.ParseInt(fields[1], 10, 64); err != nil {
			return fmt.Errorf("metric %s: bad timestamp %q", name, fields[1])
		}
	}
	f, err := p.family(name)
	if err != nil {
		return err
	}
	key, err := labelKey(labels)
	if err != nil {
		return fmt.Errorf("metric %s: %w", name, err)
	}
	if p.series[name+"{"+key+"}"] {
		return fmt.Errorf("series %s{%s} repeated", name, key)
	}
	p.series[name+"{"+key+"}"] = true
	if f.Type == Counter && !(v >= 0) {
		return fmt.Errorf("counter %s{%s} is %v", name, key, v)
	}
	p.sampled[name] = true
	f.Samples = append(f.Samples, Sample{Labels: labels, Value: v})
	return nil
}

// parseLabels parses `a="x",b="y"}` (a trailing comma is allowed) and
// returns the labels and what follows the closing brace.
func parseLabels(s string) ([]Label, string, error) {
	var ls []Label
	for {
		s = strings.TrimLeft(s, " \t")
		if strings.HasPrefix(s, "}") {
			return ls, s[1:], nil
		}
		eq := strings.IndexByte(s, '=')
		if eq < 0 {
			return nil, "", errors.New("label without '='")
		}
		name := strings.TrimRight(s[:eq], " \t")
		if !ValidLabelName(name) {
			return nil, "", fmt.Errorf("invalid label name %q", name)
		}
		s = strings.TrimLeft(s[eq+1:], " \t")
		if !strings.HasPrefix(s, `"`) {
			return nil, "", fmt.Errorf("label %s: value not quoted", name)
		}
		raw, rest, ok := cutQuoted(s[1:])
		if !ok {
			return nil, "", fmt.Errorf("label %s: unterminated value", name)
		}
		v, err := unescape(raw, true)
		if err != nil {
			return nil, "", fmt.Errorf("label %s: %w", name, err)
		}
		ls = append(ls, Label{name, v})
		s = strings.TrimLeft(rest, " \t")
		switch {
		case strings.HasPrefix(s, ","):
			s = s[1:]
		case strings.HasPrefix(s, "}"):
		default:
			return nil, "", fmt.Errorf("label %s: want ',' or '}' after the value", name)
		}
	}
}

// cutQuoted splits s at the first double quote not escaped by a backslash.
func cutQuoted(s string) (value, rest string, ok bool) {
	for i := 0; i < len(s); i++ {
		switch s[i] {
		case '\\':
			i++
		case '"':
			return s[:i], s[i+1:], true
		}
	}
	return "", "", false
}

// unescape undoes escape: \\ and \n, and with quote \" too; any other
// backslash sequence is an error.
func unescape(s string, quote bool) (string, error) {
	if !strings.Contains(s, `\`) {
		return s, nil
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] != '\\' {
			b.WriteByte(s[i])
			continue
		}
		if i++; i == len(s) {
			return "", errors.New("trailing backslash")
		}
		switch {
		case s[i] == '\\':
			b.WriteByte('\\')
		case s[i] == 'n':
			b.WriteByte('\n')
		case s[i] == '"' && quote:
			b.WriteByte('"')
		default:
			return "", fmt.Errorf(`invalid escape \%c`, s[i])
		}
	}
	return b.String(), nil
}

package cli

import (
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"
)

// The number formats of every report the commands print, so that serve's
// start, status and summary lines and bench's progress line and report
// read alike: counts with thousands separators (Count), per-second rates
// of those counts (Rate), byte totals and byte rates in MiB with two
// decimals (MiB, MiBPerSec), and durations with three significant digits
// and Go's unit names (Duration). The JSON report keeps plain numbers.

// Count formats n with thousands separators: 1234567 is "1,234,567".
func Count[N ~int | ~int32 | ~int64 | ~uint | ~uint32 | ~uint64](n N) string {
	if n < 0 {
		return "-" + Count(uint64(-int64(n)))
	}
	s := strconv.FormatUint(uint64(n), 10)
	for i := len(s) - 3; i > 0; i -= 3 {
		s = s[:i] + "," + s[i:]
	}
	return s
}

// Rate formats a count per second, without its unit: whole numbers with
// thousands separators from 100 on ("92,416"), and below that up to three
// significant digits, trailing zeros dropped ("12.5", "2", "0.01"), so a
// fractional --rate still shows.
func Rate(perSec float64) string {
	switch {
	case math.IsNaN(perSec) || math.IsInf(perSec, 0):
		return strconv.FormatFloat(perSec, 'f', -1, 64)
	case perSec < 0:
		return "-" + Rate(-perSec)
	case math.Round(perSec) >= 100:
		return Count(uint64(math.Round(perSec)))
	}
	decimals := 2
	if perSec >= 9.995 {
		decimals = 1
	}
	s := strconv.FormatFloat(perSec, 'f', decimals, 64)
	s = strings.TrimRight(s, "0")
	return strings.TrimSuffix(s, ".")
}

// MiB formats a byte count in mebibytes: 1572864 is "1.50 MiB".
func MiB(b uint64) string { return fmt.Sprintf("%.2f MiB", float64(b)/(1<<20)) }

// MiBPerSec formats a byte rate like MiB: 1572864 bytes per second is
// "1.50 MiB/s".
func MiBPerSec(bytesPerSec float64) string {
	return fmt.Sprintf("%.2f MiB/s", bytesPerSec/(1<<20))
}

// Duration formats d with three significant digits in the largest unit
// that keeps the number at 1 or more, spelled as Go and the flags spell
// units: "812ns", "8.12µs", "586µs", "1.15ms", "27.4ms", "5.00s", "134s".
func Duration(d time.Duration) string {
	if d < 0 {
		return "-" + Duration(-d)
	}
	if d < time.Microsecond {
		return strconv.FormatInt(int64(d), 10) + "ns"
	}
	units := []struct {
		size time.Duration
		name string
	}{{time.Microsecond, "µs"}, {time.Millisecond, "ms"}, {time.Second, "s"}}
	for i, u := range units {
		v := float64(d) / float64(u.size)
		if v >= 999.5 && i < len(units)-1 {
			continue // 999.7µs is "1.00ms", not "1000µs"
		}
		return sig3(v) + u.name
	}
	panic("unreachable")
}

// sig3 formats v, at least 1, with three significant digits (more for
// v of 1000 and above, which only seconds reach).
func sig3(v float64) string {
	switch {
	case v < 9.995:
		return strconv.FormatFloat(v, 'f', 2, 64)
	case v < 99.95:
		return strconv.FormatFloat(v, 'f', 1, 64)
	}
	return strconv.FormatFloat(v, 'f', 0, 64)
}

package cli

import (
	"fmt"
	"strconv"
)

// The number formats of every report the commands print, so that serve's
// status lines and bench's report read alike: counts with thousands
// separators, byte totals and rates in MiB with two decimals.

// Count formats n with thousands separators: 1234567 is "1,234,567".
func Count(n uint64) string {
	s := strconv.FormatUint(n, 10)
	for i := len(s) - 3; i > 0; i -= 3 {
		s = s[:i] + "," + s[i:]
	}
	return s
}

// MiB formats a byte count in mebibytes: 1572864 is "1.50 MiB".
func MiB(b uint64) string { return fmt.Sprintf("%.2f MiB", float64(b)/(1<<20)) }

package cli

import (
	"math"
	"testing"
	"time"
)

func TestCount(t *testing.T) {
	for _, tc := range []struct {
		n    int64
		want string
	}{
		{0, "0"}, {7, "7"}, {999, "999"}, {1000, "1,000"}, {12345, "12,345"}, {999999, "999,999"},
		{1000000, "1,000,000"}, {1234567, "1,234,567"}, {-1234, "-1,234"},
		{math.MinInt64, "-9,223,372,036,854,775,808"},
	} {
		if got := Count(tc.n); got != tc.want {
			t.Errorf("Count(%d) = %q, want %q", tc.n, got, tc.want)
		}
	}
	if got := Count(uint64(math.MaxUint64)); got != "18,446,744,073,709,551,615" {
		t.Errorf("Count(MaxUint64) = %q", got)
	}
	if got := Count(int32(1048576)); got != "1,048,576" {
		t.Errorf("Count(int32) = %q", got)
	}
}

func TestRate(t *testing.T) {
	for _, tc := range []struct {
		v    float64
		want string
	}{
		{0, "0"}, {0.01, "0.01"}, {0.5, "0.5"}, {2, "2"}, {7.25, "7.25"}, {9.999, "10"},
		{12.5, "12.5"}, {50, "50"}, {99.4, "99.4"}, {99.5, "100"}, {131240.4, "131,240"},
		{92415.5, "92,416"}, {-3, "-3"},
	} {
		if got := Rate(tc.v); got != tc.want {
			t.Errorf("Rate(%v) = %q, want %q", tc.v, got, tc.want)
		}
	}
}

func TestMiB(t *testing.T) {
	if got := MiB(1572864); got != "1.50 MiB" {
		t.Errorf("MiB(1572864) = %q", got)
	}
	if got := MiB(0); got != "0.00 MiB" {
		t.Errorf("MiB(0) = %q", got)
	}
	if got := MiBPerSec(1572864); got != "1.50 MiB/s" {
		t.Errorf("MiBPerSec(1572864) = %q", got)
	}
	if got := MiBPerSec(5.18 * (1 << 20)); got != "5.18 MiB/s" {
		t.Errorf("MiBPerSec(5.18 MiB) = %q", got)
	}
}

func TestDuration(t *testing.T) {
	for _, tc := range []struct {
		d    time.Duration
		want string
	}{
		{0, "0ns"}, {812, "812ns"}, {8123, "8.12µs"}, {12345, "12.3µs"}, {586 * time.Microsecond, "586µs"},
		{999700, "1.00ms"}, // rounds into the next unit, not "1000µs"
		{1150 * time.Microsecond, "1.15ms"}, {27440 * time.Microsecond, "27.4ms"}, {350 * time.Millisecond, "350ms"},
		{999600 * time.Microsecond, "1.00s"}, {time.Second, "1.00s"}, {5 * time.Second, "5.00s"},
		{134200 * time.Millisecond, "134s"}, {2 * time.Hour, "7200s"}, {-1500 * time.Microsecond, "-1.50ms"},
	} {
		if got := Duration(tc.d); got != tc.want {
			t.Errorf("Duration(%v) = %q, want %q", tc.d, got, tc.want)
		}
	}
}

package hdr

import (
	"encoding/binary"
	"math"
	"math/rand/v2"
	"slices"
	"testing"
	"time"
)

func mustNew(t testing.TB, highest int64, digits int) *Histogram {
	t.Helper()
	h, err := New(highest, digits)
	if err != nil {
		t.Fatal(err)
	}
	return h
}

// exactQuantile is the reference: the smallest recorded value v with at
// least q of the values <= v, from the sorted values.
func exactQuantile(sorted []int64, q float64) int64 {
	rank := max(int(math.Ceil(q*float64(len(sorted)))), 1)
	return sorted[rank-1]
}

// within reports whether got is v's bucket value: v <= got and got - v
// within the precision promised for digits.
func within(got, v int64, digits int) bool {
	tol := max(float64(v)/math.Pow10(digits), 0)
	return got >= v && float64(got-v) <= tol
}

// TestIndexCoversValue checks the bucket arithmetic: every value lands in a
// counter whose range contains it, indices never decrease with the value,
// and a counter is never wider than the promised relative precision.
func TestIndexCoversValue(t *testing.T) {
	for _, digits := range []int{1, 2, 3, 4} {
		h := mustNew(t, int64(time.Hour), digits)
		check := func(v int64) {
			i := h.index(v)
			b, lo := h.decode(i)
			hi := h.highestAt(i)
			if v < lo || v > hi {
				t.Fatalf("digits %d: value %d in counter %d (bucket %d) covering [%d, %d]", digits, v, i, b, lo, hi)
			}
			if width := hi - lo + 1; width > 1 && float64(width-1) > float64(lo)/math.Pow10(digits) {
				t.Fatalf("digits %d: counter %d covers [%d, %d], too wide for %d digits", digits, i, lo, hi, digits)
			}
		}
		prev := -1
		for v := int64(0); v < 100_000; v++ {
			check(v)
			if i := h.index(v); i < prev {
				t.Fatalf("digits %d: index(%d) = %d below index(%d) = %d", digits, v, i, v-1, prev)
			} else {
				prev = i
			}
		}
		r := rand.New(rand.NewPCG(1, uint64(digits)))
		for range 100_000 {
			check(r.Int64N(int64(time.Hour) + 1))
		}
		check(int64(time.Hour))
		if got := h.index(int64(time.Hour)); got >= len(h.counts) {
			t.Fatalf("digits %d: index of highest %d, only %d counters", digits, got, len(h.counts))
		}
	}
}

// TestQuantileMatchesSorted compares every reported quantile of skewed,
// latency-like samples with the exact order statistic.
func TestQuantileMatchesSorted(t *testing.T) {
	r := rand.New(rand.NewPCG(7, 7))
	h := mustNew(t, int64(time.Hour), 3)
	var vals []int64
	for range 200_000 {
		// Log-normal around 200 µs with a long tail, in nanoseconds.
		v := int64(math.Exp(r.NormFloat64()*1.5 + math.Log(200e3)))
		vals = append(vals, v)
		h.Record(v)
	}
	slices.Sort(vals)
	for _, q := range []float64{0, 0.001, 0.25, 0.5, 0.9, 0.99, 0.999, 0.9999, 1} {
		want := exactQuantile(vals, q)
		if got := h.Quantile(q); !within(got, want, 3) && got != vals[len(vals)-1] {
			t.Errorf("Quantile(%v) = %d, exact %d", q, got, want)
		}
	}
	if h.Min() != vals[0] || h.Max() != vals[len(vals)-1] {
		t.Errorf("Min, Max = %d, %d; want %d, %d", h.Min(), h.Max(), vals[0], vals[len(vals)-1])
	}
	if h.Quantile(1) != h.Max() {
		t.Errorf("Quantile(1) = %d, Max %d", h.Quantile(1), h.Max())
	}
	var sum float64
	for _, v := range vals {
		sum += float64(v)
	}
	if mean := sum / float64(len(vals)); math.Abs(h.Mean()-mean) > 1e-6*mean {
		t.Errorf("Mean = %v, exact %v", h.Mean(), mean)
	}
}

// TestUniformPercentiles is the classic check: 1..1,000,000 recorded once
// each, so the q-quantile is q×10^6 within 0.1 %.
func TestUniformPercentiles(t *testing.T) {
	h := mustNew(t, 10_000_000, 3)
	for v := int64(1); v <= 1_000_000; v++ {
		h.Record(v)
	}
	for _, q := range []float64{0.5, 0.9, 0.99, 0.999} {
		want := int64(q * 1_000_000)
		if got := h.Quantile(q); !within(got, want, 3) {
			t.Errorf("Quantile(%v) = %d, want %d within 0.1%%", q, got, want)
		}
	}
	if h.Count() != 1_000_000 || h.Min() != 1 || h.Max() != 1_000_000 || h.Mean() != 500_000.5 {
		t.Errorf("Count %d Min %d Max %d Mean %v", h.Count(), h.Min(), h.Max(), h.Mean())
	}
}

// TestSaturationAndNegative: out-of-range values are counted, clamped,
// and reported; Min and Max stay exact.
func TestSaturationAndNegative(t *testing.T) {
	h := mustNew(t, 1000, 2)
	h.Record(-5)
	h.Record(5000)
	h.RecordN(10, 3)
	h.RecordN(20, 0)
	if h.Count() != 5 || h.Saturated() != 1 || h.Min() != 0 || h.Max() != 5000 {
		t.Fatalf("Count %d Saturated %d Min %d Max %d", h.Count(), h.Saturated(), h.Min(), h.Max())
	}
	if got := h.Quantile(0.5); got != 10 {
		t.Errorf("median %d, want 10", got)
	}
	if got := h.Quantile(1); got != 5000 {
		t.Errorf("Quantile(1) = %d, want the exact max 5000", got)
	}
}

// TestEmpty: every query on an empty histogram is 0.
func TestEmpty(t *testing.T) {
	h := mustNew(t, 1000, 3)
	if h.Count() != 0 || h.Min() != 0 || h.Max() != 0 || h.Mean() != 0 || h.Quantile(0.99) != 0 {
		t.Fatal("empty histogram reports values")
	}
	h.Record(7)
	h.Reset()
	if h.Count() != 0 || h.Min() != 0 || h.Max() != 0 || h.Quantile(0.5) != 0 {
		t.Fatal("Reset left values behind")
	}
}

// TestMergeEqualsOneHistogram: values split over several histograms and
// merged give exactly what one histogram of all of them gives.
func TestMergeEqualsOneHistogram(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 4))
	all := mustNew(t, int64(time.Minute), 3)
	parts := []*Histogram{mustNew(t, int64(time.Minute), 3), mustNew(t, int64(time.Minute), 3), mustNew(t, int64(time.Minute), 3)}
	for i := range 50_000 {
		v := r.Int64N(int64(10 * time.Millisecond))
		all.Record(v)
		parts[i%2].Record(v) // parts[2] stays empty
	}
	sum := mustNew(t, int64(time.Minute), 3)
	for _, p := range parts {
		if err := sum.Merge(p); err != nil {
			t.Fatal(err)
		}
	}
	for _, q := range []float64{0, 0.5, 0.9, 0.99, 0.999, 1} {
		if sum.Quantile(q) != all.Quantile(q) {
			t.Errorf("Quantile(%v): merged %d, single %d", q, sum.Quantile(q), all.Quantile(q))
		}
	}
	if sum.Count() != all.Count() || sum.Min() != all.Min() || sum.Max() != all.Max() {
		t.Errorf("merged Count/Min/Max %d/%d/%d, single %d/%d/%d",
			sum.Count(), sum.Min(), sum.Max(), all.Count(), all.Min(), all.Max())
	}
	if err := sum.Merge(mustNew(t, 1000, 3)); err == nil {
		t.Error("Merge of a differently shaped histogram succeeded")
	}
}

func TestNewRejectsBadArguments(t *testing.T) {
	for _, tc := range []struct {
		highest int64
		digits  int
	}{{1, 3}, {1000, 0}, {1000, 6}} {
		if _, err := New(tc.highest, tc.digits); err == nil {
			t.Errorf("New(%d, %d) succeeded", tc.highest, tc.digits)
		}
	}
}

// FuzzQuantile records arbitrary values and checks every quantile against
// the sorted values.
func FuzzQuantile(f *testing.F) {
	f.Add([]byte{1, 0, 0, 0, 0, 0, 0, 0, 255, 255, 0, 0, 0, 0, 0, 0})
	f.Fuzz(func(t *testing.T, data []byte) {
		h := mustNew(t, 1<<40, 3)
		var vals []int64
		for len(data) >= 8 {
			v := int64(binary.LittleEndian.Uint64(data) % (1 << 40))
			data = data[8:]
			vals = append(vals, v)
			h.Record(v)
		}
		if len(vals) == 0 {
			return
		}
		slices.Sort(vals)
		for _, q := range []float64{0, 0.5, 0.9, 0.99, 1} {
			want := exactQuantile(vals, q)
			got := h.Quantile(q)
			if !within(got, want, 3) && got != vals[len(vals)-1] {
				t.Fatalf("Quantile(%v) = %d, exact %d of %v", q, got, want, vals)
			}
		}
	})
}

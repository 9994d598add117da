// Package hdr is a small High Dynamic Range histogram, after Gil Tene's
// HdrHistogram: it records integer values (latencies in nanoseconds, here)
// with a fixed relative precision over a wide range, in constant memory and
// constant time per value, and answers quantile queries.
//
// Values are grouped log-linearly. Bucket 0 counts the values below
// 2×half exactly; every further bucket b covers [half<<b, half<<(b+1)) with
// half sub-buckets of width 1<<b. With 3 significant digits half is 1024,
// so a value is stored with an error below 1/1024 of itself (< 0.1 %),
// whatever its magnitude: 1 µs is resolved to the nanosecond, 1 s to the
// millisecond.
//
// A Histogram is not safe for concurrent use. A load generator keeps one
// per event loop and merges them at the end (Merge).
package hdr

import (
	"fmt"
	"math"
	"math/bits"
)

// Histogram counts values in [0, Highest]. Larger values are counted as
// Highest (and Saturated counts them), so a runaway outlier never fails a
// measurement; Min and Max remain exact.
type Histogram struct {
	highest   int64
	halfShift uint // log2(half)
	half      int64
	counts    []uint64

	total     uint64
	saturated uint64
	min, max  int64
	sum       float64
}

// New returns a histogram for values from 0 to highest (at least 2) with
// digits significant decimal digits (1 to 5). For latencies in nanoseconds
// up to an hour with 3 digits it holds about 34,000 counters (270 KiB).
func New(highest int64, digits int) (*Histogram, error) {
	if highest < 2 || digits < 1 || digits > 5 {
		return nil, fmt.Errorf("hdr: New(%d, %d): want highest >= 2 and 1 <= digits <= 5", highest, digits)
	}
	// half, the smallest power of two >= 10^digits, keeps the relative
	// error of every bucket below 1/half <= 10^-digits.
	need := int64(math.Pow10(digits))
	shift := uint(bits.Len64(uint64(need - 1)))
	h := &Histogram{highest: highest, halfShift: shift, half: 1 << shift, min: math.MaxInt64}
	b := h.bucket(highest)
	h.counts = make([]uint64, (b+2)<<shift)
	return h, nil
}

// bucket returns the bucket of v >= 0: 0 below 2×half, then one per
// power of two.
func (h *Histogram) bucket(v int64) int {
	return bits.Len64(uint64(v)|uint64(2*h.half-1)) - int(h.halfShift) - 1
}

// index returns v's counter: bucket 0 holds 2×half exact values, every
// later bucket half counters, one per sub-bucket of width 1<<b.
func (h *Histogram) index(v int64) int {
	b := h.bucket(v)
	sub := int(v >> uint(b)) // in [half, 2×half) for b > 0
	return b<<h.halfShift + sub
}

// decode returns the bucket of index i and the smallest value it counts:
// index b×half + sub, with sub in [half, 2×half), is bucket b's; indices
// below 2×half are bucket 0's, where sub is the value itself.
func (h *Histogram) decode(i int) (b int, lowest int64) {
	b = max(i>>h.halfShift-1, 0)
	sub := i - b<<h.halfShift
	return b, int64(sub) << uint(b)
}

// highestAt returns the largest value counted at index i.
func (h *Histogram) highestAt(i int) int64 {
	b, lo := h.decode(i)
	return lo + 1<<uint(b) - 1
}

// Record counts one value. Negative values count as 0, values above the
// histogram's highest as highest.
func (h *Histogram) Record(v int64) { h.RecordN(v, 1) }

// RecordN counts value v n times.
func (h *Histogram) RecordN(v int64, n uint64) {
	if n == 0 {
		return
	}
	if v < 0 {
		v = 0
	}
	h.min = min(h.min, v)
	h.max = max(h.max, v)
	h.total += n
	h.sum += float64(v) * float64(n)
	if v > h.highest {
		h.saturated += n
		v = h.highest
	}
	h.counts[h.index(v)] += n
}

// Count returns the number of values recorded.
func (h *Histogram) Count() uint64 { return h.total }

// Saturated returns how many values were above highest and counted as it.
func (h *Histogram) Saturated() uint64 { return h.saturated }

// Min returns the smallest value recorded, exactly, or 0 when empty.
func (h *Histogram) Min() int64 {
	if h.total == 0 {
		return 0
	}
	return h.min
}

// Max returns the largest value recorded, exactly, or 0 when empty.
func (h *Histogram) Max() int64 { return h.max }

// Mean returns the exact mean of the recorded values, or 0 when empty.
func (h *Histogram) Mean() float64 {
	if h.total == 0 {
		return 0
	}
	return h.sum / float64(h.total)
}

// Quantile returns the value at quantile q in [0, 1]: the highest value
// equivalent to the smallest recorded value v such that at least q of all
// values are <= v (HdrHistogram's getValueAtPercentile), clamped to
// [Min, Max]. Quantile(0.5) is the median, Quantile(1) the maximum. A
// quantile among the saturated values is Max. It returns 0 when the
// histogram is empty.
func (h *Histogram) Quantile(q float64) int64 {
	if h.total == 0 {
		return 0
	}
	q = min(max(q, 0), 1)
	// The rank of the value: at least 1, so q = 0 gives the minimum.
	rank := uint64(math.Ceil(q * float64(h.total)))
	rank = max(rank, 1)
	if rank > h.total-h.saturated {
		return h.max // among the values above highest: only Max is known
	}
	var seen uint64
	for i, c := range h.counts {
		seen += c
		if seen >= rank {
			return min(max(h.highestAt(i), h.min), h.max)
		}
	}
	return h.max
}

// Merge adds every value counted in o to h. o must have been made with the
// same arguments to New.
func (h *Histogram) Merge(o *Histogram) error {
	if o.halfShift != h.halfShift || o.highest != h.highest {
		return fmt.Errorf("hdr: Merge of histograms with different shapes (%d/%d vs %d/%d)",
			o.highest, o.half, h.highest, h.half)
	}
	if o.total == 0 {
		return nil
	}
	for i, c := range o.counts {
		h.counts[i] += c
	}
	h.total += o.total
	h.saturated += o.saturated
	h.sum += o.sum
	h.min = min(h.min, o.min)
	h.max = max(h.max, o.max)
	return nil
}

// Reset forgets every value, keeping the memory.
func (h *Histogram) Reset() {
	clear(h.counts)
	h.total, h.saturated, h.sum = 0, 0, 0
	h.min, h.max = math.MaxInt64, 0
}

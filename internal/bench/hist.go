package bench

import (
	"math"
	"math/bits"
	"sync/atomic"
	"time"
)

// Histogram records durations with about 3% precision from 1 µs to hours,
// HDR-style: 64 exact buckets below 64 µs, then 32 buckets per power of
// two. Record is safe for concurrent use and does not allocate; a
// Histogram is merged with others by adding counts.
type Histogram struct {
	counts [histBuckets]atomic.Uint64
}

const histBuckets = 64 + 58*32

// HistogramData is a Histogram's serialised form: bucket index to count,
// only the buckets that are not empty.
type HistogramData map[int]uint64

func histIndex(us uint64) int {
	if us < 64 {
		return int(us)
	}
	e := bits.Len64(us) - 6 // us>>e is in [32, 63]
	return 64 + (e-1)*32 + int(us>>e) - 32
}

// histUpper is the highest value (µs) that falls in bucket i.
func histUpper(i int) uint64 {
	if i < 64 {
		return uint64(i)
	}
	e := (i-64)/32 + 1
	m := uint64((i-64)%32 + 32)
	return (m+1)<<e - 1
}

// Record adds one duration; negative ones count as zero.
func (h *Histogram) Record(d time.Duration) {
	us := uint64(0)
	if d > 0 {
		us = uint64(d / time.Microsecond)
	}
	i := histIndex(us)
	if i >= histBuckets {
		i = histBuckets - 1
	}
	h.counts[i].Add(1)
}

// Data is a snapshot of h.
func (h *Histogram) Data() HistogramData {
	d := HistogramData{}
	for i := range h.counts {
		if n := h.counts[i].Load(); n > 0 {
			d[i] = n
		}
	}
	return d
}

// Merge adds d's counts into h. Bucket indexes out of range (from a
// corrupt report) are ignored.
func (h *Histogram) Merge(d HistogramData) {
	for i, n := range d {
		if i >= 0 && i < histBuckets {
			h.counts[i].Add(n)
		}
	}
}

// Count is the number of durations recorded.
func (h *Histogram) Count() uint64 {
	var n uint64
	for i := range h.counts {
		n += h.counts[i].Load()
	}
	return n
}

// Quantile is the smallest bucket bound at or below which at least
// fraction q of the recorded durations lie (q in [0, 1]); 0 if empty.
func (h *Histogram) Quantile(q float64) time.Duration {
	total := h.Count()
	if total == 0 {
		return 0
	}
	rank := uint64(math.Ceil(q * float64(total)))
	if rank == 0 {
		rank = 1
	}
	var seen uint64
	for i := range h.counts {
		seen += h.counts[i].Load()
		if seen >= rank {
			return time.Duration(histUpper(i)) * time.Microsecond
		}
	}
	return time.Duration(histUpper(histBuckets-1)) * time.Microsecond
}

// Max is the upper bound of the highest non-empty bucket; 0 if empty.
func (h *Histogram) Max() time.Duration {
	for i := histBuckets - 1; i >= 0; i-- {
		if h.counts[i].Load() > 0 {
			return time.Duration(histUpper(i)) * time.Microsecond
		}
	}
	return 0
}

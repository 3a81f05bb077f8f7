package bench

import (
	"math/rand/v2"
	"slices"
	"testing"
	"time"
)

func TestHistogramBuckets(t *testing.T) {
	// Every value lands in a bucket whose bounds hold it, within 1/32.
	prevUpper := uint64(0)
	for i := 1; i < histBuckets; i++ {
		lo := histUpper(i-1) + 1
		if lo != prevUpper+1 && i > 1 {
			t.Fatalf("bucket %d starts at %d, want %d", i, lo, prevUpper+1)
		}
		prevUpper = histUpper(i)
		if histIndex(lo) != i || histIndex(histUpper(i)) != i {
			t.Fatalf("bucket %d [%d, %d]: indexes %d, %d", i, lo, histUpper(i), histIndex(lo), histIndex(histUpper(i)))
		}
		if i >= 64 && float64(histUpper(i)-lo) > float64(lo)/31 {
			t.Fatalf("bucket %d [%d, %d] is wider than 1/31 of its start", i, lo, histUpper(i))
		}
	}
}

func TestHistogramQuantilesAgainstSort(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	var h Histogram
	var vals []time.Duration
	for range 10000 {
		d := time.Duration(r.ExpFloat64() * float64(5*time.Millisecond))
		vals = append(vals, d)
		h.Record(d)
	}
	slices.Sort(vals)
	for _, q := range []float64{0.5, 0.9, 0.99, 0.999, 1} {
		exact := vals[int(q*float64(len(vals)-1))]
		got := h.Quantile(q)
		if got < exact-time.Microsecond || float64(got) > float64(exact)*1.04+float64(time.Microsecond) {
			t.Errorf("q%.3f = %v, exact %v", q, got, exact)
		}
	}
	// Merge of two halves equals the whole.
	var a, b Histogram
	for i, v := range vals {
		if i%2 == 0 {
			a.Record(v)
		} else {
			b.Record(v)
		}
	}
	a.Merge(b.Data())
	if a.Count() != h.Count() || a.Quantile(0.99) != h.Quantile(0.99) || a.Max() != h.Max() {
		t.Fatalf("merged histogram differs: count %d/%d p99 %v/%v", a.Count(), h.Count(), a.Quantile(0.99), h.Quantile(0.99))
	}
	a.Merge(HistogramData{-1: 5, histBuckets: 5})
	if a.Count() != h.Count() {
		t.Fatal("out-of-range buckets were merged")
	}
}

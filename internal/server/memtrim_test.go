package server

import (
	"runtime/metrics"
	"testing"
)

func TestTrimDue(t *testing.T) {
	const mb = 1 << 20
	base := memSample{allocs: 1000 * mb, live: 40 * mb, objects: 41 * mb, free: 1 * mb}
	for _, c := range []struct {
		name string
		cur  memSample
		want bool
	}{
		{"quiet, little garbage", memSample{allocs: 1002 * mb, live: 40 * mb, objects: 42 * mb, free: 1 * mb}, false},
		{"quiet, garbage after a burst", memSample{allocs: 1010 * mb, live: 40 * mb, objects: 60 * mb, free: 1 * mb}, true},
		{"quiet, a GC freed pages the scavenger kept", memSample{allocs: 1010 * mb, live: 40 * mb, objects: 41 * mb, free: 20 * mb}, true},
		{"busy", memSample{allocs: 1200 * mb, live: 40 * mb, objects: 80 * mb, free: 30 * mb}, false},
		{"storing a few hundred messages a second", memSample{allocs: 1054 * mb, live: 40 * mb, objects: 60 * mb, free: 20 * mb}, false},
	} {
		if got := trimDue(base, c.cur); got != c.want {
			t.Errorf("%s: trimDue = %v, want %v", c.name, got, c.want)
		}
	}
}

// TestTrimMetricsExist guards the metric names: a name the runtime does
// not know reads as KindBad, and the trimmer would never trim.
func TestTrimMetricsExist(t *testing.T) {
	known := map[string]bool{}
	for _, d := range metrics.All() {
		known[d.Name] = true
	}
	for _, s := range trimMetrics() {
		if !known[s.Name] {
			t.Errorf("runtime metric %s does not exist", s.Name)
		}
	}
}

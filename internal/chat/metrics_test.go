package chat

import (
	"errors"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/parley-im/parley"
)

func TestMetricsCountAnswersByOutcome(t *testing.T) {
	reg := prometheus.NewRegistry()
	m, err := NewMetrics(reg)
	if err != nil {
		t.Fatal(err)
	}
	if got, err := testutil.GatherAndCount(reg, "parley_send_errors_total"); err != nil || got != numSendErrorCodes+1 {
		t.Errorf("got %d send error series before any error (%v), want one per code and other", got, err)
	}
	for _, r := range []SendResult{
		{}, {}, {Dup: true},
		{Err: parley.Errorf(parley.EForbidden, "no")},
		{Err: parley.Errorf(parley.EConflict, "reused"), Dup: true}, // an error, not a duplicate
		{Err: errors.New("disk on fire")},                           // internal
		{Err: &parley.Error{Code: "brand_new"}},                     // other
	} {
		m.answered(r)
	}
	m.committed(3, 2*time.Millisecond)
	m.broadcasted(7)
	for _, c := range []struct {
		name string
		c    prometheus.Collector
		want float64
	}{
		{"stored", m.stored, 2},
		{"duplicates", m.duplicates, 1},
		{"forbidden", m.sendErrors[4], 1}, // indexes follow sendErrorCodes
		{"conflict", m.sendErrors[6], 1},
		{"internal", m.sendErrors[9], 1},
		{"invalid", m.sendErrors[0], 0},
		{"other", m.sendErrors[numSendErrorCodes], 1},
		{"broadcast", m.broadcast, 7},
	} {
		if got := testutil.ToFloat64(c.c); got != c.want {
			t.Errorf("%s: got %v, want %v", c.name, got, c.want)
		}
	}
	if got, err := testutil.GatherAndCount(reg, "parley_commit_batch_size", "parley_commit_seconds"); err != nil || got != 2 {
		t.Errorf("got %d commit histograms (%v), want 2", got, err)
	}
	if n := testing.AllocsPerRun(100, func() { m.answered(SendResult{}) }); n != 0 {
		t.Errorf("counting a stored message: %v allocations, want 0", n)
	}
	var none *Metrics
	none.answered(SendResult{Err: errors.New("x")})
	none.committed(1, time.Millisecond)
	none.broadcasted(1)
}

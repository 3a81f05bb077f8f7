package dispatch

import "github.com/prometheus/client_golang/prometheus/testutil"

// Counts returns the metrics' values: recipients handed locally and
// remotely, and batches.
func (m *Metrics) Counts() (local, remote, batches float64) {
	return testutil.ToFloat64(m.local), testutil.ToFloat64(m.remote), testutil.ToFloat64(m.batches)
}

package natsbus

import "github.com/prometheus/client_golang/prometheus"

// DroppedCounter returns the counter of batches m dropped for reason
// ("bad" or "full").
func DroppedCounter(m *Metrics, reason string) prometheus.Counter {
	if reason == reasonBad {
		return m.bad
	}
	return m.full
}

package notify

import "github.com/prometheus/client_golang/prometheus"

// Metrics counts what the Service does with offline recipients.
type Metrics struct {
	pushes *prometheus.CounterVec
}

// NewMetrics registers the notify metrics on reg.
func NewMetrics(reg prometheus.Registerer) (*Metrics, error) {
	m := &Metrics{pushes: prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "parley_offline_pushes_total",
		Help: "Offline recipients of messages by outcome: notified, repeated (already notified), muted, large_group, dropped (queue full), failed (store or notifier error).",
	}, []string{"outcome"})}
	if err := reg.Register(m.pushes); err != nil {
		return nil, err
	}
	return m, nil
}

func (m *Metrics) add(outcome string, n int) {
	if m != nil && n > 0 {
		m.pushes.WithLabelValues(outcome).Add(float64(n))
	}
}

func (m *Metrics) notified(n int)     { m.add("notified", n) }
func (m *Metrics) repeated(n int)     { m.add("repeated", n) }
func (m *Metrics) skippedMuted(n int) { m.add("muted", n) }
func (m *Metrics) skippedGroup(n int) { m.add("large_group", n) }
func (m *Metrics) dropped(n int)      { m.add("dropped", n) }
func (m *Metrics) failed(n int)       { m.add("failed", n) }

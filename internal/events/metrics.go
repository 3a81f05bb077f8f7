package events

import (
	"errors"

	"github.com/prometheus/client_golang/prometheus"
)

// Metrics counts what the relay and the webhook deliverers do. A nil
// *Metrics counts nothing.
type Metrics struct {
	events      *prometheus.CounterVec
	relayErrors prometheus.Counter
	presenceOut prometheus.Counter
	webhooks    *prometheus.CounterVec
}

// NewMetrics registers the event stream's metrics on reg.
func NewMetrics(reg prometheus.Registerer) (*Metrics, error) {
	m := &Metrics{
		events: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "parley_events_published_total",
			Help: "Events appended to the event log by this node's relay, by type (message, read, presence); an event appended again after a crash counts again.",
		}, []string{"type"}),
		relayErrors: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "parley_events_relay_errors_total",
			Help: "Relay steps that failed (store or log error) and were retried.",
		}),
		presenceOut: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "parley_events_presence_dropped_total",
			Help: "Presence events lost: queue full or append failed (presence events are at most once).",
		}),
		webhooks: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "parley_webhook_batches_total",
			Help: "Webhook batch POSTs by outcome: delivered (2xx), failed (retried), dead (dead-lettered after the last attempt).",
		}, []string{"outcome"}),
	}
	var errs []error
	for _, c := range []prometheus.Collector{m.events, m.relayErrors, m.presenceOut, m.webhooks} {
		errs = append(errs, reg.Register(c))
	}
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	return m, nil
}

func (m *Metrics) published(typ string) {
	if m != nil {
		m.events.WithLabelValues(typ).Inc()
	}
}

func (m *Metrics) relayError() {
	if m != nil {
		m.relayErrors.Inc()
	}
}

func (m *Metrics) presenceDropped(n int) {
	if m != nil {
		m.presenceOut.Add(float64(n))
	}
}

func (m *Metrics) webhook(outcome string) {
	if m != nil {
		m.webhooks.WithLabelValues(outcome).Inc()
	}
}

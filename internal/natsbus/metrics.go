package natsbus

import "github.com/prometheus/client_golang/prometheus"

// Reasons a listener drops a batch.
const (
	reasonBad  = "bad"  // it did not decode
	reasonFull = "full" // the node's queue was full
)

// Metrics counts what a Bus receives and drops. Create it with NewMetrics
// and pass it in Options; a nil *Metrics counts nothing. It is safe for
// concurrent use, and counting takes no map lookup and no allocation.
type Metrics struct {
	in        prometheus.Counter
	bad, full prometheus.Counter
	acks      prometheus.Counter
}

// NewMetrics creates the bus metrics and registers them with reg. It fails
// if reg already holds metrics of the same names (one registry per node).
func NewMetrics(reg prometheus.Registerer) (*Metrics, error) {
	dropped := prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "parley_bus_dropped_batches_total",
		Help: "Batches a listening node dropped: bad (did not decode) or full (its queue was full).",
	}, []string{"reason"})
	m := &Metrics{
		in: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "parley_bus_received_batches_total",
			Help: "Batches a listening node received from the bus and queued for its gateway.",
		}),
		bad:  dropped.WithLabelValues(reasonBad),
		full: dropped.WithLabelValues(reasonFull),
		acks: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "parley_bus_acked_sends_total",
			Help: "Sends that waited for the listener's answer because the sender did not know the node was listening.",
		}),
	}
	for _, c := range []prometheus.Collector{m.in, dropped, m.acks} {
		if err := reg.Register(c); err != nil {
			return nil, err
		}
	}
	return m, nil
}

func (m *Metrics) received() {
	if m != nil {
		m.in.Inc()
	}
}

func (m *Metrics) dropped(reason string) {
	if m == nil {
		return
	}
	if reason == reasonBad {
		m.bad.Inc()
	} else {
		m.full.Inc()
	}
}

func (m *Metrics) acked() {
	if m != nil {
		m.acks.Inc()
	}
}

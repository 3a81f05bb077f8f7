package dispatch

import (
	"github.com/prometheus/client_golang/prometheus"

	"github.com/parley-im/parley"
)

// Metrics counts what a Dispatcher hands to nodes. Create it with
// NewMetrics and pass it to New; a nil *Metrics counts nothing. Label
// values are resolved when it is created, so counting takes no map lookup
// and no allocation. It is safe for concurrent use.
type Metrics struct {
	local, remote prometheus.Counter // recipients, by route
	batches       prometheus.Counter
}

// NewMetrics creates the dispatcher's metrics and registers them with
// reg. It fails if reg already holds metrics of the same names (one
// registry per node).
func NewMetrics(reg prometheus.Registerer) (*Metrics, error) {
	pushes := prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "parley_pushes_total",
		Help: "Recipients of deliveries handed to a node: local (this node's gateway) or remote (over the bus).",
	}, []string{"route"})
	m := &Metrics{
		local:  pushes.WithLabelValues("local"),
		remote: pushes.WithLabelValues("remote"),
		batches: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "parley_push_batches_total",
			Help: "Batches of deliveries handed to a node: one local call or one bus message each.",
		}),
	}
	for _, c := range []prometheus.Collector{pushes, m.batches} {
		if err := reg.Register(c); err != nil {
			return nil, err
		}
	}
	return m, nil
}

// handed records one batch handed to a node.
func (m *Metrics) handed(local bool, batch []parley.Delivery) {
	if m == nil {
		return
	}
	n := 0
	for i := range batch {
		n += len(batch[i].Users)
	}
	if local {
		m.local.Add(float64(n))
	} else {
		m.remote.Add(float64(n))
	}
	m.batches.Inc()
}

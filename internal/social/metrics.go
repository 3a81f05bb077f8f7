package social

import (
	"github.com/prometheus/client_golang/prometheus"
)

// Metrics counts presence changes and the pushes social hands to the
// dispatcher. Create it with NewMetrics and pass it in Config; a nil
// *Metrics counts nothing. Label values are resolved when it is created.
// It is safe for concurrent use.
type Metrics struct {
	online, offline prometheus.Counter // presence changes told
	dropped         prometheus.Counter // presence changes dropped: queue full
	// recipients handed to the dispatcher, by push kind
	presence, profile, contacts prometheus.Counter
}

// NewMetrics creates social's metrics and registers them with reg. It
// fails if reg already holds metrics of the same names (one registry per
// node).
func NewMetrics(reg prometheus.Registerer) (*Metrics, error) {
	changes := prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "parley_presence_changes_total",
		Help: "Presence changes this node told the users who care: online (a first session or a new platform, or fewer platforms after the debounce) or offline.",
	}, []string{"state"})
	recipients := prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "parley_social_recipients_total",
		Help: "Users who care, handed to the dispatcher with a presence, profile or contacts push (online or not: the dispatcher delivers to online ones only).",
	}, []string{"kind"})
	m := &Metrics{
		online: changes.WithLabelValues("online"), offline: changes.WithLabelValues("offline"),
		dropped: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "parley_presence_dropped_total",
			Help: "Presence changes dropped because the node's queue of changes to tell was full.",
		}),
		presence: recipients.WithLabelValues("presence"), profile: recipients.WithLabelValues("profile"),
		contacts: recipients.WithLabelValues("contacts"),
	}
	for _, c := range []prometheus.Collector{changes, recipients, m.dropped} {
		if err := reg.Register(c); err != nil {
			return nil, err
		}
	}
	return m, nil
}

// told records a presence change told to n users who care.
func (m *Metrics) told(online bool, n int) {
	if m == nil {
		return
	}
	if online {
		m.online.Inc()
	} else {
		m.offline.Inc()
	}
	m.presence.Add(float64(n))
}

// droppedChanges records presence changes dropped.
func (m *Metrics) droppedChanges(n int) {
	if m != nil {
		m.dropped.Add(float64(n))
	}
}

// pushed records a profile or contacts push handed for n users.
func (m *Metrics) pushed(profile bool, n int) {
	if m == nil {
		return
	}
	if profile {
		m.profile.Add(float64(n))
	} else {
		m.contacts.Add(float64(n))
	}
}

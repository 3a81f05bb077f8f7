package consult

import (
	"strconv"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/parley-im/parley"
)

// Metrics counts what the service does, live, for Prometheus. The
// period reports (Service.Metrics) are computed from stored events
// instead and survive restarts; these counters restart at zero like any
// process's. Create it with NewMetrics and pass it in Config.Metrics; a
// nil *Metrics counts nothing. It is safe for concurrent use.
type Metrics struct {
	transitions *prometheus.CounterVec
	firstReply  prometheus.Histogram
	ratings     *prometheus.CounterVec
	loadG       *prometheus.GaugeVec
	waitingG    *prometheus.GaugeVec
	unrecorded  prometheus.Counter
}

// NewMetrics creates the service's metrics and registers them with reg.
// It fails if reg already holds metrics of the same names.
func NewMetrics(reg prometheus.Registerer) (*Metrics, error) {
	m := &Metrics{
		transitions: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "parley_consult_transitions_total",
			Help: "Consultation transitions, by the state they went to (pending counts consultations).",
		}, []string{"state"}),
		firstReply: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name:    "parley_consult_first_reply_seconds",
			Help:    "Time from a consultation's first user message to the first agent message (the 30 s and 60 s buckets give the reply rates).",
			Buckets: []float64{5, 10, 30, 60, 120, 300, 600, 1800, 3600},
		}),
		ratings: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "parley_consult_ratings_total",
			Help: "Satisfaction ratings, by score.",
		}, []string{"score"}),
		loadG: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "parley_consult_agent_load",
			Help: "Open consultations an agent holds, as last changed on this node.",
		}, []string{"app", "agent"}),
		waitingG: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "parley_consult_waiting",
			Help: "Consultations waiting for an agent in a queue, as last served on this node.",
		}, []string{"app", "queue"}),
		unrecorded: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "parley_consult_unrecorded_messages_total",
			Help: "Thread messages not recorded because the consult workers' queue was full.",
		}),
	}
	for _, c := range []prometheus.Collector{m.transitions, m.firstReply, m.ratings, m.loadG, m.waitingG, m.unrecorded} {
		if err := reg.Register(c); err != nil {
			return nil, err
		}
	}
	return m, nil
}

func (m *Metrics) transition(to parley.ConsultState) {
	if m != nil {
		m.transitions.WithLabelValues(string(to)).Inc()
	}
}

func (m *Metrics) firstReplyMs(ms int64) {
	if m != nil {
		m.firstReply.Observe(float64(ms) / 1000)
	}
}

func (m *Metrics) rated(score int) {
	if m != nil {
		m.ratings.WithLabelValues(strconv.Itoa(score)).Inc()
	}
}

func (m *Metrics) load(app, agent string, n int) {
	if m != nil {
		m.loadG.WithLabelValues(app, agent).Set(float64(n))
	}
}

func (m *Metrics) waiting(app, queue string, n int) {
	if m != nil {
		m.waitingG.WithLabelValues(app, queue).Set(float64(n))
	}
}

func (m *Metrics) dropped() {
	if m != nil {
		m.unrecorded.Inc()
	}
}

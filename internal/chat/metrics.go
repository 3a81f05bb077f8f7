package chat

import (
	"slices"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/parley-im/parley"
)

// Metrics counts what the send pipeline and broadcasts do. Create it with
// NewMetrics and pass it in Config.Metrics; a nil *Metrics counts nothing,
// at the cost of one nil check per call. Every label value is resolved
// when it is created, so counting takes no map lookup and no allocation.
// It is safe for concurrent use.
type Metrics struct {
	stored     prometheus.Counter
	duplicates prometheus.Counter
	batchSize  prometheus.Histogram
	commitTime prometheus.Histogram
	broadcast  prometheus.Counter
	sendErrors [numSendErrorCodes + 1]prometheus.Counter // by sendErrorCodes index; the last is "other"
}

const numSendErrorCodes = 10

// sendErrorCodes returns the label values of parley_send_errors_total:
// every error code of package parley. A code missing here counts as
// "other".
func sendErrorCodes() [numSendErrorCodes]string {
	return [...]string{
		parley.EInvalid, parley.EBadFrame, parley.ETooLarge, parley.EUnauthorized, parley.EForbidden,
		parley.ENotFound, parley.EConflict, parley.ERateLimited, parley.EUnavailable, parley.EInternal,
	}
}

// NewMetrics creates the send pipeline's metrics and registers them with
// reg. It fails if reg already holds metrics of the same names (one
// registry per node).
func NewMetrics(reg prometheus.Registerer) (*Metrics, error) {
	errs := prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "parley_send_errors_total",
		Help: "Sends answered with an error, by error code (other: a code this version does not know).",
	}, []string{"code"})
	m := &Metrics{
		stored: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "parley_messages_stored_total",
			Help: "Messages the send pipeline committed as new (not retries); broadcasts are counted apart.",
		}),
		duplicates: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "parley_message_duplicates_total",
			Help: "Sends answered with the message already stored under their client message id (dup: true).",
		}),
		batchSize: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name:    "parley_commit_batch_size",
			Help:    "Sends the group committer committed in one store transaction.",
			Buckets: prometheus.ExponentialBuckets(1, 2, 10), // 1 .. 512
		}),
		commitTime: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name:    "parley_commit_seconds",
			Help:    "Duration of the group committer's Store.Append calls.",
			Buckets: prometheus.ExponentialBuckets(0.00025, 2, 13), // 0.25 ms .. 1.024 s
		}),
		broadcast: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "parley_broadcast_messages_total",
			Help: "Messages stored by broadcasts, one per recipient.",
		}),
	}
	for i, code := range sendErrorCodes() {
		m.sendErrors[i] = errs.WithLabelValues(code)
	}
	m.sendErrors[numSendErrorCodes] = errs.WithLabelValues("other")
	for _, c := range []prometheus.Collector{m.stored, m.duplicates, m.batchSize, m.commitTime, m.broadcast, errs} {
		if err := reg.Register(c); err != nil {
			return nil, err
		}
	}
	return m, nil
}

// committed records one Store.Append of the committer: the batch size and
// how long it took.
func (m *Metrics) committed(batch int, took time.Duration) {
	if m == nil {
		return
	}
	m.batchSize.Observe(float64(batch))
	m.commitTime.Observe(took.Seconds())
}

// answered records the answer to one send.
func (m *Metrics) answered(r SendResult) {
	if m == nil {
		return
	}
	switch {
	case r.Err != nil:
		codes := sendErrorCodes()
		i := slices.Index(codes[:], parley.ErrorCode(r.Err))
		if i < 0 {
			i = numSendErrorCodes
		}
		m.sendErrors[i].Inc()
	case r.Dup:
		m.duplicates.Inc()
	default:
		m.stored.Inc()
	}
}

// broadcasted records n messages stored by a broadcast.
func (m *Metrics) broadcasted(n int) {
	if m == nil {
		return
	}
	m.broadcast.Add(float64(n))
}

package gateway

import (
	"slices"
	"strconv"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/parley-im/parley/wire"
)

// Metrics counts the gateway's sessions, frames and closes. Create it with
// NewMetrics and pass it in Config.Metrics; a nil *Metrics counts nothing,
// at the cost of one nil check per call. Every label value is resolved
// when it is created, so counting takes no map lookup and no allocation.
// It is safe for concurrent use.
type Metrics struct {
	sessions    [numTransports]prometheus.Gauge
	connections [numTransports]prometheus.Counter
	framesIn    [numFrameTypes + 1]prometheus.Counter // by frameTypes index; the last is "other"
	pushes      prometheus.Counter
	retransmits prometheus.Counter
	closes      [numCloseCodes + 1]prometheus.Counter // by closeCodes index; the last is "other"
}

// transport is how a session reaches its device, the value of the
// transport label.
type transport uint8

const (
	transportWS transport = iota
	transportLongPoll
	numTransports
)

func (t transport) String() string {
	if t == transportLongPoll {
		return "longpoll"
	}
	return "ws"
}

const (
	numFrameTypes = 28
	numCloseCodes = 12
)

// frameTypes returns the label values of parley_frames_in_total: the
// client frame types of package wire. Any other type counts as "other".
func frameTypes() [numFrameTypes]string {
	return [...]string{wire.TAuth, wire.TPing, wire.TSend, wire.TAck, wire.TSync, wire.TPull, wire.TRead, wire.TConvs, wire.TSearch,
		wire.TContactsAdd, wire.TContactsRemove, wire.TContacts, wire.TProfiles, wire.TPresence,
		wire.TGroupCreate, wire.TGroupInfo, wire.TGroupUpdate, wire.TGroupMembers, wire.TGroupAdd, wire.TGroupRemove,
		wire.TGroupLeave, wire.TGroupRole, wire.TGroupTransfer, wire.TGroupMute, wire.TGroupMuteAll, wire.TGroupDissolve,
		wire.TReadReceipts, wire.TTyping}
}

// closeCodes returns the close codes of package wire, the pre-created
// label values of parley_closes_total. Any other code counts as "other".
func closeCodes() [numCloseCodes]int {
	return [...]int{
		wire.CloseNormal, wire.CloseGoingAway, wire.CloseInvalidData, wire.CloseTooLarge,
		wire.CloseProtocol, wire.CloseUnauthorized, wire.CloseKicked, wire.CloseReplaced,
		wire.CloseAuthTimeout, wire.CloseIdle, wire.CloseSlowConsumer, wire.CloseInternal,
	}
}

// NewMetrics creates the gateway's metrics and registers them with reg.
// It fails if reg already holds metrics of the same names (one registry
// per node).
func NewMetrics(reg prometheus.Registerer) (*Metrics, error) {
	sessions := prometheus.NewGaugeVec(prometheus.GaugeOpts{
		Name: "parley_sessions",
		Help: "Authenticated sessions on this node, by transport.",
	}, []string{"transport"})
	connections := prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "parley_connections_total",
		Help: "Connections accepted (WebSocket upgrades, long-poll connects), by transport.",
	}, []string{"transport"})
	frames := prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "parley_frames_in_total",
		Help: "Client frames sessions decoded, by type (other: undecodable or of no known type).",
	}, []string{"type"})
	closes := prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "parley_closes_total",
		Help: "Sessions the gateway closed, by close code.",
	}, []string{"code"})
	m := &Metrics{
		pushes: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "parley_pushes_written_total",
			Help: "Message pushes written to sessions for the first time (retransmits not included).",
		}),
		retransmits: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "parley_retransmits_total",
			Help: "Unacknowledged message pushes sent again.",
		}),
	}
	for t := range numTransports {
		m.sessions[t] = sessions.WithLabelValues(t.String())
		m.connections[t] = connections.WithLabelValues(t.String())
	}
	for i, typ := range frameTypes() {
		m.framesIn[i] = frames.WithLabelValues(typ)
	}
	m.framesIn[numFrameTypes] = frames.WithLabelValues("other")
	for i, code := range closeCodes() {
		m.closes[i] = closes.WithLabelValues(strconv.Itoa(code))
	}
	m.closes[numCloseCodes] = closes.WithLabelValues("other")
	for _, c := range []prometheus.Collector{sessions, connections, frames, m.pushes, m.retransmits, closes} {
		if err := reg.Register(c); err != nil {
			return nil, err
		}
	}
	return m, nil
}

// connected records an accepted connection.
func (m *Metrics) connected(t transport) {
	if m == nil {
		return
	}
	m.connections[t].Inc()
}

// authed records that a session authenticated; ended must follow when
// it ends.
func (m *Metrics) authed(t transport) {
	if m == nil {
		return
	}
	m.sessions[t].Inc()
}

// ended records the end of a session that authed counted.
func (m *Metrics) ended(t transport) {
	if m == nil {
		return
	}
	m.sessions[t].Dec()
}

// frameIn records a decoded client frame of type typ ("" when it could
// not be decoded).
func (m *Metrics) frameIn(typ string) {
	if m == nil {
		return
	}
	types := frameTypes()
	i := slices.Index(types[:], typ)
	if i < 0 {
		i = numFrameTypes
	}
	m.framesIn[i].Inc()
}

// pushWritten records a message push written for the first time.
func (m *Metrics) pushWritten() {
	if m == nil {
		return
	}
	m.pushes.Inc()
}

// retransmitted records n pushes written again.
func (m *Metrics) retransmitted(n int) {
	if m == nil {
		return
	}
	m.retransmits.Add(float64(n))
}

// closed records a close the gateway initiated.
func (m *Metrics) closed(code int) {
	if m == nil {
		return
	}
	codes := closeCodes()
	i := slices.Index(codes[:], code)
	if i < 0 {
		i = numCloseCodes
	}
	m.closes[i].Inc()
}

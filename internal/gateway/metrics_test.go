package gateway

import (
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/parley-im/parley/wire"
)

func TestMetricsLabels(t *testing.T) {
	reg := prometheus.NewRegistry()
	m, err := NewMetrics(reg)
	if err != nil {
		t.Fatal(err)
	}
	// Every series exists before anything is counted, so that dashboards
	// and rate() see zeros rather than gaps.
	for name, want := range map[string]int{
		"parley_frames_in_total": numFrameTypes + 1, "parley_closes_total": numCloseCodes + 1,
		"parley_sessions": 2, "parley_connections_total": 2,
	} {
		if got, err := testutil.GatherAndCount(reg, name); err != nil || got != want {
			t.Errorf("%s: got %d series (%v), want %d", name, got, err, want)
		}
	}
	for _, typ := range []string{wire.TSend, wire.TSend, wire.TAck, "", "dance", wire.TPong} {
		m.frameIn(typ)
	}
	for _, code := range []int{wire.CloseSlowConsumer, wire.CloseGoingAway, 1234} {
		m.closed(code)
	}
	m.connected(transportLongPoll)
	m.authed(transportLongPoll)
	m.authed(transportWS)
	m.ended(transportLongPoll)
	m.retransmitted(3)
	// Indexes follow the order of frameTypes and closeCodes.
	for _, c := range []struct {
		name string
		c    prometheus.Collector
		want float64
	}{
		{"frames send", m.framesIn[2], 2},
		{"frames ack", m.framesIn[3], 1},
		{"frames auth", m.framesIn[0], 0},
		{"frames other", m.framesIn[numFrameTypes], 3}, // undecodable, unknown, a server type
		{"close 4102", m.closes[10], 1},
		{"close 1001", m.closes[1], 1},
		{"close other", m.closes[numCloseCodes], 1},
		{"connections longpoll", m.connections[transportLongPoll], 1},
		{"connections ws", m.connections[transportWS], 0},
		{"sessions longpoll", m.sessions[transportLongPoll], 0},
		{"sessions ws", m.sessions[transportWS], 1},
		{"retransmits", m.retransmits, 3},
	} {
		if got := testutil.ToFloat64(c.c); got != c.want {
			t.Errorf("%s: got %v, want %v", c.name, got, c.want)
		}
	}
}

func TestMetricsCostNoAllocations(t *testing.T) {
	m, err := NewMetrics(prometheus.NewRegistry())
	if err != nil {
		t.Fatal(err)
	}
	for name, f := range map[string]func(){
		"frameIn":     func() { m.frameIn(wire.TConvs) },
		"closed":      func() { m.closed(wire.CloseInternal) },
		"pushWritten": m.pushWritten,
		"authed":      func() { m.authed(transportWS) },
		"nil":         func() { (*Metrics)(nil).frameIn(wire.TSend) },
	} {
		if n := testing.AllocsPerRun(100, f); n != 0 {
			t.Errorf("%s: %v allocations per call, want 0", name, n)
		}
	}
}

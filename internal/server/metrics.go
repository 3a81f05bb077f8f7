package server

import (
	"log/slog"
	"net/http"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/parley-im/parley/internal/chat"
	"github.com/parley-im/parley/internal/consult"
	"github.com/parley-im/parley/internal/dispatch"
	"github.com/parley-im/parley/internal/events"
	"github.com/parley-im/parley/internal/gateway"
	"github.com/parley-im/parley/internal/natsbus"
	"github.com/parley-im/parley/internal/notify"
	"github.com/parley-im/parley/internal/social"
)

// nodeMetrics are the metrics of one node's parts, registered on the
// node's own registry (never Prometheus's global one), so that several
// nodes in one process, as in tests, keep their counts apart.
type nodeMetrics struct {
	chat    *chat.Metrics
	disp    *dispatch.Metrics
	gw      *gateway.Metrics
	social  *social.Metrics
	notify  *notify.Metrics
	bus     *natsbus.Metrics
	consult *consult.Metrics
	events  *events.Metrics
	handler http.Handler
}

// newNodeMetrics creates a registry with the Go runtime and process
// collectors and the metrics of chat, dispatch, the gateway and social, and the
// handler that serves it in the Prometheus text format.
func newNodeMetrics(log *slog.Logger) (nodeMetrics, error) {
	reg := prometheus.NewRegistry()
	var m nodeMetrics
	if err := reg.Register(collectors.NewGoCollector()); err != nil {
		return m, err
	}
	if err := reg.Register(collectors.NewProcessCollector(collectors.ProcessCollectorOpts{})); err != nil {
		return m, err
	}
	var err error
	if m.chat, err = chat.NewMetrics(reg); err != nil {
		return m, err
	}
	if m.disp, err = dispatch.NewMetrics(reg); err != nil {
		return m, err
	}
	if m.gw, err = gateway.NewMetrics(reg); err != nil {
		return m, err
	}
	if m.social, err = social.NewMetrics(reg); err != nil {
		return m, err
	}
	if m.notify, err = notify.NewMetrics(reg); err != nil {
		return m, err
	}
	if m.bus, err = natsbus.NewMetrics(reg); err != nil {
		return m, err
	}
	if m.consult, err = consult.NewMetrics(reg); err != nil {
		return m, err
	}
	if m.events, err = events.NewMetrics(reg); err != nil {
		return m, err
	}
	m.handler = promhttp.HandlerFor(reg, promhttp.HandlerOpts{
		ErrorLog: slog.NewLogLogger(log.Handler(), slog.LevelWarn),
		// A collector that fails (the process collector on a system
		// without /proc) must not hide the others.
		ErrorHandling: promhttp.ContinueOnError,
	})
	return m, nil
}

// MetricsHandler serves the node's metrics (docs/metrics.md) in the
// Prometheus exposition format. It is not routed on the node's public
// listener; cmd/parley serves it on the debug listener.
func (s *Server) MetricsHandler() http.Handler { return s.metrics.handler }

package httpapi

import (
	"context"
	"net"
	"net/http"
	"strings"

	"github.com/parley-im/parley/internal/balance"
	"github.com/parley-im/parley/wire"
)

// Balancer picks the gateway node a client should connect to;
// *balance.Balancer implements it.
type Balancer interface {
	Pick(ctx context.Context, clientIP string) (balance.Node, error)
}

// gatewayAnswer is the answer of GET /v1/gateway.
type gatewayAnswer struct {
	Node string `json:"node"`
	URL  string `json:"url"` // base URL for HTTP: long-poll and files
	WS   string `json:"ws"`  // the WebSocket endpoint
}

// gateway tells a client which node to connect to. It needs no
// authentication: it reveals only what the client would connect to.
// GET /v1/gateway
func (s *Server) gateway(w http.ResponseWriter, r *http.Request) {
	ip, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		ip = r.RemoteAddr
	}
	n, err := s.Balancer.Pick(r.Context(), ip)
	if err != nil {
		s.fail(w, err)
		return
	}
	ws := n.URL
	switch {
	case strings.HasPrefix(ws, "https://"):
		ws = "wss://" + strings.TrimPrefix(ws, "https://")
	case strings.HasPrefix(ws, "http://"):
		ws = "ws://" + strings.TrimPrefix(ws, "http://")
	}
	w.Header().Set("Cache-Control", "no-store")
	wire.WriteJSON(w, http.StatusOK, gatewayAnswer{Node: n.ID, URL: n.URL, WS: ws + "/v1/ws"})
}

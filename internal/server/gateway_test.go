package server_test

import (
	"net/http"
	"testing"

	"github.com/parley-im/parley/internal/server"
)

// TestGatewayEndpointNamesANodeToConnectTo: GET /v1/gateway answers with
// this node (the only live one) and a WebSocket URL that works; a bad
// strategy is refused at start.
func TestGatewayEndpointNamesANodeToConnectTo(t *testing.T) {
	n := startNode(t, "gws", func(c *server.Config) { c.Balance = "least-connections" })
	var got struct{ Node, URL, WS string }
	if st := n.api(t, http.MethodGet, "/v1/gateway", nil, &got); st != 200 {
		t.Fatalf("GET /v1/gateway: status %d", st)
	}
	if got.Node != "local" || got.URL != n.URL() || got.WS != "ws://"+n.Addr()+"/v1/ws" {
		t.Fatalf("GET /v1/gateway: got %+v, want local at %s", got, n.URL())
	}
	n.users(t, "alice")
	c := dialWS(t, n)
	c.auth(t, n.token(t, "alice"), "d1")

	cfg := server.Config{Balance: "random"}
	cfg.Defaults()
	if err := cfg.Validate(); err == nil {
		t.Fatal("Validate accepted balance strategy random")
	}
}

package client_test

import (
	"encoding/json"
	"testing"

	"github.com/parley-im/parley"
)

// TestConsult drives a consultation through the Go client: the user
// opens it and writes, the online agent gets it (its messages and system
// messages reach both in seq order exactly once, the recorder checks),
// resolves it, and the user rates it.
func TestConsult(t *testing.T) {
	e := newEnv(t, "gws")
	e.users("shopper", "agent")
	e.api("PUT", "/v1/server/consult/shops/s1", map[string]any{"name": "Shop", "canned": []map[string]string{{"id": "hi", "text": "Hi!"}}}, nil)
	e.api("PUT", "/v1/server/consult/agents/agent", map[string]any{"shop": "s1", "max_load": 1}, nil)
	ctx := ctxT(t)
	agent, agentRec := e.dial("agent", "d1")
	if a, err := agent.SetAgentStatus(ctx, parley.AgentOnline); err != nil || a.Status != parley.AgentOnline {
		t.Fatalf("SetAgentStatus: got %+v, %v", a, err)
	}
	if cr, err := agent.CannedReplies(ctx); err != nil || len(cr) != 1 || cr[0].Text != "Hi!" {
		t.Fatalf("CannedReplies: got %+v, %v", cr, err)
	}
	shopper, shopperRec := e.dial("shopper", "d1")
	c, err := shopper.OpenConsult(ctx, "s1", "", "order", json.RawMessage(`{"order":"o-1"}`))
	if err != nil || c.State != parley.ConsultInitial {
		t.Fatalf("OpenConsult: got %+v, %v", c, err)
	}
	conv := parley.ConsultConvID("s1", "shopper")
	if _, err := shopper.SendConv(ctx, conv, parley.KindText, text("where is my order?")); err != nil {
		t.Fatal(err)
	}
	// opened, pending, the question, assigned: the agent, now a member,
	// syncs the thread with its history.
	agentRec.waitCount(t, conv, 4)
	info, err := shopper.ConsultInfo(ctx, c.ID)
	if err != nil || info.Consult.State != parley.ConsultAssigned || info.Consult.Agent != "agent" {
		t.Fatalf("ConsultInfo: got %+v, %v", info, err)
	}
	if _, err := agent.SendConv(ctx, conv, parley.KindText, text("on its way")); err != nil {
		t.Fatal(err)
	}
	shopperRec.waitCount(t, conv, 5)
	if r, err := agent.ResolveConsult(ctx, c.ID); err != nil || r.State != parley.ConsultResolved {
		t.Fatalf("ResolveConsult: got %+v, %v", r, err)
	}
	if r, err := shopper.RateConsult(ctx, c.ID, 5, "fast"); err != nil || r.Rating != 5 {
		t.Fatalf("RateConsult: got %+v, %v", r, err)
	}
	if _, err := agent.RateConsult(ctx, c.ID, 1, ""); parley.ErrorCode(err) != parley.EForbidden {
		t.Fatalf("an agent's rating: got %v, want forbidden", err)
	}
}

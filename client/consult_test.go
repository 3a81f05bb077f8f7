package client_test

import (
	"encoding/json"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/parley-im/parley"
	"github.com/parley-im/parley/client"
	"github.com/parley-im/parley/wire"
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

// consultLog records the consult pushes a client is told of.
type consultLog struct {
	mu   sync.Mutex
	got  []wire.ConsultPush
	wake chan struct{}
}

func newConsultLog() *consultLog { return &consultLog{wake: make(chan struct{}, 1)} }

func (l *consultLog) add(p wire.ConsultPush) {
	l.mu.Lock()
	l.got = append(l.got, p)
	l.mu.Unlock()
	select {
	case l.wake <- struct{}{}:
	default:
	}
}

// waitFor waits for a push of event (and, for "waiting", position pos)
// and returns it.
func (l *consultLog) waitFor(t *testing.T, event string, pos int) wire.ConsultPush {
	t.Helper()
	deadline := time.NewTimer(waitLimit)
	defer deadline.Stop()
	for {
		l.mu.Lock()
		for _, p := range l.got {
			if p.Event == event && p.Position == pos {
				l.mu.Unlock()
				return p
			}
		}
		got := slices.Clone(l.got)
		l.mu.Unlock()
		select {
		case <-l.wake:
		case <-deadline.C:
			t.Fatalf("gave up waiting for a %q push (position %d); got %+v", event, pos, got)
		}
	}
}

// positions returns the waiting positions told so far, in order.
func (l *consultLog) positions() []int {
	l.mu.Lock()
	defer l.mu.Unlock()
	var ps []int
	for _, p := range l.got {
		if p.Event == "waiting" {
			ps = append(ps, p.Position)
		}
	}
	return ps
}

// TestConsultPushes: OnConsult tells a waiting user its place in the
// line as it changes. One agent of capacity 1 serves u1; u2 and u3 wait
// at 1 and 2; when the agent resolves u1's consultation, u2 is assigned
// and u3 moves up to 1.
func TestConsultPushes(t *testing.T) {
	e := newEnv(t, "gws")
	e.users("agent", "u1", "u2", "u3")
	e.api("PUT", "/v1/server/consult/shops/s1", map[string]any{"name": "Shop"}, nil)
	e.api("PUT", "/v1/server/consult/agents/agent", map[string]any{"shop": "s1", "max_load": 1, "status": "online"}, nil)
	ctx := ctxT(t)
	agentLog := newConsultLog()
	agent, _ := e.dial("agent", "d1", func(o *client.Options) { o.OnConsult = agentLog.add })
	logs := map[string]*consultLog{}
	ids := map[string]string{}
	for _, u := range []string{"u1", "u2", "u3"} {
		logs[u] = newConsultLog()
		c, _ := e.dial(u, "d1", func(o *client.Options) { o.OnConsult = logs[u].add })
		cons, err := c.OpenConsult(ctx, "s1", "", "", nil)
		if err != nil {
			t.Fatalf("%s: OpenConsult: %v", u, err)
		}
		ids[u] = cons.ID
		if _, err := c.SendConv(ctx, parley.ConsultConvID("s1", u), parley.KindText, text("hello?")); err != nil {
			t.Fatal(err)
		}
		switch u {
		case "u1":
			if p := logs[u].waitFor(t, "assigned", 0); p.Consult.Agent != "agent" || p.Consult.ID != cons.ID {
				t.Fatalf("u1: assigned push %+v, want %s to agent", p.Consult, cons.ID)
			}
		case "u2":
			logs[u].waitFor(t, "waiting", 1)
		case "u3":
			logs[u].waitFor(t, "waiting", 2)
		}
	}
	if p := agentLog.waitFor(t, "assigned", 0); p.Consult.ID != ids["u1"] {
		t.Fatalf("agent: assigned push %+v, want u1's", p.Consult)
	}
	if _, err := agent.ResolveConsult(ctx, ids["u1"]); err != nil {
		t.Fatal(err)
	}
	logs["u1"].waitFor(t, "resolved", 0)
	if p := logs["u2"].waitFor(t, "assigned", 0); p.Consult.ID != ids["u2"] || p.Consult.State != parley.ConsultAssigned {
		t.Fatalf("u2: assigned push %+v", p.Consult)
	}
	logs["u3"].waitFor(t, "waiting", 1)
	if got := logs["u3"].positions(); !slices.Equal(got, []int{2, 1}) {
		t.Fatalf("u3 was told positions %v, want [2 1]", got)
	}
	if got := logs["u2"].positions(); !slices.Equal(got, []int{1}) {
		t.Fatalf("u2 was told positions %v, want [1]", got)
	}
}

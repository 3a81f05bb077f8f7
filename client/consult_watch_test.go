package client_test

import (
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/parley-im/parley"
	"github.com/parley-im/parley/client"
	"github.com/parley-im/parley/wire"
)

// TestConsultWatchLive: a supervisor follows a consultation through the
// Go client: WatchConsultLive answers with the thread so far, the
// shopper's and the agent's next messages reach OnConsultMsg in order,
// and UnwatchConsult ends the watch (once).
func TestConsultWatchLive(t *testing.T) {
	ctx := ctxT(t)
	var (
		mu   sync.Mutex
		seen []string
	)
	boss, agent, shopper, c, conv := watchScene(t, func(p wire.ConsultMsgPush) {
		if p.Msg.Sender == parley.SystemUserID {
			return
		}
		mu.Lock()
		seen = append(seen, p.Msg.Sender+":"+textOf(*p.Msg))
		mu.Unlock()
	})
	res, err := boss.WatchConsultLive(ctx, c.ID, 0, 0)
	if err != nil || res.Conv != conv || !slices.ContainsFunc(res.Msgs, func(m parley.Message) bool { return textOf(m) == "hello" }) {
		t.Fatalf("WatchConsultLive: got %+v, %v", res, err)
	}
	if _, err := shopper.SendConv(ctx, conv, parley.KindText, text("any news?")); err != nil {
		t.Fatal(err)
	}
	if _, err := agent.SendConv(ctx, conv, parley.KindText, text("on its way")); err != nil {
		t.Fatal(err)
	}
	want := []string{"shopper:any news?", "agent:on its way"}
	deadline := time.Now().Add(5 * time.Second)
	for {
		mu.Lock()
		got := slices.Clone(seen)
		mu.Unlock()
		if len(got) >= len(want) {
			if !slices.Equal(got, want) {
				t.Fatalf("OnConsultMsg: got %q, want %q", got, want)
			}
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("OnConsultMsg: got %q after 5s, want %q", got, want)
		}
		time.Sleep(10 * time.Millisecond)
	}
	if ok, err := boss.UnwatchConsult(ctx, c.ID); err != nil || !ok {
		t.Fatalf("UnwatchConsult: got %v, %v, want true", ok, err)
	}
	if ok, err := boss.UnwatchConsult(ctx, c.ID); err != nil || ok {
		t.Fatalf("UnwatchConsult again: got %v, %v, want false", ok, err)
	}
}

// TestConsultWatchSurvivesReconnect: a live watch outlives the
// connection. Messages stored while the supervisor's client reconnects
// reach OnConsultMsg after it, and later ones live, each once and in seq
// order.
func TestConsultWatchSurvivesReconnect(t *testing.T) {
	ctx := ctxT(t)
	var (
		mu   sync.Mutex
		seen []string
		seqs []uint64
	)
	boss, agent, shopper, c, conv := watchScene(t, func(p wire.ConsultMsgPush) {
		mu.Lock()
		defer mu.Unlock()
		seqs = append(seqs, p.Msg.Seq)
		if p.Msg.Sender != parley.SystemUserID {
			seen = append(seen, p.Msg.Sender+":"+textOf(*p.Msg))
		}
	})
	res, err := boss.WatchConsultLive(ctx, c.ID, 0, 0)
	if err != nil || len(res.Msgs) == 0 {
		t.Fatalf("WatchConsultLive: got %+v, %v", res, err)
	}

	resyncs := boss.Resyncs()
	boss.Drop()
	if _, err := shopper.SendConv(ctx, conv, parley.KindText, text("while away")); err != nil {
		t.Fatal(err)
	}
	if _, err := agent.SendConv(ctx, conv, parley.KindText, text("still away")); err != nil {
		t.Fatal(err)
	}
	waitUntil(t, "the supervisor's client to reconnect and resync", func() bool { return boss.Resyncs() > resyncs })
	if _, err := shopper.SendConv(ctx, conv, parley.KindText, text("back")); err != nil {
		t.Fatal(err)
	}
	want := []string{"shopper:while away", "agent:still away", "shopper:back"}
	waitUntil(t, "every message once", func() bool {
		mu.Lock()
		defer mu.Unlock()
		return len(seen) >= len(want)
	})
	time.Sleep(100 * time.Millisecond) // a duplicate would come now
	mu.Lock()
	defer mu.Unlock()
	if !slices.Equal(seen, want) {
		t.Fatalf("OnConsultMsg: got %q, want %q", seen, want)
	}
	for i := 1; i < len(seqs); i++ {
		if seqs[i] <= seqs[i-1] {
			t.Fatalf("OnConsultMsg seqs %v: want each once, increasing", seqs)
		}
	}
}

// watchScene sets up shop s1 with an agent and a supervisor, boss, whose
// client hands consult_msg pushes to onMsg, and a shopper's consultation
// c in thread conv that the agent has been assigned ("hello" sent).
func watchScene(t *testing.T, onMsg func(wire.ConsultMsgPush)) (boss, agent, shopper *client.Client, c *parley.Consultation, conv string) {
	t.Helper()
	e := newEnv(t, "gws")
	e.users("shopper", "agent", "boss")
	e.api("PUT", "/v1/server/consult/shops/s1", map[string]any{"name": "Shop"}, nil)
	e.api("PUT", "/v1/server/consult/agents/agent", map[string]any{"shop": "s1", "max_load": 1, "status": "online"}, nil)
	e.api("PUT", "/v1/server/consult/agents/boss", map[string]any{"shop": "s1", "supervisor": true, "status": "away"}, nil)
	ctx := ctxT(t)
	boss, _ = e.dial("boss", "d1", func(o *client.Options) { o.OnConsultMsg = onMsg })
	agent, agentRec := e.dial("agent", "d1")
	shopper, _ = e.dial("shopper", "d1")
	c, err := shopper.OpenConsult(ctx, "s1", "", "", nil)
	if err != nil {
		t.Fatal(err)
	}
	conv = parley.ConsultConvID("s1", "shopper")
	if _, err := shopper.SendConv(ctx, conv, parley.KindText, text("hello")); err != nil {
		t.Fatal(err)
	}
	agentRec.waitCount(t, conv, 4) // opened, pending, hello, assigned
	return boss, agent, shopper, c, conv
}

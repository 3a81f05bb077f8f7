package gateway

import (
	"encoding/json"
	"testing"

	"github.com/parley-im/parley"
	"github.com/parley-im/parley/internal/chat"
)

// TestVariantPushesRenderOncePerPair: a message with variants is pushed
// to each session as the variant for its role and platform, never with
// its variants; sessions of one pair share one encoding; a delivery
// without variants is passed on untouched, and one that cannot be
// decoded is pushed to nobody.
func TestVariantPushesRenderOncePerPair(t *testing.T) {
	m := parley.Message{ConvID: "g:x", Seq: 3, Kind: parley.KindSystem, Body: json.RawMessage(`{"text":"all"}`),
		Variants: []parley.Variant{{Role: parley.RoleAgent, Body: json.RawMessage(`{"text":"agents"}`)}}}
	payload, _ := json.Marshal(m)
	d := &parley.Delivery{AppID: "a", Users: []string{"u1", "u2"}, Kind: chat.DeliverMsgVariants, Payload: payload}
	vp := renderVariants(d)
	agentWeb, agentWeb2 := &Session{role: parley.RoleAgent, platform: parley.PlatformWeb}, &Session{role: parley.RoleAgent, platform: parley.PlatformWeb}
	user := &Session{role: parley.RoleUser, platform: parley.PlatformWeb}
	for s, want := range map[*Session]string{agentWeb: "agents", agentWeb2: "agents", user: "all"} {
		got := vp.forSession(s, d)
		var pm parley.Message
		if err := json.Unmarshal(got.Payload, &pm); err != nil || got.Kind != chat.DeliverMsg {
			t.Fatalf("%s/%s: got kind %q payload %s (%v), want a msg push", s.role, s.platform, got.Kind, got.Payload, err)
		}
		if len(got.Users) != len(d.Users) {
			t.Errorf("%s/%s: a rendering for %d users, want the delivery's %d", s.role, s.platform, len(got.Users), len(d.Users))
		}
		if pm.Variants != nil || string(pm.Body) != `{"text":"`+want+`"}` || pm.Seq != 3 {
			t.Errorf("%s/%s: got %s, want body %q and no variants", s.role, s.platform, got.Payload, want)
		}
	}
	if vp.forSession(agentWeb, d) != vp.forSession(agentWeb2, d) {
		t.Error("two sessions of one role and platform got separate encodings")
	}
	plain := &parley.Delivery{Kind: chat.DeliverMsg, Payload: []byte(`{}`)}
	if got := renderVariants(plain).forSession(user, plain); got != plain {
		t.Error("a delivery without variants was not passed on as it is")
	}
	bad := &parley.Delivery{Kind: chat.DeliverMsgVariants, Payload: []byte(`{"variants":`)}
	if got := renderVariants(bad).forSession(user, bad); got.Kind != "" || got.Payload != nil {
		t.Errorf("an undecodable delivery: got %+v, want nothing pushed", got)
	}
}

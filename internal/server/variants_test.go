package server_test

import (
	"encoding/json"
	"fmt"
	"testing"
)

// variantText returns the text of a message's body and fails the test if
// the message carries its variants.
func variantText(t *testing.T, who string, m map[string]any) string {
	t.Helper()
	if _, ok := m["variants"]; ok {
		t.Fatalf("%s got a message with its variants: %v", who, m)
	}
	text, _ := m["body"].(map[string]any)["text"].(string)
	return text
}

// TestVariantsReachEachDeviceItsOwn: a system notice with a text per role
// and platform, sent once into a group through the server API, reaches
// a user on web, a user on iOS and an agent (on web and on iOS) each
// with the text meant for them, live and on pull, in the conversation
// list and in search after they reconnect; never another's. The server
// API's history shows the notice with every variant, stored once.
func TestVariantsReachEachDeviceItsOwn(t *testing.T) {
	transports(t, func(t *testing.T, tr string) {
		n := startNode(t, tr)
		users := []map[string]string{{"id": "ana"}, {"id": "ivan"}, {"id": "kim", "role": "agent"}}
		if st := n.api(t, "POST", "/v1/server/users", map[string]any{"users": users}, nil); st != 200 {
			t.Fatalf("users: %d", st)
		}
		if st := n.api(t, "POST", "/v1/server/groups", map[string]any{"id": "desk", "owner": "kim", "members": []string{"ana", "ivan"}}, nil); st != 200 {
			t.Fatalf("group: %d", st)
		}
		devices := []struct{ user, device, platform, want string }{
			{"ana", "ana-web", "web", "notice for user on web"},
			{"ivan", "ivan-phone", "ios", "notice on ios"},
			{"kim", "kim-web", "web", "notice for agent"},
			{"kim", "kim-phone", "ios", "notice for agent"}, // the role outranks the platform
		}
		connect := func() []*wsClient {
			cs := make([]*wsClient, len(devices))
			for i, d := range devices {
				cs[i] = dialWS(t, n)
				cs[i].authOn(t, n.token(t, d.user), d.device, d.platform)
			}
			return cs
		}
		cs := connect()
		notice := map[string]any{"conv": "g:desk", "kind": "system", "body": map[string]string{"text": "notice for everyone"},
			"variants": []map[string]any{
				{"role": "agent", "body": map[string]string{"text": "notice for agent"}},
				{"platform": "ios", "body": map[string]string{"text": "notice on ios"}},
				{"role": "user", "platform": "web", "body": map[string]string{"text": "notice for user on web"}},
			}}
		var sent struct{ Msg map[string]any }
		if st := n.api(t, "POST", "/v1/server/messages", notice, &sent); st != 200 || len(sent.Msg["variants"].([]any)) != 3 {
			t.Fatalf("send: got %d %v, want 200 with the three variants", st, sent.Msg)
		}
		seq := sent.Msg["seq"].(float64)
		for i, d := range devices {
			for {
				f := cs[i].until(t, "msg")
				cs[i].send(t, fmt.Sprintf(`{"type":"ack","n":[%d]}`, uint64(f["n"].(float64))))
				if m := f["msg"].(map[string]any); m["seq"] == seq {
					if got := variantText(t, d.device, m); got != d.want {
						t.Errorf("%s live: got %q, want %q", d.device, got, d.want)
					}
					break
				}
			}
		}

		// After reconnecting, what each device reads is rendered the same.
		for _, c := range cs {
			_ = c.conn.NetConn().Close()
		}
		cs = connect()
		for i, d := range devices {
			want := d.want
			pull := cs[i].request(t, `{"type":"pull","id":"p","conv":"g:desk"}`)
			msgs := pull["msgs"].([]any)
			if got := variantText(t, d.device, msgs[len(msgs)-1].(map[string]any)); got != want {
				t.Errorf("%s pull: got %q, want %q", d.device, got, want)
			}
			convs := cs[i].request(t, `{"type":"convs","id":"c"}`)["convs"].([]any)
			if got := variantText(t, d.device, convs[0].(map[string]any)["last"].(map[string]any)); got != want {
				t.Errorf("%s convs: got %q, want %q", d.device, got, want)
			}
			found := cs[i].request(t, `{"type":"search","id":"q","q":"notice"}`)["msgs"].([]any)
			if len(found) != 1 || variantText(t, d.device, found[0].(map[string]any)) != want {
				t.Errorf("%s search: got %v, want the notice as %q", d.device, found, want)
			}
		}

		var hist struct{ Msgs []json.RawMessage }
		n.api(t, "GET", "/v1/server/conversations/g:desk/messages?newest=true&limit=1", nil, &hist)
		var stored struct {
			Body     map[string]string
			Variants []map[string]any
		}
		if len(hist.Msgs) != 1 || json.Unmarshal(hist.Msgs[0], &stored) != nil ||
			stored.Body["text"] != "notice for everyone" || len(stored.Variants) != 3 {
			t.Fatalf("server API history: got %s, want the default body and the three variants", hist.Msgs)
		}
	})
}

// TestVariantsByBroadcastAndValidation: a broadcast's variants reach each
// recipient's own device as the variant meant for it; variants are
// refused on other kinds and when malformed.
func TestVariantsByBroadcastAndValidation(t *testing.T) {
	n := startNode(t, "gws")
	users := []map[string]string{{"id": "ana"}, {"id": "kim", "role": "agent"}}
	if st := n.api(t, "POST", "/v1/server/users", map[string]any{"users": users}, nil); st != 200 {
		t.Fatalf("users: %d", st)
	}
	ana, kim := dialWS(t, n), dialWS(t, n)
	ana.authOn(t, n.token(t, "ana"), "a1", "android")
	kim.authOn(t, n.token(t, "kim"), "k1", "android")
	body := map[string]any{"users": []string{"ana", "kim"}, "body": map[string]string{"text": "maintenance tonight"},
		"variants": []map[string]any{{"role": "agent", "body": map[string]string{"text": "maintenance tonight: hand over your chats"}}}}
	if st := n.api(t, "POST", "/v1/server/broadcast", body, nil); st != 200 {
		t.Fatalf("broadcast: %d", st)
	}
	for who, c := range map[string]*wsClient{"maintenance tonight": ana, "maintenance tonight: hand over your chats": kim} {
		if got := variantText(t, who, c.until(t, "msg")["msg"].(map[string]any)); got != who {
			t.Errorf("broadcast: got %q, want %q", got, who)
		}
	}
	// A system message the backend sent as ana, with a cmid: ana's retry
	// of that cmid answers with the stored original, rendered for her.
	asAna := map[string]any{"from": "ana", "to": "kim", "cmid": "n1", "kind": "system", "body": map[string]string{"text": "x"},
		"variants": []map[string]any{{"role": "user", "body": map[string]string{"text": "for users"}}}}
	if st := n.api(t, "POST", "/v1/server/messages", asAna, nil); st != 200 {
		t.Fatalf("send as ana: %d", st)
	}
	res := ana.request(t, `{"type":"send","id":"d","to":"kim","cmid":"n1","body":{"text":"again"}}`)
	if got := variantText(t, "ana's retry", res["msg"].(map[string]any)); res["dup"] != true || got != "for users" {
		t.Errorf("retry of a cmid with variants: got %v, want the original rendered for ana", res)
	}
	for name, v := range map[string]map[string]any{
		"not a system kind": {"to": "ana", "kind": "text", "body": map[string]string{"text": "x"}, "variants": []map[string]any{{"role": "agent", "body": map[string]string{"text": "y"}}}},
		"no target":         {"to": "ana", "kind": "system", "body": map[string]string{"text": "x"}, "variants": []map[string]any{{"body": map[string]string{"text": "y"}}}},
		"unknown platform":  {"to": "ana", "kind": "system", "body": map[string]string{"text": "x"}, "variants": []map[string]any{{"platform": "tv", "body": map[string]string{"text": "y"}}}},
		"unknown field":     {"to": "ana", "kind": "system", "body": map[string]string{"text": "x"}, "variants": []map[string]any{{"role": "agent", "colour": 1, "body": map[string]string{"text": "y"}}}},
	} {
		if st := n.api(t, "POST", "/v1/server/messages", v, nil); st != 400 {
			t.Errorf("%s: got %d, want 400", name, st)
		}
	}
}

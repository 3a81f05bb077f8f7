package server_test

import (
	"testing"
	"time"

	"github.com/parley-im/parley"
)

// TestConvSettingsSyncAcrossDevices: alice mutes bob on her phone before
// either has written; her laptop is told at once, bob is not. Hidden, the
// conversation leaves her list until bob writes again. The server API
// pins it, and both her devices hear of it; a stranger may not touch it.
func TestConvSettingsSyncAcrossDevices(t *testing.T) {
	transports(t, func(t *testing.T, tr string) {
		n := startNode(t, tr)
		n.users(t, "alice", "bob", "zed")
		conv := parley.DirectConvID("alice", "bob")
		tok := n.token(t, "alice")
		phone, laptop, bob := dialWS(t, n), dialWS(t, n), dialWS(t, n)
		phone.auth(t, tok, "phone")
		laptop.auth(t, tok, "laptop")
		bob.auth(t, n.token(t, "bob"), "b1")

		st := phone.request(t, `{"type":"conv_set","id":"1","conv":"`+conv+`","settings":{"mute":true}}`)
		if st["conv"] != conv || st["muted"] != true || st["pinned"] != nil || st["hidden"] != nil {
			t.Fatalf("conv_set mute: got %v, want %s muted only", st, conv)
		}
		if f := laptop.until(t, "conv"); f["conv"] != conv || f["muted"] != true {
			t.Fatalf("laptop: got %v, want the conv push, muted", f)
		}
		phone.quiet(t, "conv", 50*time.Millisecond)
		bob.quiet(t, "conv", 50*time.Millisecond)

		send := func(text string) {
			t.Helper()
			if st := n.api(t, "POST", "/v1/server/messages", map[string]any{"from": "bob", "to": "alice", "body": map[string]string{"text": text}}, nil); st != 200 {
				t.Fatalf("send: status %d", st)
			}
		}
		convsOf := func(c *wsClient) []any {
			t.Helper()
			return c.request(t, `{"type":"convs","id":"l"}`)["convs"].([]any)
		}
		send("one")
		phone.request(t, `{"type":"conv_set","id":"2","conv":"`+conv+`","settings":{"hide":true}}`)
		if f := laptop.until(t, "conv"); f["hidden"] != true || f["muted"] != true {
			t.Fatalf("laptop after hide: got %v, want hidden and still muted", f)
		}
		if got := convsOf(laptop); len(got) != 0 {
			t.Fatalf("alice's list with the conversation hidden: got %v, want none", got)
		}
		sync := laptop.request(t, `{"type":"sync","id":"s"}`)["convs"].([]any)
		if len(sync) != 1 || sync[0].(map[string]any)["hidden"] != true {
			t.Fatalf("alice's sync: got %v, want the conversation, hidden", sync)
		}
		if got := convsOf(bob); len(got) != 1 {
			t.Fatalf("bob's list: got %v, want the conversation (alice's settings are hers)", got)
		}
		send("two")
		if got := convsOf(phone); len(got) != 1 || got[0].(map[string]any)["hidden"] != nil {
			t.Fatalf("alice's list after a new message: got %v, want the conversation, not hidden", got)
		}

		var res parley.ConvState
		if st := n.api(t, "POST", "/v1/server/users/alice/conversations/"+conv+"/settings", map[string]any{"pin": true}, &res); st != 200 || !res.Pinned || !res.Muted {
			t.Fatalf("settings API: status %d, %+v; want pinned and muted", st, res)
		}
		for _, c := range []*wsClient{phone, laptop} {
			if f := c.until(t, "conv"); f["pinned"] != true {
				t.Fatalf("after the API pinned: got %v, want pinned", f)
			}
		}
		if st := n.api(t, "POST", "/v1/server/users/zed/conversations/"+conv+"/settings", map[string]any{"pin": true}, nil); st != 403 {
			t.Errorf("settings API for a stranger: status %d, want 403", st)
		}
		if st := n.api(t, "POST", "/v1/server/users/alice/conversations/"+conv+"/settings", map[string]any{}, nil); st != 400 {
			t.Errorf("settings API changing nothing: status %d, want 400", st)
		}
		if st := n.api(t, "POST", "/v1/server/users/alice/conversations/"+conv+"/settings", map[string]any{"pin": "yes"}, nil); st != 400 {
			t.Errorf("settings API with a bad value: status %d, want 400", st)
		}
		if code := phone.requestErr(t, `{"type":"conv_set","id":"3","conv":"g:nope","settings":{"pin":true}}`); code != parley.ENotFound {
			t.Errorf("conv_set of an unknown group: got %q, want not_found", code)
		}
	})
}

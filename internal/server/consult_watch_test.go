package server_test

import (
	"context"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/parley-im/parley"
)

// TestConsultWatchLive: a supervisor watches a consultation live: the
// answer holds the thread so far, and the user's and the agent's next
// messages follow as consult_msg pushes, in order, to that session only,
// while the thread's members, the supervisor's own conversations and the
// others' read state stay as they were. A supervisor of another shop and
// an agent who is not a supervisor are refused. After consult_unwatch no
// copy arrives; a watching session that ends leaves nothing in the
// node's watch table.
func TestConsultWatchLive(t *testing.T) {
	n := startNode(t, "gws")
	agents := consultSetup(t, n, "least_loaded", []string{"u1", "b1"})
	sup := agents["a3"]
	u1, id, f := consultNow(t, n, "u1", "hello")
	agentID, _ := consultOf(f)["agent"].(string)
	if agentID == "" || agentID == "a3" {
		t.Fatalf("assignment: got %v, want a1 or a2", f)
	}
	agent := agents[agentID]
	conv := parley.ConsultConvID("s1", "u1")
	members := func() []string {
		t.Helper()
		ms, err := n.Store().Members(context.Background(), "demo", conv)
		if err != nil {
			t.Fatal(err)
		}
		return ms
	}
	before := members()
	if !slices.Equal(before, []string{agentID, "u1"}) && !slices.Equal(before, []string{"u1", agentID}) {
		t.Fatalf("members before: got %v", before)
	}
	watch := func(c *cc) (map[string]any, string) {
		return c.req(t, fmt.Sprintf(`{"type":"consult_watch","consult":%q,"live":true}`, id))
	}

	// Two sessions of the supervisor watch; the answer is the history.
	d, code := watch(sup)
	if code != "" || d["conv"] != conv || !hasText(d["msgs"], "hello") {
		t.Fatalf("consult_watch live: got %v, %q", d, code)
	}
	sup2 := consultLoginOn(t, n, "a3", "d2")
	if _, code := watch(sup2); code != "" {
		t.Fatalf("second session: got %q", code)
	}
	if got := n.ConsultWatches(); got != 2 {
		t.Fatalf("watches: got %d, want 2", got)
	}

	// Refused: a supervisor of another shop, an agent who supervises nothing.
	if st := n.api(t, "PUT", "/v1/server/consult/shops/s2", map[string]any{"name": "Pans"}, nil); st != 200 {
		t.Fatalf("shop s2: status %d", st)
	}
	if st := n.api(t, "PUT", "/v1/server/consult/agents/b1", map[string]any{"shop": "s2", "supervisor": true, "status": "online"}, nil); st != 200 {
		t.Fatalf("agent b1: status %d", st)
	}
	other := consultLogin(t, n, "b1")
	if _, code := watch(other); code != parley.EForbidden {
		t.Fatalf("supervisor of s2 watches s1: got %q, want forbidden", code)
	}
	if _, code := watch(agents["a2"]); agentID != "a2" && code != parley.EForbidden {
		t.Fatalf("an agent watches: got %q, want forbidden", code)
	}
	if got := n.ConsultWatches(); got != 2 {
		t.Fatalf("watches after refusals: got %d, want 2", got)
	}

	// The next messages reach the watching sessions in order.
	say := func(c *cc, text string) {
		t.Helper()
		c.ok(t, fmt.Sprintf(`{"type":"send","conv":%q,"body":{"text":%q}}`, conv, text))
	}
	say(u1, "where is my kettle?")
	say(agent, "on its way")
	say(u1, "thanks")
	want := []string{"u1:where is my kettle?", agentID + ":on its way", "u1:thanks"}
	for _, c := range []*cc{sup, sup2} {
		if got := watched(t, c, len(want)); !slices.Equal(got, want) {
			t.Fatalf("%s watched:\ngot  %q\nwant %q", c.user, got, want)
		}
	}

	// Watching made nobody a member: the members are the same, the
	// supervisor can neither pull the thread nor find it in their
	// conversations, and nobody was told of a read by the supervisor.
	if got := members(); !slices.Equal(got, before) {
		t.Fatalf("members after watching: got %v, want %v", got, before)
	}
	if _, code := sup.req(t, fmt.Sprintf(`{"type":"pull","conv":%q}`, conv)); code != parley.EForbidden {
		t.Fatalf("the supervisor pulls the thread: got %q, want forbidden", code)
	}
	if _, code := sup.req(t, fmt.Sprintf(`{"type":"send","conv":%q,"body":{"text":"psst"}}`, conv)); code != parley.EForbidden {
		t.Fatalf("the supervisor writes in the thread: got %q, want forbidden", code)
	}
	for _, c := range sup.ok(t, `{"type":"convs"}`)["convs"].([]any) {
		if c.(map[string]any)["conv"] == conv {
			t.Fatalf("the thread is in the supervisor's conversations: %v", c)
		}
	}
	for _, c := range []*cc{u1, agent} {
		c.ok(t, `{"type":"convs"}`) // every frame pushed before is kept now
		for _, f := range c.backlog {
			if f["type"] == "read" && f["user"] == "a3" || f["type"] == "consult_msg" {
				t.Fatalf("%s was sent %v", c.user, f)
			}
		}
	}

	// consult_unwatch: sup gets no more copies, sup2 still does.
	if d := sup.ok(t, fmt.Sprintf(`{"type":"consult_unwatch","consult":%q}`, id)); d["stopped"] != true {
		t.Fatalf("consult_unwatch: got %v", d)
	}
	if d := sup.ok(t, fmt.Sprintf(`{"type":"consult_unwatch","consult":%q}`, id)); d["stopped"] != false {
		t.Fatalf("consult_unwatch again: got %v", d)
	}
	if got := n.ConsultWatches(); got != 1 {
		t.Fatalf("watches after unwatch: got %d, want 1", got)
	}
	say(u1, "after stop")
	if got := watched(t, sup2, 1); !slices.Equal(got, []string{"u1:after stop"}) {
		t.Fatalf("sup2 watched: got %q", got)
	}
	// The resolved push reaches sup after any copy handed over before it
	// (one writer per session, in order): none may be there.
	agent.ok(t, fmt.Sprintf(`{"type":"consult_resolve","consult":%q}`, id))
	sup.consultPush(t, "resolved")
	for _, f := range sup.backlog {
		if f["type"] == "consult_msg" {
			t.Fatalf("a copy after consult_unwatch: %v", f)
		}
	}

	// sup2's session ends: its watch goes with it.
	_ = sup2.conn.NetConn().Close()
	deadline := time.Now().Add(5 * time.Second)
	for n.ConsultWatches() != 0 {
		if time.Now().After(deadline) {
			t.Fatalf("watches after the session closed: got %d, want 0", n.ConsultWatches())
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// consultLoginOn is consultLogin on another device of the user.
func consultLoginOn(t *testing.T, n *node, user, device string) *cc {
	t.Helper()
	c := dialWS(t, n)
	if f := c.auth(t, n.token(t, user), device); f["type"] != "res" {
		t.Fatalf("auth %s on %s: got %v", user, device, f)
	}
	return &cc{wsClient: c, user: user}
}

// watched waits for k consult_msg pushes of messages that are not the
// system's and returns them as "sender:text"; their seqs must rise.
func watched(t *testing.T, c *cc, k int) []string {
	t.Helper()
	var got []string
	var last float64
	for len(got) < k {
		f := c.await(t, func(f map[string]any) bool { return f["type"] == "consult_msg" })
		m := f["msg"].(map[string]any)
		if seq := m["seq"].(float64); seq <= last {
			t.Fatalf("%s: seq %v after %v", c.user, seq, last)
		} else {
			last = seq
		}
		if m["conv"] != f["conv"] {
			t.Fatalf("%s: push conv %v, message conv %v", c.user, f["conv"], m["conv"])
		}
		if m["from"] != parley.SystemUserID {
			got = append(got, fmt.Sprintf("%v:%v", m["from"], m["body"].(map[string]any)["text"]))
		}
	}
	return got
}

// hasText reports whether a msgs list holds a message with text.
func hasText(msgs any, text string) bool {
	l, _ := msgs.([]any)
	return slices.ContainsFunc(l, func(m any) bool {
		b, _ := m.(map[string]any)["body"].(map[string]any)
		return b["text"] == text
	})
}

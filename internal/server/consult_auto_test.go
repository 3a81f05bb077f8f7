package server_test

import (
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/parley-im/parley"
	"github.com/parley-im/parley/internal/consult/consulttest"
	"github.com/parley-im/parley/internal/server"
)

// The automations (greeting, off-hours reply, FAQ answers, canned
// replies) and the agents' offline grace, over real sockets
// (docs/protocol.md §15.5).

// putShop replaces shop s1's settings.
func putShop(t *testing.T, n *node, settings map[string]any) {
	t.Helper()
	if st := n.api(t, "PUT", "/v1/server/consult/shops/s1", settings, nil); st != 200 {
		t.Fatalf("shop: status %d", st)
	}
}

// thread returns user's thread with s1 as c sees it (pull), one line per
// message: "sys:<event>" for a transition, "auto:<automation>:<text>" for
// an automatic reply, "<sender>:<text>" otherwise.
func thread(t *testing.T, c *cc, user string) []string {
	t.Helper()
	d := c.ok(t, fmt.Sprintf(`{"type":"pull","conv":%q,"limit":100}`, parley.ConsultConvID("s1", user)))
	var out []string
	for _, m := range d["msgs"].([]any) {
		m := m.(map[string]any)
		b := m["body"].(map[string]any)
		switch {
		case m["kind"] == string(parley.KindSystem):
			out = append(out, fmt.Sprintf("sys:%v", b["event"]))
		case b["auto"] != nil:
			out = append(out, fmt.Sprintf("auto:%v:%v", b["auto"], b["text"]))
		default:
			out = append(out, fmt.Sprintf("%v:%v", m["from"], b["text"]))
		}
	}
	return out
}

// autoMsg waits for the next automatic reply of kind auto pushed to c
// and returns its text.
func (c *cc) autoMsg(t *testing.T, auto string) string {
	t.Helper()
	f := c.await(t, func(f map[string]any) bool {
		if f["type"] != "msg" {
			return false
		}
		m := f["msg"].(map[string]any)
		return m["from"] == parley.SystemUserID && m["body"].(map[string]any)["auto"] == auto
	})
	return f["msg"].(map[string]any)["body"].(map[string]any)["text"].(string)
}

func (c *cc) say(t *testing.T, user, text string) {
	t.Helper()
	c.ok(t, fmt.Sprintf(`{"type":"send","conv":%q,"body":{"text":%q}}`, parley.ConsultConvID("s1", user), text))
}

func wantThread(t *testing.T, got []string, want ...string) {
	t.Helper()
	if !slices.Equal(got, want) {
		t.Fatalf("thread\ngot  %q\nwant %q", got, want)
	}
}

// TestConsultGreeting: every assignment sends the shop's greeting into
// the thread, after the assigned event; the user and the new agent get
// it. A supervisor's manual assignment and a transfer are assignments
// too.
func TestConsultGreeting(t *testing.T) {
	n := startNode(t, "gws")
	agents := consultSetup(t, n, "least_loaded", []string{"u1", "u2"}, "a1", "a2")
	const hello = "Hello, how can I help?"
	// a3 (the supervisor, online) is the only one available: u1 goes to a3.
	u1, id1, f := consultNow(t, n, "u1", "hi")
	if consultOf(f)["agent"] != "a3" {
		t.Fatalf("got %v, want a3", f)
	}
	if got := u1.autoMsg(t, "greeting"); got != hello {
		t.Fatalf("greeting: got %q, want %q", got, hello)
	}
	if got := agents["a3"].autoMsg(t, "greeting"); got != hello {
		t.Fatalf("the agent's greeting: got %q", got)
	}
	agents["a1"].ok(t, `{"type":"consult_status","status":"online"}`)
	agents["a3"].ok(t, fmt.Sprintf(`{"type":"consult_transfer","consult":%q,"agent":"a1","note":"yours"}`, id1))
	if got := u1.autoMsg(t, "greeting"); got != hello {
		t.Fatalf("greeting after the transfer: got %q", got)
	}
	wantThread(t, thread(t, u1, "u1"), "sys:opened", "u1:hi", "sys:pending", "sys:assigned",
		"auto:greeting:"+hello, "sys:transferred", "auto:greeting:"+hello)
}

// TestConsultOffHours: a user's first message outside the shop's hours
// (in the shop's UTC offset, on the injected clock) gets the off-hours
// reply and still waits for an agent; later messages of the same
// consultation get none; a new consultation opened inside the hours
// gets none either.
func TestConsultOffHours(t *testing.T) {
	// Monday 2 March 2026, 12:00 UTC: 20:00 at UTC+8, after the shop's
	// 09:00-18:00.
	clock := consulttest.NewClock(time.Date(2026, 3, 2, 12, 0, 0, 0, time.UTC))
	n := startNode(t, "gws", func(c *server.Config) { c.ConsultClock = clock })
	agents := consultSetup(t, n, "least_loaded", []string{"u1"})
	var week []map[string]any
	for day := 1; day <= 5; day++ {
		week = append(week, map[string]any{"day": day, "from": "09:00", "to": "18:00"})
	}
	const closed, hello = "We are closed; we answer from 09:00.", "Hello!"
	putShop(t, n, map[string]any{"greeting": hello, "off_hours_reply": closed,
		"hours": map[string]any{"utc_offset_minutes": 480, "open": week}})
	u1, id1, _ := consultNow(t, n, "u1", "hello")
	if got := u1.autoMsg(t, "off_hours"); got != closed {
		t.Fatalf("off-hours reply: got %q, want %q", got, closed)
	}
	u1.autoMsg(t, "greeting") // assigned all the same
	u1.say(t, "u1", "are you there?")
	waitRecorded(t, n, 2)
	agents["a1"].ok(t, fmt.Sprintf(`{"type":"consult_resolve","consult":%q}`, id1))
	u1.consultPush(t, "resolved")
	// Tuesday 10:00 at UTC+8: open.
	clock.Advance(14 * time.Hour)
	u1.say(t, "u1", "me again")
	u1.autoMsg(t, "greeting")
	wantThread(t, thread(t, u1, "u1"),
		"sys:opened", "u1:hello", "sys:pending", "auto:off_hours:"+closed, "sys:assigned", "auto:greeting:"+hello,
		"u1:are you there?", "sys:resolved",
		"u1:me again", "sys:pending", "sys:assigned", "auto:greeting:"+hello)
}

// TestConsultFAQ: a user message holding a keyword of an FAQ entry
// (case-insensitively) gets that entry's answer, the first entry's when
// several match, while the consultation waits and while an agent serves
// it (who sees the answer too); a message without a keyword gets none.
func TestConsultFAQ(t *testing.T) {
	n := startNode(t, "gws")
	agents := consultSetup(t, n, "least_loaded", []string{"u1"}, "a1", "a2", "a3")
	const refund, shipping, hello = "Refunds take 3 days.", "Shipping is free.", "Hello!"
	putShop(t, n, map[string]any{"greeting": hello, "faq": []map[string]any{
		{"keywords": []string{"refund", "Money Back"}, "answer": refund},
		{"keywords": []string{"Shipping"}, "answer": shipping},
	}})
	u1, _, f := consultNow(t, n, "u1", "I want my MONEY BACK")
	if f["event"] != "waiting" {
		t.Fatalf("got %v, want it waiting (every agent is away)", f)
	}
	if got := u1.autoMsg(t, "faq"); got != refund {
		t.Fatalf("FAQ before assignment: got %q, want %q", got, refund)
	}
	u1.say(t, "u1", "thanks")
	u1.say(t, "u1", "and shipping? or a refund?")
	if got := u1.autoMsg(t, "faq"); got != refund {
		t.Fatalf("two entries match: got %q, want the first's %q", got, refund)
	}
	agents["a2"].ok(t, `{"type":"consult_status","status":"online"}`)
	u1.consultPush(t, "assigned")
	u1.autoMsg(t, "greeting")
	u1.say(t, "u1", "what does shipping cost?")
	if got := u1.autoMsg(t, "faq"); got != shipping {
		t.Fatalf("FAQ while served: got %q, want %q", got, shipping)
	}
	if got := agents["a2"].autoMsg(t, "faq"); got != shipping {
		t.Fatalf("the agent sees the FAQ answer: got %q, want %q", got, shipping)
	}
	wantThread(t, thread(t, u1, "u1"),
		"sys:opened", "u1:I want my MONEY BACK", "sys:pending", "auto:faq:"+refund,
		"u1:thanks", "u1:and shipping? or a refund?", "auto:faq:"+refund,
		"sys:assigned", "auto:greeting:"+hello,
		"u1:what does shipping cost?", "auto:faq:"+shipping)
}

// TestConsultCanned: agents and supervisors list their shop's canned
// replies; a user who is not an agent may not; a shop without any lists
// none.
func TestConsultCanned(t *testing.T) {
	n := startNode(t, "gws")
	agents := consultSetup(t, n, "least_loaded", []string{"u1"})
	canned := []map[string]any{{"id": "hi", "text": "Hi, I am on it."}, {"id": "bye", "text": "Anything else?"}}
	list := func(c *cc) string {
		t.Helper()
		d := c.ok(t, `{"type":"consult_canned"}`)
		var parts []string
		for _, r := range d["canned"].([]any) {
			r := r.(map[string]any)
			parts = append(parts, fmt.Sprintf("%v=%v", r["id"], r["text"]))
		}
		return strings.Join(parts, "|")
	}
	if got := list(agents["a1"]); got != "" {
		t.Fatalf("no canned replies yet: got %q", got)
	}
	putShop(t, n, map[string]any{"canned": canned})
	want := "hi=Hi, I am on it.|bye=Anything else?"
	for _, a := range []string{"a1", "a3"} {
		if got := list(agents[a]); got != want {
			t.Fatalf("%s: got %q, want %q", a, got, want)
		}
	}
	if _, code := consultLogin(t, n, "u1").req(t, `{"type":"consult_canned"}`); code != parley.EForbidden {
		t.Fatalf("a user lists canned replies: got %q, want forbidden", code)
	}
}

// graceTweak injects the consult clock and a short presence debounce
// (real time: how long social waits before telling that a user left).
func graceTweak(clock *consulttest.Clock) func(*server.Config) {
	return func(c *server.Config) {
		c.ConsultClock, c.ConsultGrace, c.PresenceDebounce = clock, 2*time.Minute, consultDebounce
	}
}

// TestConsultOfflineGrace: an agent whose devices have all been gone for
// the grace period (2 minutes of the injected clock, from the presence
// change) becomes offline and gets no new consultation; one whose device
// comes back within it stays online.
func TestConsultOfflineGrace(t *testing.T) {
	clock := consulttest.NewClock(time.Date(2026, 3, 2, 9, 0, 0, 0, time.UTC))
	n := startNode(t, "gws", graceTweak(clock))
	agents := consultSetup(t, n, "least_loaded", []string{"u1", "u2"})
	// a3 shares a direct conversation with a1 and a2, so it is told of
	// their presence, after consult has been (social calls the observer
	// first): the test's sign that the grace has started or ended.
	for _, a := range []string{"a1", "a2"} {
		if st := n.api(t, "POST", "/v1/server/messages", map[string]any{"from": a, "to": "a3", "body": map[string]string{"text": "hi"}}, nil); st != 200 {
			t.Fatalf("message: status %d", st)
		}
	}
	sup := agents["a3"]
	presence := func(user string, online bool) {
		t.Helper()
		sup.await(t, func(f map[string]any) bool {
			return f["type"] == "presence" && f["user"] == user && f["online"] == online
		})
	}
	status := func(agent string) string {
		t.Helper()
		var out struct{ Agents []parley.Agent }
		if st := n.api(t, "GET", "/v1/server/consult/agents?shop=s1", nil, &out); st != 200 {
			t.Fatalf("agents: status %d", st)
		}
		for _, a := range out.Agents {
			if a.ID == agent {
				return string(a.Status)
			}
		}
		t.Fatalf("no agent %s", agent)
		return ""
	}
	step := stepper(t, clock)

	// a1's only device goes.
	_ = agents["a1"].conn.NetConn().Close()
	presence("a1", false)
	step(2*time.Minute - time.Second)
	if st := status("a1"); st != "online" {
		t.Fatalf("a1 1 s before the grace ends: %s, want online", st)
	}
	step(time.Second)
	if st := status("a1"); st != "offline" {
		t.Fatalf("a1 after the grace: %s, want offline", st)
	}
	// least_loaded would pick a1 (lowest id, all at 0): a2 gets it.
	if _, _, f := consultNow(t, n, "u1", "hello"); consultOf(f)["agent"] != "a2" {
		t.Fatalf("u1: got %v, want a2 (a1 is offline)", f)
	}

	// a2's device goes and comes back within the grace.
	_ = agents["a2"].conn.NetConn().Close()
	presence("a2", false)
	step(time.Minute)
	consultLogin(t, n, "a2")
	presence("a2", true)
	step(2 * time.Minute)
	if st := status("a2"); st != "online" {
		t.Fatalf("a2 back within the grace: %s, want online", st)
	}
	// a2 still takes consultations: with a3 away, u2 goes to a2.
	sup.ok(t, `{"type":"consult_status","status":"away"}`)
	if _, _, f := consultNow(t, n, "u2", "hello"); consultOf(f)["agent"] != "a2" {
		t.Fatalf("u2: got %v, want a2", f)
	}
}

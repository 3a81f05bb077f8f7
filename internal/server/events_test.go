package server_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/parley-im/parley"
	"github.com/parley-im/parley/internal/events"
	"github.com/parley-im/parley/internal/server"
)

// startAt starts a node on data dir dir (so that a test can stop it and
// start another on the same data) and returns it with a function that
// stops it.
func startAt(t *testing.T, dir string) (*node, func()) {
	t.Helper()
	s, err := server.Start(context.Background(), server.Config{
		Addr: "127.0.0.1:0", DataDir: dir, Transport: "gws", Out: io.Discard,
		Logger:              slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn})),
		WebhookAllowPrivate: true, // the webhook receiver listens on loopback
	})
	if err != nil {
		t.Fatalf("start: %v", err)
	}
	var once sync.Once
	stop := func() {
		once.Do(func() {
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			defer cancel()
			if err := s.Close(ctx); err != nil {
				t.Errorf("close: %v", err)
			}
		})
	}
	t.Cleanup(stop)
	key, err := os.ReadFile(filepath.Join(dir, server.DemoKeyFile))
	if err != nil {
		t.Fatalf("demo key: %v", err)
	}
	return &node{Server: s, key: strings.TrimSpace(string(key)), data: dir}, stop
}

// eventLog reads the app's event log through the server API from offset
// 0 until it holds at least want events of the types in types (waiting
// for the relay), and returns all of it.
func (n *node) eventLog(t *testing.T, want int, types ...string) []events.Event {
	t.Helper()
	var all []events.Event
	deadline := time.Now().Add(10 * time.Second)
	for {
		var p events.Page
		after := uint64(0)
		if len(all) > 0 {
			after = all[len(all)-1].Offset
		}
		if st := n.api(t, "GET", fmt.Sprintf("/v1/server/events?after=%d&limit=1000&wait=1", after), nil, &p); st != 200 {
			t.Fatalf("GET /v1/server/events: status %d", st)
		}
		all = append(all, p.Events...)
		if len(ofTypes(all, types...)) >= want || time.Now().After(deadline) {
			return all
		}
	}
}

func ofTypes(evs []events.Event, types ...string) []events.Event {
	var out []events.Event
	for _, e := range evs {
		if slices.Contains(types, e.Type) {
			out = append(out, e)
		}
	}
	return out
}

// describe renders message and read events as "msg <conv> <seq> <kind>"
// and "read <conv> <user> <seq>".
func describe(t *testing.T, evs []events.Event) []string {
	t.Helper()
	var out []string
	for _, e := range evs {
		switch e.Type {
		case events.TypeMessage:
			var m parley.Message
			if err := json.Unmarshal(e.Data, &m); err != nil || e.ID != events.MessageEventID(m.ID) {
				t.Fatalf("message event %+v: id not from the message (%v)", e, err)
			}
			out = append(out, fmt.Sprintf("msg %s %d %s", m.ConvID, m.Seq, m.Kind))
		case events.TypeRead:
			var r events.ReadData
			if err := json.Unmarshal(e.Data, &r); err != nil || e.ID != events.ReadEventID(e.App, r.Conv, r.User, r.Seq) {
				t.Fatalf("read event %+v: id not from the read (%v)", e, err)
			}
			out = append(out, fmt.Sprintf("read %s %s %d", r.Conv, r.User, r.Seq))
		}
	}
	return out
}

func eventIDs(evs []events.Event) []string {
	ids := make([]string, len(evs))
	for i, e := range evs {
		ids[i] = e.ID
	}
	return ids
}

// TestEventStreamEndToEnd: messages, a retried send, a read, a recall and
// group changes made through real clients and the server API come back
// from GET /v1/server/events in commit order with ids derived from what
// happened, a presence change among them; a waiting read is woken by the
// next message; a webhook receives the events signed; and after a restart
// on the same data dir a replay from 0 gives the same ids, each once.
func TestEventStreamEndToEnd(t *testing.T) {
	dir := t.TempDir()
	n, stop := startAt(t, dir)
	n.users(t, "alice", "bob", "carol")
	dm, team := parley.DirectConvID("alice", "bob"), parley.GroupConvID("team")

	alice := login(t, n, "alice")
	var msgIDs []string
	for i, cmid := range []string{"a1", "a2", "a2"} { // the last is a retry
		d := alice.request(t, fmt.Sprintf(`{"type":"send","id":"s%d","to":"bob","cmid":%q,"body":{"text":"hi %d"}}`, i, cmid, i))
		if id := d["msg"].(map[string]any)["id"].(string); !slices.Contains(msgIDs, id) {
			msgIDs = append(msgIDs, id)
		}
	}
	bob := login(t, n, "bob")
	bob.request(t, `{"type":"read","id":"r","conv":"`+dm+`","seq":2}`)
	alice.request(t, `{"type":"send","id":"rc","conv":"`+dm+`","kind":"recall","body":{"seq":1}}`)
	if st := n.api(t, "POST", "/v1/server/groups", map[string]any{"id": "team", "owner": "bob", "name": "Team", "members": []string{"alice"}}, nil); st != 200 {
		t.Fatalf("create group: status %d", st)
	}
	if st := n.api(t, "POST", "/v1/server/groups/team/members", map[string]any{"users": []string{"carol"}}, nil); st != 200 {
		t.Fatalf("add to group: status %d", st)
	}
	want := []string{
		"msg " + dm + " 1 text", "msg " + dm + " 2 text", "read " + dm + " bob 2", "msg " + dm + " 3 recall",
		"msg " + team + " 1 system", "msg " + team + " 2 system",
	}
	all := n.eventLog(t, len(want), events.TypeMessage, events.TypeRead)
	described := describe(t, all)
	// A message event shows the message as stored when it was published
	// (protocol §18.1): when the relay ran after the recall, seq 1 shows
	// as recalled.
	if len(described) > 0 && described[0] == "msg "+dm+" 1 recalled" {
		described[0] = want[0]
	}
	if !slices.Equal(described, want) {
		t.Fatalf("events:\n got %q\nwant %q", described, want)
	}
	for i, e := range all {
		if e.Offset != uint64(i+1) || e.App != "demo" {
			t.Fatalf("event %d: offset %d app %q, want offset %d of demo", i, e.Offset, e.App, i+1)
		}
	}
	if got := eventIDs(ofTypes(all, events.TypeMessage))[:2]; !slices.Equal(got, []string{events.MessageEventID(msgIDs[0]), events.MessageEventID(msgIDs[1])}) {
		t.Fatalf("message event ids %q, want m- and the ids the sends answered %q", got, msgIDs)
	}
	presence := n.eventLog(t, 1, events.TypePresence)
	if got := string(ofTypes(presence, events.TypePresence)[0].Data); !strings.Contains(got, `"user":"alice","online":true`) {
		t.Fatalf("first presence event: %s, want alice online", got)
	}

	// A waiting read wakes on the next commit.
	last := all[len(all)-1].Offset
	if got := n.eventLog(t, 0); len(got) > 0 {
		last = got[len(got)-1].Offset
	}
	woke := make(chan events.Page, 1)
	go func() {
		var p events.Page
		n.api(t, "GET", fmt.Sprintf("/v1/server/events?after=%d&wait=20", last), nil, &p)
		woke <- p
	}()
	time.Sleep(100 * time.Millisecond)
	alice.request(t, `{"type":"send","id":"late","to":"bob","body":{"text":"late"}}`)
	select {
	case p := <-woke:
		if got := describe(t, p.Events); !slices.Equal(got, []string{"msg " + dm + " 4 text"}) {
			t.Fatalf("the waiting read: got %q", got)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("a waiting read did not wake")
	}

	// Webhook configuration and one delivery.
	got := make(chan events.WebhookBody, 10)
	secret := "0123456789abcdef0123456789abcdef"
	hook := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		if err := events.VerifySignature(secret, r.Header.Get(events.SignatureHeader), body, time.Now(), time.Minute); err != nil {
			w.WriteHeader(http.StatusUnauthorized)
			return
		}
		var b events.WebhookBody
		_ = json.Unmarshal(body, &b)
		got <- b
	}))
	defer hook.Close()
	for _, bad := range []struct {
		body   map[string]any
		status int
	}{
		{map[string]any{"url": "ftp://x/", "secret": secret}, 400},
		{map[string]any{"url": hook.URL, "secret": "short"}, 400},
		{map[string]any{"url": hook.URL, "secret": strings.Repeat("s", 257)}, 413},
		{map[string]any{"url": hook.URL, "secret": secret, "extra": 1}, 400},
	} {
		if st := n.api(t, "PUT", "/v1/server/webhook", bad.body, nil); st != bad.status {
			t.Errorf("PUT webhook %v: status %d, want %d", bad.body, st, bad.status)
		}
	}
	var h map[string]any
	if st := n.api(t, "PUT", "/v1/server/webhook", map[string]any{"url": hook.URL, "secret": secret}, &h); st != 200 || h["secret"] != nil {
		t.Fatalf("PUT webhook: status %d, %v (no secret may come back)", st, h)
	}
	alice.request(t, `{"type":"send","id":"hooked","to":"bob","body":{"text":"to the hook"}}`)
	select {
	case b := <-got:
		if d := describe(t, b.Events); b.App != "demo" || !slices.Equal(d, []string{"msg " + dm + " 5 text"}) {
			t.Fatalf("webhook body: app %q, events %q; want only the message sent after it was set", b.App, d)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("the webhook got nothing")
	}
	if st := n.api(t, "GET", "/v1/server/webhook", nil, &h); st != 200 || h["url"] != hook.URL {
		t.Fatalf("GET webhook: %d %v", st, h)
	}
	if st := n.api(t, "DELETE", "/v1/server/webhook", nil, nil); st != 204 {
		t.Fatalf("DELETE webhook: %d", st)
	}
	if st := n.api(t, "GET", "/v1/server/webhook", nil, nil); st != 404 {
		t.Fatalf("GET webhook after delete: %d, want 404", st)
	}
	for _, q := range []string{"after=-1", "limit=0", "limit=1001", "wait=31", "after=x"} {
		if st := n.api(t, "GET", "/v1/server/events?"+q, nil, nil); st != 400 {
			t.Errorf("GET events?%s: status %d, want 400", q, st)
		}
	}

	// Restart on the same data: the same log, each id once; and it goes on.
	before := n.eventLog(t, 8, events.TypeMessage, events.TypeRead)
	stop()
	n2, _ := startAt(t, dir)
	after := n2.eventLog(t, 8, events.TypeMessage, events.TypeRead)
	beforeIDs := eventIDs(ofTypes(before, events.TypeMessage, events.TypeRead))
	afterIDs := eventIDs(ofTypes(after, events.TypeMessage, events.TypeRead))
	if !slices.Equal(afterIDs, beforeIDs) {
		t.Fatalf("replay after a restart:\n got %q\nwant %q", afterIDs, beforeIDs)
	}
	seen := map[string]bool{}
	for _, e := range after {
		if seen[e.ID] {
			t.Fatalf("event %s twice in the log", e.ID)
		}
		seen[e.ID] = true
	}
	if st := n2.api(t, "POST", "/v1/server/messages", map[string]any{"from": "bob", "to": "alice", "body": map[string]string{"text": "after"}}, nil); st != 200 {
		t.Fatalf("send after restart: %d", st)
	}
	more := n2.eventLog(t, 9, events.TypeMessage, events.TypeRead)
	if d := describe(t, ofTypes(more, events.TypeMessage)); d[len(d)-1] != "msg "+dm+" 6 text" {
		t.Fatalf("after the restart, the last message event: %q", d[len(d)-1])
	}
}

// FuzzEventsAPI sends arbitrary webhook bodies and event-read parameters
// to a real node: no input may get a 5xx answer or take the node down,
// and a webhook is stored only from a valid body.
func FuzzEventsAPI(f *testing.F) {
	for _, s := range []struct{ body, after, limit string }{
		{`{"url":"https://example.com/h","secret":"0123456789abcdef"}`, "0", "10"},
		{`{"url":"http://127.0.0.1:9/","secret":"0123456789abcdef","after":0}`, "", ""},
		{`{"url":"https://example.com/h","secret":"0123456789abcdef","after":99}`, "99", "1001"},
		{`{"url":"javascript:alert(1)","secret":"x"}`, "-1", "0"},
		{`{"url":"` + strings.Repeat("a", 3000) + `"}`, "18446744073709551616", "1e3"},
		{``, "x", " 1"}, {`{}`, "00", "+5"}, {`null`, "0x10", "1000"}, {"{\"url\":\"\xff\"}", "%00", ""},
	} {
		f.Add(s.body, s.after, s.limit)
	}
	n := startNode(f, "gws")
	f.Fuzz(func(t *testing.T, body, after, limit string) {
		req, _ := http.NewRequest("PUT", n.URL()+"/v1/server/webhook", strings.NewReader(body))
		req.Header.Set("Authorization", "Bearer "+n.key)
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		_, _ = io.Copy(io.Discard, res.Body)
		res.Body.Close()
		if res.StatusCode >= 500 {
			t.Fatalf("PUT webhook %q: status %d", body, res.StatusCode)
		}
		if res.StatusCode == 200 {
			var req struct{ URL, Secret string }
			_ = json.Unmarshal([]byte(body), &req)
			if w := (events.Webhook{URL: req.URL, Secret: req.Secret}); w.Validate() != nil {
				t.Fatalf("PUT webhook %q stored an invalid webhook", body)
			}
		}
		q := "/v1/server/events?after=" + url.QueryEscape(after) + "&limit=" + url.QueryEscape(limit)
		if st := n.api(t, "GET", q, nil, nil); st >= 500 {
			t.Fatalf("GET %s: status %d", q, st)
		}
	})
}

// TestWebhookPrivateRefusedByDefault: a node not started with
// --webhook-allow-private refuses a webhook on a loopback or link-local
// address, with the way out in the message.
func TestWebhookPrivateRefusedByDefault(t *testing.T) {
	n := startNode(t, "gws", func(c *server.Config) { c.WebhookAllowPrivate = false })
	for _, u := range []string{"http://127.0.0.1:9/hook", "http://169.254.169.254/latest", "http://localhost:8080/"} {
		var res map[string]map[string]string
		if st := n.api(t, "PUT", "/v1/server/webhook", map[string]any{"url": u, "secret": "0123456789abcdef0123"}, &res); st != 400 ||
			res["error"]["code"] != "invalid" || !strings.Contains(res["error"]["message"], "--webhook-allow-private") {
			t.Errorf("PUT webhook %s: status %d, %v; want 400 invalid naming --webhook-allow-private", u, st, res)
		}
	}
}

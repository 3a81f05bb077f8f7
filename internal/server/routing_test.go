package server_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/parley-im/parley"
	"github.com/parley-im/parley/internal/events"
	"github.com/parley-im/parley/internal/redisreg"
	"github.com/parley-im/parley/internal/server"
	"github.com/parley-im/parley/internal/testservers"
)

// TestTwoNodesOverRedisAndNATS: two nodes on one database (a SQLite file
// both open, or PostgreSQL), their connection table in real Redis and
// their deliveries over NATS (one server, reached over TCP). alice on a
// and bob on b chat both ways, one to one and in a group; the table holds
// each connection on its node; once a node closes, its rows are gone for
// everyone.
func TestTwoNodesOverRedisAndNATS(t *testing.T) {
	t.Run("sqlite", func(t *testing.T) { testTwoNodes(t, "") })
	t.Run("postgres", func(t *testing.T) { testTwoNodes(t, testservers.Postgres(t)) })
}

func testTwoNodes(t *testing.T, pg string) {
	rdb := testservers.Redis(t)
	prefix := testservers.RedisPrefix(t, rdb)
	redisURL := "redis://" + rdb.Options().Addr
	nats := testservers.StartNATS(t)
	a := startNode(t, "gws", func(c *server.Config) {
		c.Node, c.Redis, c.RedisPrefix, c.NATS, c.Postgres = "a", redisURL, prefix, nats.URL(), pg
	})
	b := startNode(t, "gws", func(c *server.Config) {
		c.Node, c.Redis, c.RedisPrefix, c.NATS, c.DataDir, c.Postgres = "b", redisURL, prefix, nats.URL(), a.data, pg
	})
	a.users(t, "alice", "bob")
	alice, bob := dialWS(t, a), dialWS(t, b)
	alice.auth(t, a.token(t, "alice"), "phone")
	bob.auth(t, a.token(t, "bob"), "laptop")

	reg := redisreg.New(rdb, redisreg.Options{Prefix: prefix})
	conns, err := reg.Locate(context.Background(), "demo", []string{"alice", "bob"})
	if err != nil {
		t.Fatal(err)
	}
	var where []string
	for _, c := range conns {
		where = append(where, c.UserID+"@"+c.Node+"/"+c.Device)
	}
	slices.Sort(where)
	if want := []string{"alice@a/phone", "bob@b/laptop"}; !slices.Equal(where, want) {
		t.Fatalf("connection table in Redis: got %v, want %v", where, want)
	}

	// GET /v1/gateway on either node knows both (round-robin).
	seen := map[string]string{}
	for deadline := time.Now().Add(5 * time.Second); len(seen) < 2 && time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
		var got struct{ Node, URL string }
		if st := b.api(t, "GET", "/v1/gateway", nil, &got); st != 200 {
			t.Fatalf("GET /v1/gateway: status %d", st)
		}
		seen[got.Node] = got.URL
	}
	if seen["a"] != a.URL() || seen["b"] != b.URL() {
		t.Fatalf("GET /v1/gateway named %v, want a at %s and b at %s", seen, a.URL(), b.URL())
	}

	alice.request(t, `{"type":"send","id":"1","to":"bob","cmid":"x1","body":{"text":"from a"}}`)
	if f := bob.until(t, "msg"); f["msg"].(map[string]any)["body"].(map[string]any)["text"] != "from a" {
		t.Fatalf("bob on node b: got %v", f)
	}
	bob.request(t, `{"type":"send","id":"2","to":"alice","cmid":"y1","body":{"text":"from b"}}`)
	if f := alice.until(t, "msg"); f["msg"].(map[string]any)["body"].(map[string]any)["text"] != "from b" {
		t.Fatalf("alice on node a: got %v", f)
	}

	if st := a.api(t, "POST", "/v1/server/groups", map[string]any{"id": "ab", "owner": "alice", "name": "AB", "members": []string{"bob"}}, nil); st != 200 {
		t.Fatalf("create group: status %d", st)
	}
	for _, c := range []*wsClient{alice, bob} {
		c.until(t, "msg") // the group's creation
	}
	bob.request(t, `{"type":"send","id":"3","conv":"g:ab","cmid":"y2","body":{"text":"to the group"}}`)
	if f := alice.until(t, "msg"); f["msg"].(map[string]any)["conv"] != "g:ab" || f["msg"].(map[string]any)["seq"] != float64(2) {
		t.Fatalf("alice on node a, the group message from b: got %v", f)
	}

	// Membership changed on node b reaches node a's view of the group:
	// alice's message makes a load it; b adds carol and removes bob; then
	// bob, on a, is refused and carol, on a, may send.
	alice.request(t, `{"type":"send","id":"4","conv":"g:ab","cmid":"x2","body":{"text":"a loads the group"}}`)
	b.key = a.key
	a.users(t, "carol")
	if st := b.api(t, "POST", "/v1/server/groups/ab/members", map[string]any{"users": []string{"carol"}}, nil); st != 200 {
		t.Fatalf("add carol on b: status %d", st)
	}
	if st := b.api(t, "DELETE", "/v1/server/groups/ab/members/bob", nil, nil); st != 200 {
		t.Fatalf("remove bob on b: status %d", st)
	}
	bobOnA, carol := dialWS(t, a), dialWS(t, a)
	bobOnA.auth(t, a.token(t, "bob"), "tablet")
	carol.auth(t, a.token(t, "carol"), "c1")
	if data := carol.request(t, `{"type":"send","id":"5","conv":"g:ab","cmid":"z1","body":{"text":"carol on a"}}`); data["msg"] == nil {
		t.Fatalf("carol's send on a: %v", data)
	}
	// The change reaches a within a bus hop (the documented window), long
	// before this; without it a would accept bob for as long as it keeps
	// its view.
	if _, code := bobOnA.answer(t, `{"type":"send","id":"6","conv":"g:ab","body":{"text":"bob after his removal"}}`); code != parley.EForbidden {
		t.Errorf("bob's send on a after his removal on b: got %q, want forbidden", code)
	}

	// The event stream (JetStream with NATS) has every message once,
	// read from either node.
	var msgEvents []string
	for deadline := time.Now().Add(10 * time.Second); len(msgEvents) < 8 && time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
		var page events.Page
		if st := b.api(t, "GET", "/v1/server/events?after=0&limit=100", nil, &page); st != 200 {
			t.Fatalf("GET events: status %d", st)
		}
		msgEvents = msgEvents[:0]
		for _, e := range page.Events {
			if e.Type == events.TypeMessage {
				msgEvents = append(msgEvents, e.ID)
			}
		}
	}
	if len(msgEvents) != 8 || len(slices.Compact(slices.Sorted(slices.Values(msgEvents)))) != 8 {
		t.Fatalf("message events: got %q, want 8 distinct (2 direct; the group's creation, 3 messages, 1 join, 1 removal)", msgEvents)
	}

	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := b.Close(ctx); err != nil {
		t.Fatal(err)
	}
	conns, err = reg.Locate(ctx, "demo", []string{"alice", "bob"})
	where = where[:0]
	for _, c := range conns {
		where = append(where, c.UserID+"@"+c.Node+"/"+c.Device)
	}
	slices.Sort(where)
	if want := []string{"alice@a/phone", "bob@a/tablet"}; err != nil || !slices.Equal(where, want) {
		t.Fatalf("after node b closed: got %v, %v; want %v (nothing on b)", where, err, want)
	}
}

// TestRolesSplitAcrossNodes: a logic node (no client connections) and a
// gateway node (no server API, no committer of its own sends) over
// PostgreSQL, Redis and NATS: alice's send on the gateway is committed by
// the logic node, answered to alice and pushed to bob, in order; each node
// serves only its role's routes.
func TestRolesSplitAcrossNodes(t *testing.T) {
	rdb := testservers.Redis(t)
	prefix := testservers.RedisPrefix(t, rdb)
	redisURL := "redis://" + rdb.Options().Addr
	nats := testservers.StartNATS(t)
	pg := testservers.Postgres(t)
	lg := startNode(t, "gws", func(c *server.Config) {
		c.Node, c.Roles, c.Redis, c.RedisPrefix, c.NATS, c.Postgres = "lg", "logic,worker", redisURL, prefix, nats.URL(), pg
	})
	gw := startNode(t, "gws", func(c *server.Config) {
		c.Node, c.Roles, c.Redis, c.RedisPrefix, c.NATS, c.Postgres, c.DataDir = "gw", "gateway", redisURL, prefix, nats.URL(), pg, lg.data
	})
	lg.users(t, "alice", "bob")
	gw.key = lg.key
	if st := gw.api(t, "POST", "/v1/server/users", map[string]any{"users": []map[string]string{{"id": "x"}}}, nil); st != 404 {
		t.Errorf("server API on the gateway-only node: status %d, want 404", st)
	}
	if resp, err := http.Get(lg.URL() + "/v1/lp/poll?sid=x"); err != nil || resp.StatusCode != 404 {
		t.Errorf("long-poll on the logic-only node: %v %v, want 404", resp, err)
	} else {
		resp.Body.Close()
	}
	alice, bob := dialWS(t, gw), dialWS(t, gw)
	alice.auth(t, lg.token(t, "alice"), "phone")
	bob.auth(t, lg.token(t, "bob"), "laptop")
	for i := 1; i <= 20; i++ {
		alice.send(t, fmt.Sprintf(`{"type":"send","id":"%d","to":"bob","cmid":"m%d","body":{"text":"%d"}}`, i, i, i))
	}
	for i := 1; i <= 20; i++ {
		f := alice.until(t, "res")
		if f["id"] != fmt.Sprint(i) || f["data"].(map[string]any)["msg"].(map[string]any)["seq"] != float64(i) {
			t.Fatalf("alice's answer %d: got %v, want seq %d", i, f, i)
		}
		m := bob.until(t, "msg")["msg"].(map[string]any)
		if m["seq"] != float64(i) {
			t.Fatalf("bob's push %d: got %v", i, m)
		}
	}
}

// TestWebhooksDeliveredByOneWorker: two worker nodes on one PostgreSQL
// database and Redis: a webhook receives each event once (one node
// delivers), and when that node stops, the other goes on from its cursor.
func TestWebhooksDeliveredByOneWorker(t *testing.T) {
	rdb := testservers.Redis(t)
	prefix := testservers.RedisPrefix(t, rdb)
	redisURL := "redis://" + rdb.Options().Addr
	pg := testservers.Postgres(t)
	var mu sync.Mutex
	var ids []string
	hook := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var b events.WebhookBody
		if err := json.NewDecoder(r.Body).Decode(&b); err != nil {
			w.WriteHeader(400)
			return
		}
		mu.Lock()
		for _, e := range b.Events {
			ids = append(ids, e.ID)
		}
		mu.Unlock()
	}))
	defer hook.Close()
	a := startNode(t, "gws", func(c *server.Config) {
		c.Node, c.Redis, c.RedisPrefix, c.Postgres = "a", redisURL, prefix, pg
	})
	b := startNode(t, "gws", func(c *server.Config) {
		c.Node, c.Redis, c.RedisPrefix, c.Postgres, c.DataDir = "b", redisURL, prefix, pg, a.data
	})
	a.users(t, "alice", "bob")
	if st := a.api(t, "PUT", "/v1/server/webhook", map[string]any{"url": hook.URL, "secret": "0123456789abcdef0123"}, nil); st != 200 {
		t.Fatalf("PUT webhook: status %d", st)
	}
	send := func(n *node, text string) {
		t.Helper()
		if st := n.api(t, "POST", "/v1/server/messages", map[string]any{"from": "alice", "to": "bob", "body": map[string]string{"text": text}}, nil); st != 200 {
			t.Fatalf("send: status %d", st)
		}
	}
	delivered := func(want int) []string {
		t.Helper()
		for deadline := time.Now().Add(20 * time.Second); time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
			mu.Lock()
			n := len(ids)
			mu.Unlock()
			if n >= want {
				break
			}
		}
		time.Sleep(300 * time.Millisecond) // a second deliverer would have posted by now
		mu.Lock()
		defer mu.Unlock()
		return slices.Clone(ids)
	}
	for i := range 5 {
		send(a, fmt.Sprint("a", i))
		send(b, fmt.Sprint("b", i))
	}
	got := delivered(10)
	if len(got) != 10 || len(slices.Compact(slices.Sorted(slices.Values(got)))) != 10 {
		t.Fatalf("webhook got %d events (%q), want 10 distinct, each once", len(got), got)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := a.Close(ctx); err != nil {
		t.Fatal(err)
	}
	send(b, "after")
	if got := delivered(11); len(got) != 11 {
		t.Fatalf("after node a stopped: webhook got %d events, want 11", len(got))
	}
}

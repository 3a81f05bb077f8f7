package server_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"testing"
	"time"

	"github.com/parley-im/parley/internal/server"
	"github.com/parley-im/parley/wire"
)

// fast shortens retransmission for tests.
func fast(c *server.Config) {
	c.RetryInterval = 300 * time.Millisecond
	c.MaxRetries = 2
}

// impatient shortens the auth and idle timeouts for tests.
func impatient(c *server.Config) {
	c.Heartbeat = time.Second
	c.AuthTimeout = 1500 * time.Millisecond
	c.IdleTimeout = 2500 * time.Millisecond
}

func msgSeq(f map[string]any) uint64 {
	m, _ := f["msg"].(map[string]any)
	s, _ := m["seq"].(float64)
	return uint64(s)
}

func TestUnackedPushIsRetriedThenResync(t *testing.T) {
	transports(t, func(t *testing.T, tr string) {
		n := startNode(t, tr, fast)
		n.users(t, "alice", "bob")
		bob := dialWS(t, n)
		bob.auth(t, n.token(t, "bob"), "b1")
		n.api(t, "POST", "/v1/server/messages", map[string]any{"from": "alice", "to": "bob", "body": map[string]string{"text": "hi"}}, nil)
		first := bob.until(t, "msg")
		// Not acked: the same push (same n) comes again MaxRetries times,
		// then a resync.
		for i := 0; i < 2; i++ {
			again := bob.until(t, "msg")
			if again["n"] != first["n"] || msgSeq(again) != msgSeq(first) {
				t.Fatalf("retry %d: got %v, want the same push as %v", i, again, first)
			}
		}
		bob.until(t, "resync")

		// An acked push is not sent again.
		n.api(t, "POST", "/v1/server/messages", map[string]any{"from": "alice", "to": "bob", "body": map[string]string{"text": "2"}}, nil)
		p := bob.until(t, "msg")
		bob.send(t, fmt.Sprintf(`{"type":"ack","n":[%v]}`, p["n"]))
		bob.send(t, `{"type":"ping"}`)
		select {
		case f := <-bob.frames:
			if f["type"] == "msg" {
				t.Fatalf("acked push sent again: %v", f)
			}
		case <-time.After(time.Second):
		}
		n.waitMetrics(t, nil, map[string]float64{"parley_pushes_written_total": 2, "parley_retransmits_total": 2})
	})
}

func TestAuthAndIdleTimeouts(t *testing.T) {
	transports(t, func(t *testing.T, tr string) {
		n := startNode(t, tr, impatient)
		n.users(t, "alice")
		silent := dialWS(t, n)
		if ce := silent.waitClose(t); ce.Code != wire.CloseAuthTimeout {
			t.Fatalf("no auth: got close %d, want %d", ce.Code, wire.CloseAuthTimeout)
		}
		idle := dialWS(t, n)
		idle.auth(t, n.token(t, "alice"), "d1")
		if ce := idle.waitClose(t); ce.Code != wire.CloseIdle {
			t.Fatalf("idle: got close %d, want %d", ce.Code, wire.CloseIdle)
		}
	})
}

func TestSameDeviceReplacesOldConnection(t *testing.T) {
	n := startNode(t, "gws")
	n.users(t, "alice")
	tok := n.token(t, "alice")
	old := dialWS(t, n)
	old.auth(t, tok, "phone")
	newer := dialWS(t, n)
	if f := newer.auth(t, tok, "phone"); f["type"] != "res" {
		t.Fatalf("auth: %v", f)
	}
	if ce := old.waitClose(t); ce.Code != wire.CloseReplaced {
		t.Fatalf("got close %d, want %d", ce.Code, wire.CloseReplaced)
	}
}

func TestConversationListUnreadAndReadReceipts(t *testing.T) {
	n := startNode(t, "gws")
	n.users(t, "alice", "bob", "carol")
	alice := dialWS(t, n)
	alice.auth(t, n.token(t, "alice"), "a1")
	bob1 := dialWS(t, n)
	bob1.auth(t, n.token(t, "bob"), "b1")
	bob2 := dialWS(t, n)
	bob2.auth(t, n.token(t, "bob"), "b2")
	for i := 0; i < 3; i++ {
		alice.send(t, fmt.Sprintf(`{"type":"send","id":"s%d","to":"bob","body":{"text":"m%d"}}`, i, i))
		alice.until(t, "res")
	}
	n.api(t, "POST", "/v1/server/messages", map[string]any{"from": "carol", "to": "bob", "body": map[string]string{"text": "c"}}, nil)

	bob1.send(t, `{"type":"convs","id":"c"}`)
	res := bob1.until(t, "res")
	convs := res["data"].(map[string]any)["convs"].([]any)
	if len(convs) != 2 {
		t.Fatalf("got %d conversations, want 2: %v", len(convs), convs)
	}
	unread := map[string]float64{}
	for _, c := range convs {
		c := c.(map[string]any)
		unread[c["conv"].(string)] = c["unread"].(float64)
		if c["last"] == nil {
			t.Errorf("conversation %v has no last message", c["conv"])
		}
	}
	if unread["d:alice:bob"] != 3 || unread["d:bob:carol"] != 1 {
		t.Fatalf("got unread %v, want 3 and 1", unread)
	}
	// bob reads on one device: his other device and alice (receipt) learn it.
	bob1.send(t, `{"type":"read","id":"r","conv":"d:alice:bob","seq":3}`)
	if f := bob1.until(t, "res"); f["data"].(map[string]any)["unread"].(float64) != 0 {
		t.Fatalf("read answer: %v", f)
	}
	for name, c := range map[string]*wsClient{"bob's other device": bob2, "alice": alice} {
		f := c.until(t, "read")
		if f["user"] != "bob" || f["seq"].(float64) != 3 || f["conv"] != "d:alice:bob" {
			t.Fatalf("%s: got %v, want bob read d:alice:bob to 3", name, f)
		}
	}
	// The cursor never moves back.
	bob2.send(t, `{"type":"read","id":"r2","conv":"d:alice:bob","seq":1}`)
	if f := bob2.until(t, "res"); f["data"].(map[string]any)["read_seq"].(float64) != 3 {
		t.Fatalf("read back: %v", f)
	}
}

func TestBroadcastToAllStoresForOfflineUsers(t *testing.T) {
	n := startNode(t, "gws")
	var ids []string
	for i := 0; i < 2500; i += 500 {
		var users []map[string]string
		for j := i; j < i+500; j++ {
			id := fmt.Sprintf("u%04d", j)
			ids = append(ids, id)
			users = append(users, map[string]string{"id": id})
		}
		n.api(t, "POST", "/v1/server/users", map[string]any{"users": users}, nil)
	}
	online := dialWS(t, n)
	online.auth(t, n.token(t, "u0001"), "d")
	var out struct{ Stored int }
	if st := n.api(t, "POST", "/v1/server/broadcast", map[string]any{"all": true, "body": map[string]string{"notice": "sale"}}, &out); st != 200 || out.Stored != len(ids) {
		t.Fatalf("broadcast: status %d stored %d, want 200 and %d", st, out.Stored, len(ids))
	}
	if f := online.until(t, "msg"); f["msg"].(map[string]any)["from"] != "_system" {
		t.Fatalf("online user got %v", f)
	}
	// An offline user finds it in their system conversation.
	var h struct{ Msgs []map[string]any }
	n.api(t, "GET", "/v1/server/conversations/d:_system:u2499/messages", nil, &h)
	if len(h.Msgs) != 1 || h.Msgs[0]["kind"] != "system" {
		t.Fatalf("offline user's history: %v", h.Msgs)
	}
	// A listed broadcast skips unknown users.
	if n.api(t, "POST", "/v1/server/broadcast", map[string]any{"users": []string{"u0001", "ghost", "u0001"}, "kind": "custom", "body": map[string]int{"x": 1}}, &out); out.Stored != 1 {
		t.Fatalf("listed broadcast stored %d, want 1", out.Stored)
	}
	// One to a user who has a conversation with the system, one who has
	// none yet, and one who does not exist: each user that exists gets it
	// once.
	n.api(t, "POST", "/v1/server/users", map[string]any{"users": []map[string]string{{"id": "fresh"}}}, nil)
	if n.api(t, "POST", "/v1/server/broadcast", map[string]any{"users": []string{"fresh", "u0002", "ghost", "fresh"}, "body": map[string]int{"y": 2}}, &out); out.Stored != 2 {
		t.Fatalf("listed broadcast stored %d, want 2", out.Stored)
	}
	for user, want := range map[string]int{"fresh": 1, "u0002": 2} {
		n.api(t, "GET", "/v1/server/conversations/d:_system:"+user+"/messages", nil, &h)
		if len(h.Msgs) != want {
			t.Fatalf("%s's system conversation holds %d messages, want %d: %v", user, len(h.Msgs), want, h.Msgs)
		}
	}
	n.waitMetrics(t, nil, map[string]float64{
		"parley_broadcast_messages_total": float64(len(ids)) + 3,
		"parley_messages_stored_total":    0, // broadcasts are counted apart
	})
}

// lp is a raw long-poll client.
type lp struct {
	base, sid string
	after     uint64
}

func lpConnect(t *testing.T, n *node, token, device string) *lp {
	t.Helper()
	res, err := http.Post(n.URL()+"/v1/lp/connect", "application/json",
		bytes.NewReader([]byte(fmt.Sprintf(`{"token":%q,"device":%q,"platform":"h5"}`, token, device))))
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	var out struct{ SID string }
	_ = json.NewDecoder(res.Body).Decode(&out)
	if res.StatusCode != 200 || out.SID == "" {
		t.Fatalf("connect: status %d", res.StatusCode)
	}
	return &lp{base: n.URL(), sid: out.SID}
}

func (c *lp) poll(t *testing.T, wait int) (int, []map[string]any) {
	t.Helper()
	res, err := http.Get(fmt.Sprintf("%s/v1/lp/poll?sid=%s&after=%d&wait=%d", c.base, url.QueryEscape(c.sid), c.after, wait))
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	var out struct {
		Frames []map[string]any
		Next   uint64
	}
	_ = json.NewDecoder(res.Body).Decode(&out)
	if res.StatusCode == 200 {
		c.after = out.Next
	}
	return res.StatusCode, out.Frames
}

func (c *lp) send(t *testing.T, frame string) (int, map[string]any) {
	t.Helper()
	res, err := http.Post(c.base+"/v1/lp/send?sid="+url.QueryEscape(c.sid), "application/json", bytes.NewReader([]byte(frame)))
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	var f map[string]any
	_ = json.Unmarshal(b, &f)
	return res.StatusCode, f
}

func TestLongPoll(t *testing.T) {
	n := startNode(t, "gws", fast, impatient)
	n.users(t, "alice", "bob")
	c := lpConnect(t, n, n.token(t, "bob"), "web1")

	// A poll with nothing to deliver is held, then answered empty.
	start := time.Now()
	if st, frames := c.poll(t, 1); st != 200 || len(frames) != 0 || time.Since(start) < 900*time.Millisecond {
		t.Fatalf("empty poll: status %d frames %v after %v", st, frames, time.Since(start))
	}
	// A held poll is answered as soon as a message arrives.
	got := make(chan []map[string]any, 1)
	go func() {
		_, frames := c.poll(t, 20)
		got <- frames
	}()
	time.Sleep(200 * time.Millisecond)
	n.api(t, "POST", "/v1/server/messages", map[string]any{"from": "alice", "to": "bob", "body": map[string]string{"text": "hi"}}, nil)
	select {
	case frames := <-got:
		if len(frames) != 1 || frames[0]["type"] != "msg" {
			t.Fatalf("held poll: got %v", frames)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("held poll not answered")
	}
	// Polling on with after=next acknowledges: no retransmission follows.
	if _, frames := c.poll(t, 1); len(frames) != 0 {
		t.Fatalf("acked push came again: %v", frames)
	}
	// Sends go over plain HTTP and answer with the res frame.
	if st, f := c.send(t, `{"type":"send","id":"x","to":"alice","body":{"text":"back"}}`); st != 200 || f["type"] != "res" {
		t.Fatalf("send: %d %v", st, f)
	}
	if st, f := c.send(t, `{"type":"pull","id":"p","conv":"d:alice:bob"}`); st != 200 || len(f["data"].(map[string]any)["msgs"].([]any)) != 2 {
		t.Fatalf("pull: %d %v", st, f)
	}
	if st, _ := c.send(t, `{"type":"ack","n":[1]}`); st != 204 {
		t.Fatalf("ack: got %d, want 204", st)
	}
	if st, f := c.send(t, `not json`); st != 200 || errCode(f) != "bad_frame" {
		t.Fatalf("bad frame: %d %v", st, f)
	}
	// A connect body that is not UTF-8 is refused.
	if res, err := http.Post(n.URL()+"/v1/lp/connect", "application/json", bytes.NewReader([]byte("{\"token\":\"\xff\"}"))); err != nil || res.StatusCode != 400 {
		t.Fatalf("non-UTF-8 connect: %v %v", err, res)
	} else {
		res.Body.Close()
	}
	// An unknown session is refused.
	bad := &lp{base: c.base, sid: "nope"}
	if st, _ := bad.poll(t, 0); st != 404 {
		t.Fatalf("unknown sid: got %d, want 404", st)
	}
	// A silent session expires: its close frame, then 404.
	time.Sleep(3500 * time.Millisecond)
	st, frames := c.poll(t, 0)
	if st != 200 || len(frames) == 0 || frames[len(frames)-1]["type"] != "close" || frames[len(frames)-1]["code"].(float64) != wire.CloseIdle {
		t.Fatalf("expired session: %d %v, want a close frame with code %d", st, frames, wire.CloseIdle)
	}
	if st, _ := c.poll(t, 0); st != 404 {
		t.Fatalf("ended session: got %d, want 404", st)
	}
}

func TestConfigValidate(t *testing.T) {
	for name, c := range map[string]server.Config{
		"heartbeat not below idle":     {Heartbeat: time.Minute, IdleTimeout: time.Minute},
		"default heartbeat above idle": {IdleTimeout: 20 * time.Second},
		"negative retries":             {MaxRetries: -1},
		"unknown transport":            {Transport: "carrier-pigeon"},
		"bad node id":                  {Node: "a b"},
		"negative duration":            {RetryInterval: -time.Second},
		"negative group push window":   {GroupPushWindow: -time.Millisecond},
		"group push window over 1s":    {GroupPushWindow: 1001 * time.Millisecond},
	} {
		c.Defaults()
		if err := c.Validate(); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
	ok := server.Config{}
	ok.Defaults()
	if err := ok.Validate(); err != nil {
		t.Fatalf("defaults: %v", err)
	}
}

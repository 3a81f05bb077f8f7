package server_test

import (
	"encoding/json"
	"fmt"
	"testing"
	"time"

	"github.com/parley-im/parley"
	"github.com/parley-im/parley/internal/server"
)

// call sends a request frame and returns its answer (res or err with the
// frame's id), skipping pushes, which it acks.
func (c *wsClient) call(t *testing.T, id, frame string) map[string]any {
	t.Helper()
	c.send(t, frame)
	for {
		f := c.next(t)
		switch f["type"] {
		case "msg":
			c.send(t, fmt.Sprintf(`{"type":"ack","n":[%d]}`, uint64(f["n"].(float64))))
		case "res", "err":
			if f["id"] == id {
				return f
			}
		}
	}
}

// callData is call for a request that must succeed: its data.
func (c *wsClient) callData(t *testing.T, id, frame string) map[string]any {
	t.Helper()
	f := c.call(t, id, frame)
	if f["type"] != "res" {
		t.Fatalf("%s: got %v, want res", frame, f)
	}
	d, _ := f["data"].(map[string]any)
	return d
}

// callCode is call for a request that must fail: its error code.
func (c *wsClient) callCode(t *testing.T, id, frame string) string {
	t.Helper()
	f := c.call(t, id, frame)
	if f["type"] != "err" {
		t.Fatalf("%s: got %v, want err", frame, f)
	}
	return errCode(f)
}

// pushSeqs reads msg pushes of conv until it has seen seq last, acking
// each, and returns the seqs from first on in the order they came (a
// push of an earlier change may reach a client that connected just
// after it was answered).
func (c *wsClient) pushSeqs(t *testing.T, conv string, first, last uint64) []uint64 {
	t.Helper()
	var got []uint64
	for {
		f := c.next(t)
		if f["type"] != "msg" {
			continue
		}
		c.send(t, fmt.Sprintf(`{"type":"ack","n":[%d]}`, uint64(f["n"].(float64))))
		m := f["msg"].(map[string]any)
		if m["conv"] != conv {
			continue
		}
		if msgSeq(f) >= first {
			got = append(got, msgSeq(f))
		}
		if msgSeq(f) == last {
			return got
		}
	}
}

func login(t *testing.T, n *node, user string) *wsClient {
	t.Helper()
	c := dialWS(t, n)
	if f := c.auth(t, n.token(t, user), "d1"); f["type"] != "res" {
		t.Fatalf("auth %s: got %v", user, f)
	}
	return c
}

// TestGroupOf10000 is the end-to-end requirement: a group of
// 10,000 members created through the server API, 200 of them online over
// WebSocket; one message is stored once and reaches every online member
// exactly once, in seq order, followed by a membership change; a member
// who was offline for both syncs and finds both. The node holds group
// pushes for a window, as the parley command does by default: the change
// follows the message at once, so it is held and written after it.
func TestGroupOf10000(t *testing.T) {
	if testing.Short() {
		t.Skip("10,000 users")
	}
	n := startNode(t, "nbio", func(c *server.Config) { c.GroupPushWindow = 150 * time.Millisecond })
	const total, online = 10_000, 200
	users := make([]string, total)
	for i := range users {
		users[i] = fmt.Sprintf("u%05d", i)
	}
	for i := 0; i < total; i += 1000 {
		n.users(t, users[i:i+1000]...)
	}
	var created struct {
		Group parley.Group
		Msg   parley.Message
	}
	if st := n.api(t, "POST", "/v1/server/groups", map[string]any{"id": "big", "owner": users[0], "name": "Everyone", "members": users[1:1000]}, &created); st != 200 {
		t.Fatalf("create: status %d", st)
	}
	for i := 1000; i < total; i += 1000 {
		var res struct{ Changed bool }
		if st := n.api(t, "POST", "/v1/server/groups/big/members", map[string]any{"users": users[i : i+1000]}, &res); st != 200 || !res.Changed {
			t.Fatalf("add %d: status %d, %+v", i, st, res)
		}
	}
	// A change answers before its push goes out, and the last add's push
	// to 10,000 members can still be on its way while the clients below
	// log in (one of them then gets it, even before its auth answer). A
	// change that changes nothing is committed after that push and pushes
	// nothing itself: once it is answered, every earlier push is out.
	var barrier struct{ Changed bool }
	if st := n.api(t, "POST", "/v1/server/groups/big/members", map[string]any{"users": users[1:2]}, &barrier); st != 200 || barrier.Changed {
		t.Fatalf("re-adding a member: status %d, %+v, want no change", st, barrier)
	}
	var info struct{ Group parley.Group }
	if n.api(t, "GET", "/v1/server/groups/big", nil, &info); info.Group.Members != total || info.Group.Owner != users[0] {
		t.Fatalf("group info: got %+v, want %d members", info.Group, total)
	}
	// 200 online members; the last member stays offline.
	clients := make([]*wsClient, online)
	for i := range clients {
		clients[i] = login(t, n, users[i*(total/online)])
	}
	var sent struct{ Msg parley.Message }
	if st := n.api(t, "POST", "/v1/server/messages", map[string]any{"from": users[1], "conv": "g:big", "cmid": "hello", "body": map[string]string{"text": "hello everyone"}}, &sent); st != 200 {
		t.Fatalf("send: status %d", st)
	}
	var removed struct {
		Changed bool
		Msg     parley.Message
	}
	if st := n.api(t, "DELETE", "/v1/server/groups/big/members/"+users[total-2], nil, &removed); st != 200 || removed.Msg.Seq != sent.Msg.Seq+1 {
		t.Fatalf("remove: status %d, %+v, want the seq after the message's (%d)", st, removed, sent.Msg.Seq)
	}
	// Each client's frames wait in its own buffer; read them one client
	// after another.
	for i, c := range clients {
		if got, want := c.pushSeqs(t, "g:big", sent.Msg.Seq, removed.Msg.Seq), []uint64{sent.Msg.Seq, removed.Msg.Seq}; fmt.Sprint(got) != fmt.Sprint(want) {
			t.Errorf("client %d: got pushes %v, want %v (once each, in order)", i, got, want)
		}
	}
	// Nothing else arrives: no push twice.
	time.Sleep(100 * time.Millisecond)
	for i, c := range clients {
		select {
		case f := <-c.frames:
			if f["type"] == "msg" {
				t.Errorf("client %d: got an extra push %v", i, f)
			}
		default:
		}
	}
	// Stored once: one row for the message among the group's messages.
	msgs, err := n.Store().Messages(t.Context(), "demo", "g:big", parley.MessageRange{Limit: 1000})
	if err != nil {
		t.Fatal(err)
	}
	texts := 0
	for _, m := range msgs {
		if m.Kind == parley.KindText {
			texts++
		}
	}
	if texts != 1 || uint64(len(msgs)) != removed.Msg.Seq {
		t.Errorf("stored: %d text messages of %d, want 1 of %d", texts, len(msgs), removed.Msg.Seq)
	}
	// The offline member syncs and finds the message and the removal.
	late := login(t, n, users[total-1])
	d := late.callData(t, "s", `{"type":"sync","id":"s","since":0}`)
	convs := d["convs"].([]any)
	if len(convs) != 1 || convs[0].(map[string]any)["last_seq"].(float64) != float64(removed.Msg.Seq) {
		t.Fatalf("late sync: got %v, want g:big at seq %d", convs, removed.Msg.Seq)
	}
	p := late.callData(t, "p", fmt.Sprintf(`{"type":"pull","id":"p","conv":"g:big","after":%d}`, sent.Msg.Seq-1))
	if got := p["msgs"].([]any); len(got) != 2 || got[1].(map[string]any)["kind"] != "system" {
		t.Fatalf("late pull: got %v, want the message and the removal", got)
	}
	// Read receipts count in a group this large, but do not list.
	rr := late.callData(t, "r", fmt.Sprintf(`{"type":"read_receipts","id":"r","conv":"g:big","seq":%d}`, sent.Msg.Seq))
	if rr["members"].(float64) != total-1 || rr["read"].(float64) != 1 || rr["readers"] != nil {
		t.Errorf("read receipts: got %v, want 1 of %d read (the sender), no list", rr, total-1)
	}
}

// TestGroupRulesOverWebSocket drives a group's life over client frames:
// roles, mutes, removal, a member who was offline, receipts, transfer and
// dissolve.
func TestGroupRulesOverWebSocket(t *testing.T) {
	n := startNode(t, "gws")
	n.users(t, "olga", "adam", "mia", "out", "late")
	olga, adam, mia, out := login(t, n, "olga"), login(t, n, "adam"), login(t, n, "mia"), login(t, n, "out")

	g := olga.callData(t, "c", `{"type":"group_create","id":"c","group":"team","members":["adam","mia","late"],"profile":{"name":"Team"}}`)
	if grp := g["group"].(map[string]any); grp["owner"] != "olga" || grp["members"].(float64) != 4 || grp["conv"] != "g:team" {
		t.Fatalf("create: got %v", g)
	}
	if code := olga.callCode(t, "c2", `{"type":"group_create","id":"c2","group":"team"}`); code != "conflict" {
		t.Errorf("create a taken id: got %q, want conflict", code)
	}
	olga.callData(t, "r", `{"type":"group_role","id":"r","group":"team","user":"adam","role":"admin"}`)
	send := func(c *wsClient, id string) string {
		f := c.call(t, id, `{"type":"send","id":"`+id+`","conv":"g:team","body":{"text":"hi"}}`)
		if f["type"] == "res" {
			return ""
		}
		return errCode(f)
	}
	for _, step := range []struct {
		name string
		c    *wsClient
		want string
	}{
		{"member sends", mia, ""},
		{"non-member sends", out, "forbidden"},
	} {
		if got := send(step.c, "s-"+step.name); got != step.want {
			t.Errorf("%s: got %q, want %q", step.name, got, step.want)
		}
	}
	if code := out.callCode(t, "p", `{"type":"pull","id":"p","conv":"g:team"}`); code != "forbidden" {
		t.Errorf("non-member pull: got %q, want forbidden", code)
	}
	if code := out.callCode(t, "i", `{"type":"group_info","id":"i","group":"team"}`); code != "forbidden" {
		t.Errorf("non-member info: got %q, want forbidden", code)
	}
	adam.callData(t, "m", `{"type":"group_mute","id":"m","group":"team","user":"mia","seconds":60}`)
	if got := send(mia, "s2"); got != "forbidden" {
		t.Errorf("muted member sends: got %q, want forbidden", got)
	}
	adam.callData(t, "m2", `{"type":"group_mute","id":"m2","group":"team","user":"mia","seconds":0}`)
	if got := send(mia, "s3"); got != "" {
		t.Errorf("unmuted member sends: got %q, want ok", got)
	}
	adam.callData(t, "ma", `{"type":"group_mute_all","id":"ma","group":"team","mute":true}`)
	if got := send(mia, "s4"); got != "forbidden" {
		t.Errorf("member sends while all are muted: got %q, want forbidden", got)
	}
	if got := send(adam, "s5"); got != "" {
		t.Errorf("admin sends while all are muted: got %q, want ok", got)
	}
	adam.callData(t, "ma2", `{"type":"group_mute_all","id":"ma2","group":"team","mute":false}`)
	for _, c := range []struct {
		name, frame, want string
		who               *wsClient
	}{
		{"member removes admin", `{"type":"group_remove","id":"x","group":"team","user":"adam"}`, "forbidden", mia},
		{"admin removes owner", `{"type":"group_remove","id":"x","group":"team","user":"olga"}`, "conflict", adam},
		{"admin sets a role", `{"type":"group_role","id":"x","group":"team","user":"mia","role":"admin"}`, "forbidden", adam},
		{"owner leaves", `{"type":"group_leave","id":"x","group":"team"}`, "conflict", olga},
		{"admin dissolves", `{"type":"group_dissolve","id":"x","group":"team"}`, "forbidden", adam},
		{"bad role", `{"type":"group_role","id":"x","group":"team","user":"mia","role":"owner"}`, "invalid", olga},
		{"unknown group", `{"type":"group_info","id":"x","group":"nope"}`, "not_found", olga},
	} {
		if got := c.who.callCode(t, "x", c.frame); got != c.want {
			t.Errorf("%s: got %q, want %q", c.name, got, c.want)
		}
	}
	// adam removes mia: she gets the removal, then nothing more.
	rm := adam.callData(t, "rm", `{"type":"group_remove","id":"rm","group":"team","user":"mia"}`)
	removal := uint64(rm["msg"].(map[string]any)["seq"].(float64))
	if got := mia.pushSeqs(t, "g:team", 0, removal); got[len(got)-1] != removal {
		t.Fatalf("mia's pushes: got %v, want the removal (%d) last", got, removal)
	}
	if got := send(olga, "s6"); got != "" {
		t.Fatalf("owner sends after the removal: %q", got)
	}
	if got := send(mia, "s7"); got != "forbidden" {
		t.Errorf("removed member sends: got %q, want forbidden", got)
	}
	if code := mia.callCode(t, "rd", `{"type":"read","id":"rd","conv":"g:team","seq":1}`); code != "forbidden" {
		t.Errorf("removed member reads: got %q, want forbidden", code)
	}
	p := mia.callData(t, "p", `{"type":"pull","id":"p","conv":"g:team","limit":200}`)
	if msgs := p["msgs"].([]any); uint64(msgs[len(msgs)-1].(map[string]any)["seq"].(float64)) != removal {
		t.Errorf("removed member pulls: last seq got %v, want the removal %d and nothing after", msgs[len(msgs)-1], removal)
	}
	// late was offline for all of it.
	lateC := login(t, n, "late")
	s := lateC.callData(t, "s", `{"type":"sync","id":"s","since":0}`)
	st := s["convs"].([]any)[0].(map[string]any)
	last := uint64(st["last_seq"].(float64))
	all := lateC.callData(t, "p", `{"type":"pull","id":"p","conv":"g:team","limit":200}`)["msgs"].([]any)
	events := map[string]bool{}
	for _, m := range all {
		m := m.(map[string]any)
		if m["kind"] == "system" {
			b, _ := json.Marshal(m["body"])
			var body parley.GroupEventBody
			_ = json.Unmarshal(b, &body)
			events[string(body.Event)] = true
		}
	}
	if uint64(len(all)) != last || !events["created"] || !events["removed"] || !events["muted"] || !events["mute_all"] || !events["role"] {
		t.Errorf("late member's pull: %d messages (want %d), events %v", len(all), last, events)
	}
	// Receipts in a small group name the readers.
	olga.callData(t, "rd", fmt.Sprintf(`{"type":"read","id":"rd","conv":"g:team","seq":%d}`, last))
	rr := adam.callData(t, "rr", fmt.Sprintf(`{"type":"read_receipts","id":"rr","conv":"g:team","seq":%d}`, last))
	if fmt.Sprint(rr["readers"]) != "[olga]" || rr["read"].(float64) != 1 || rr["members"].(float64) != 3 {
		t.Errorf("read receipts: got %v, want olga of 3", rr)
	}
	mem := adam.callData(t, "gm", `{"type":"group_members","id":"gm","group":"team","limit":2}`)
	if len(mem["members"].([]any)) != 2 || mem["more"] != true || mem["next"] != "late" {
		t.Errorf("members page: got %v, want adam and late, more", mem)
	}
	// Transfer, then the new owner dissolves; nothing more is accepted.
	olga.callData(t, "t", `{"type":"group_transfer","id":"t","group":"team","user":"adam"}`)
	if code := olga.callCode(t, "d", `{"type":"group_dissolve","id":"d","group":"team"}`); code != "forbidden" {
		t.Errorf("former owner dissolves: got %q, want forbidden", code)
	}
	adam.callData(t, "d", `{"type":"group_dissolve","id":"d","group":"team"}`)
	if got := send(olga, "s8"); got != "conflict" {
		t.Errorf("send to a dissolved group: got %q, want conflict", got)
	}
	if code := adam.callCode(t, "a", `{"type":"group_add","id":"a","group":"team","members":["out"]}`); code != "conflict" {
		t.Errorf("add to a dissolved group: got %q, want conflict", code)
	}
}

func TestGroupServerAPIValidates(t *testing.T) {
	n := startNode(t, "gws")
	n.users(t, "olga", "amy")
	for _, c := range []struct {
		name, method, path string
		body               any
		want               int
	}{
		{"no owner", "POST", "/v1/server/groups", map[string]any{"id": "g"}, 400},
		{"bad id", "POST", "/v1/server/groups", map[string]any{"id": "a b", "owner": "olga"}, 400},
		{"unknown owner", "POST", "/v1/server/groups", map[string]any{"id": "g", "owner": "ghost"}, 404},
		{"max too large", "POST", "/v1/server/groups", map[string]any{"id": "g", "owner": "olga", "max_members": 1 << 30}, 400},
		{"ext not an object", "POST", "/v1/server/groups", map[string]any{"id": "g", "owner": "olga", "ext": []int{1}}, 400},
		{"unknown field", "POST", "/v1/server/groups", map[string]any{"id": "g", "owner": "olga", "x": 1}, 400},
		{"unknown group", "GET", "/v1/server/groups/nope", nil, 404},
		{"add to unknown group", "POST", "/v1/server/groups/nope/members", map[string]any{"users": []string{"amy"}}, 404},
		{"add nobody", "POST", "/v1/server/groups/nope/members", map[string]any{"users": []string{}}, 400},
		{"receipts without seq", "GET", "/v1/server/conversations/g:x/receipts", nil, 400},
		{"mute too long", "POST", "/v1/server/groups/g/members/amy/mute", map[string]any{"seconds": 1 << 40}, 400},
	} {
		var e struct{ Error struct{ Code string } }
		if got := n.api(t, c.method, c.path, c.body, &e); got != c.want || e.Error.Code == "" {
			t.Errorf("%s: got %d %+v, want %d with an error code", c.name, got, e, c.want)
		}
	}
}

// BenchmarkGroupFanOut measures one message to a group of 5,000 members,
// all online on this node over WebSocket: from the server API call to the
// last member's push (each member acks). Reported per message, with the
// pushes per second it amounts to.
func BenchmarkGroupFanOut(b *testing.B) {
	const members = 5000
	n := startNode(b, "nbio")
	ids := make([]string, members)
	for i := range ids {
		ids[i] = fmt.Sprintf("b%05d", i)
	}
	for i := 0; i < members; i += 1000 {
		n.users(b, ids[i:i+1000]...)
	}
	if st := n.api(b, "POST", "/v1/server/groups", map[string]any{"id": "all", "owner": ids[0], "members": ids[1:1000]}, nil); st != 200 {
		b.Fatalf("create: %d", st)
	}
	for i := 1000; i < members; i += 1000 {
		if st := n.api(b, "POST", "/v1/server/groups/all/members", map[string]any{"users": ids[i : i+1000]}, nil); st != 200 {
			b.Fatalf("add: %d", st)
		}
	}
	clients := make([]*wsClient, members)
	for i, id := range ids {
		clients[i] = dialWS(b, n)
		clients[i].send(b, `{"type":"auth","id":"a","token":"`+n.token(b, id)+`","device":"d1","platform":"web"}`)
		if f := clients[i].next(b); f["type"] != "res" {
			b.Fatalf("auth: %v", f)
		}
	}
	b.ResetTimer()
	for i := 0; b.Loop(); i++ {
		if st := n.api(b, "POST", "/v1/server/messages", map[string]any{"conv": "g:all", "body": map[string]string{"text": "x"}}, nil); st != 200 {
			b.Fatalf("send: %d", st)
		}
		for _, c := range clients {
			for {
				f := c.next(b)
				if f["type"] == "msg" {
					c.send(b, fmt.Sprintf(`{"type":"ack","n":[%d]}`, uint64(f["n"].(float64))))
					break
				}
			}
		}
	}
	b.ReportMetric(float64(b.N*members)/b.Elapsed().Seconds(), "pushes/s")
}

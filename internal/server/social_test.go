package server_test

import (
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/parley-im/parley/internal/server"
	"github.com/parley-im/parley/wire"
)

// presenceDebounce is the debounce of the presence tests: long enough
// for a reconnection on loopback, short enough to wait out.
const presenceDebounce = 400 * time.Millisecond

func quickPresence(c *server.Config) { c.PresenceDebounce = presenceDebounce }

// authOn authenticates a WebSocket client on a platform and fails the test
// unless it is accepted.
func (c *wsClient) authOn(t *testing.T, token, device, platform string) {
	t.Helper()
	c.send(t, `{"type":"auth","id":"a","token":"`+token+`","device":"`+device+`","platform":"`+platform+`"}`)
	if f := c.until(t, "res"); f["id"] != "a" {
		t.Fatalf("auth: got %v", f)
	}
}

// answer sends a frame and returns the data of the res or the code of
// the err that answers it, skipping pushes.
func (c *wsClient) answer(t *testing.T, frame string) (map[string]any, string) {
	t.Helper()
	c.send(t, frame)
	for {
		switch f := c.next(t); f["type"] {
		case "err":
			return nil, errCode(f)
		case "res":
			data, _ := f["data"].(map[string]any)
			return data, ""
		}
	}
}

// request is answer for a frame that must succeed.
func (c *wsClient) request(t *testing.T, frame string) map[string]any {
	t.Helper()
	data, code := c.answer(t, frame)
	if code != "" {
		t.Fatalf("%s: got err %q, want res", frame, code)
	}
	return data
}

// requestErr is answer for a frame that must fail: it returns the code.
func (c *wsClient) requestErr(t *testing.T, frame string) string {
	t.Helper()
	data, code := c.answer(t, frame)
	if code == "" {
		t.Fatalf("%s: got res %v, want err", frame, data)
	}
	return code
}

// quiet waits a moment, then pings and fails the test if any frame of
// type typ arrived before the pong: frames on a connection are ordered,
// and a push that was coming would have been written by then.
func (c *wsClient) quiet(t *testing.T, typ string, wait time.Duration) {
	t.Helper()
	time.Sleep(wait)
	c.send(t, `{"type":"ping"}`)
	for {
		f := c.next(t)
		if f["type"] == typ {
			t.Fatalf("got %v, want no %s frame", f, typ)
		}
		if f["type"] == "pong" {
			return
		}
	}
}

func presenceOf(f map[string]any) string {
	var ps []string
	for _, p := range f["platforms"].([]any) {
		ps = append(ps, p.(string))
	}
	return fmt.Sprintf("%v %v %v", f["user"], f["online"], ps)
}

// TestPresenceReachesOnlyInterestedOnlineUsers: bob has alice as a
// contact and is online; carol, online, does not care about alice; dave
// cares but is offline. Only bob hears of alice coming and going, with
// her platforms; nothing is kept for dave.
func TestPresenceReachesOnlyInterestedOnlineUsers(t *testing.T) {
	transports(t, func(t *testing.T, tr string) {
		n := startNode(t, tr, quickPresence)
		n.users(t, "alice", "bob", "carol", "dave", "erin")
		for _, u := range []string{"bob", "dave"} {
			if st := n.api(t, "POST", "/v1/server/users/"+u+"/contacts", map[string]any{"users": []string{"alice"}}, nil); st != 200 {
				t.Fatalf("add contact for %s: status %d", u, st)
			}
		}
		// erin is alice's direct-conversation peer: she cares too.
		if st := n.api(t, "POST", "/v1/server/messages", map[string]any{"from": "erin", "to": "alice", "body": map[string]string{"text": "hi"}}, nil); st != 200 {
			t.Fatalf("send: status %d", st)
		}
		bob, carol, erin := dialWS(t, n), dialWS(t, n), dialWS(t, n)
		bob.authOn(t, n.token(t, "bob"), "b1", "web")
		carol.authOn(t, n.token(t, "carol"), "c1", "web")
		erin.authOn(t, n.token(t, "erin"), "e1", "android")

		alice := dialWS(t, n)
		aliceTok := n.token(t, "alice")
		alice.authOn(t, aliceTok, "phone", "ios")
		if got, want := presenceOf(bob.until(t, "presence")), "alice true [ios]"; got != want {
			t.Fatalf("bob: got presence %q, want %q", got, want)
		}
		if got, want := presenceOf(erin.until(t, "presence")), "alice true [ios]"; got != want {
			t.Fatalf("erin (peer): got presence %q, want %q", got, want)
		}
		// A second platform is told at once; a second device of a
		// platform already told is not.
		laptop := dialWS(t, n)
		laptop.authOn(t, aliceTok, "laptop", "pc")
		if got, want := presenceOf(bob.until(t, "presence")), "alice true [ios pc]"; got != want {
			t.Fatalf("bob: got presence %q, want %q", got, want)
		}
		tablet := dialWS(t, n)
		tablet.authOn(t, aliceTok, "tablet", "ios")
		bob.quiet(t, "presence", 100*time.Millisecond)

		// The server API answers for anyone; a client only for the users
		// it cares about.
		var res wire.PresenceRes
		if st := n.api(t, "POST", "/v1/server/presence", map[string]any{"users": []string{"alice", "bob", "dave", "ghost", "alice"}}, &res); st != 200 {
			t.Fatalf("presence API: status %d", st)
		}
		var got []string
		for _, p := range res.Users {
			got = append(got, fmt.Sprintf("%s %v %v", p.User, p.Online, p.Platforms))
		}
		if want := []string{"alice true [ios pc]", "bob true [web]", "dave false []", "ghost false []"}; !slices.Equal(got, want) {
			t.Errorf("presence API: got %q, want %q", got, want)
		}
		data := bob.request(t, `{"type":"presence","id":"p","users":["alice","carol","dave"]}`)
		users := data["users"].([]any)
		if len(users) != 1 || presenceOf(users[0].(map[string]any)) != "alice true [ios pc]" {
			t.Errorf("bob's presence frame: got %v, want alice only (bob cares about nobody else)", users)
		}
		n.waitMetrics(t, nil, map[string]float64{`parley_frames_in_total{type="presence"}`: 1})

		// Going away: the pc, then both ios devices.
		_ = laptop.conn.NetConn().Close()
		if got, want := presenceOf(bob.until(t, "presence")), "alice true [ios]"; got != want {
			t.Fatalf("bob after the pc left: got presence %q, want %q", got, want)
		}
		_ = tablet.conn.NetConn().Close()
		_ = alice.conn.NetConn().Close()
		start := time.Now()
		if got, want := presenceOf(bob.until(t, "presence")), "alice false []"; got != want {
			t.Fatalf("bob: got presence %q, want %q", got, want)
		}
		if waited := time.Since(start); waited < presenceDebounce/2 {
			t.Errorf("offline told after %v, want it debounced (%v)", waited, presenceDebounce)
		}
		// erin heard every change bob did; the last is the offline one.
		for f := erin.until(t, "presence"); presenceOf(f) != "alice false []"; f = erin.until(t, "presence") {
			if f["online"] != true {
				t.Fatalf("erin: got presence %v before the offline one", f)
			}
		}
		carol.quiet(t, "presence", 100*time.Millisecond)

		// dave was offline throughout: nothing was kept for him.
		dave := dialWS(t, n)
		dave.authOn(t, n.token(t, "dave"), "d1", "web")
		dave.quiet(t, "presence", 200*time.Millisecond)
		sync := dave.request(t, `{"type":"sync","id":"s"}`)
		if convs := sync["convs"].([]any); len(convs) != 0 {
			t.Errorf("dave's sync: got %v, want no conversations (presence is never stored)", convs)
		}
	})
}

// TestPresenceFlappingIsDebounced: a device that reconnects within the
// debounce causes neither offline nor online.
func TestPresenceFlappingIsDebounced(t *testing.T) {
	n := startNode(t, "gws", quickPresence)
	n.users(t, "alice", "bob")
	n.api(t, "POST", "/v1/server/users/bob/contacts", map[string]any{"users": []string{"alice"}}, nil)
	bob := dialWS(t, n)
	bob.authOn(t, n.token(t, "bob"), "b1", "web")
	tok := n.token(t, "alice")
	alice := dialWS(t, n)
	alice.authOn(t, tok, "phone", "android")
	if got := presenceOf(bob.until(t, "presence")); got != "alice true [android]" {
		t.Fatalf("bob: got presence %q", got)
	}
	for range 3 {
		_ = alice.conn.NetConn().Close()
		alice = dialWS(t, n)
		alice.authOn(t, tok, "phone", "android")
	}
	bob.quiet(t, "presence", 2*presenceDebounce)
	// Two changes told (bob's, to nobody, and alice's, to bob); the
	// reconnections are none.
	n.waitMetrics(t, nil, map[string]float64{
		`parley_presence_changes_total{state="online"}`: 2, `parley_presence_changes_total{state="offline"}`: 0,
		`parley_social_recipients_total{kind="presence"}`: 1,
	})
	var res wire.PresenceRes
	n.api(t, "POST", "/v1/server/presence", map[string]any{"users": []string{"alice"}}, &res)
	if len(res.Users) != 1 || !res.Users[0].Online {
		t.Errorf("presence API after flapping: got %+v, want alice online", res.Users)
	}
}

// TestProfileChangeReachesCarers: a changed profile is pushed to the
// online users who care; those offline get it from profiles at their next
// sync; an unchanged upsert pushes nothing.
func TestProfileChangeReachesCarers(t *testing.T) {
	n := startNode(t, "gws")
	n.users(t, "alice", "bob", "carol", "dave")
	for _, u := range []string{"bob", "dave"} {
		n.api(t, "POST", "/v1/server/users/"+u+"/contacts", map[string]any{"users": []string{"alice"}}, nil)
	}
	// dave syncs profiles once, then goes offline.
	dave := dialWS(t, n)
	daveTok := n.token(t, "dave")
	dave.authOn(t, daveTok, "d1", "web")
	first := dave.request(t, `{"type":"profiles","id":"p","since":0}`)
	if users := first["users"].([]any); len(users) != 1 || users[0].(map[string]any)["name"] != "ALICE" {
		t.Fatalf("dave's first profiles: got %v, want alice's", users)
	}
	since := uint64(first["ver"].(float64))
	_ = dave.conn.NetConn().Close()

	bob, carol := dialWS(t, n), dialWS(t, n)
	bob.authOn(t, n.token(t, "bob"), "b1", "web")
	carol.authOn(t, n.token(t, "carol"), "c1", "web")
	var out map[string]int
	upsert := map[string]any{"users": []map[string]any{{"id": "alice", "name": "Alicia", "avatar": "https://x/a.png"}}}
	if st := n.api(t, "POST", "/v1/server/users", upsert, &out); st != 200 || out["changed"] != 1 {
		t.Fatalf("upsert: got %d %v, want 200 with changed 1", st, out)
	}
	f := bob.until(t, "profile")
	if u := f["profile"].(map[string]any); u["id"] != "alice" || u["name"] != "Alicia" || u["avatar"] != "https://x/a.png" {
		t.Fatalf("bob: got profile push %v, want alice as Alicia", f)
	}
	carol.quiet(t, "profile", 100*time.Millisecond)
	if st := n.api(t, "POST", "/v1/server/users", upsert, &out); st != 200 || out["changed"] != 0 {
		t.Fatalf("unchanged upsert: got %d %v, want 200 with changed 0", st, out)
	}
	bob.quiet(t, "profile", 100*time.Millisecond)

	dave = dialWS(t, n)
	dave.authOn(t, daveTok, "d1", "web")
	next := dave.request(t, fmt.Sprintf(`{"type":"profiles","id":"p","since":%d}`, since))
	users := next["users"].([]any)
	if len(users) != 1 || users[0].(map[string]any)["name"] != "Alicia" || uint64(next["ver"].(float64)) <= since {
		t.Fatalf("dave's profiles since %d: got %v, want alice as Alicia with a newer ver", since, next)
	}
}

// TestContactsRoundTrip: add, list, alias, remove and sync of contacts
// over a client, the user's other device told of each change; the server
// API's equivalents; and the limits.
func TestContactsRoundTrip(t *testing.T) {
	n := startNode(t, "gws")
	n.users(t, "alice", "bob", "carol")
	tok := n.token(t, "alice")
	a1, a2 := dialWS(t, n), dialWS(t, n)
	a1.authOn(t, tok, "a1", "ios")
	a2.authOn(t, tok, "a2", "web")

	add := a1.request(t, `{"type":"contacts_add","id":"1","users":["bob"],"alias":"Bobby"}`)
	rows := add["contacts"].([]any)
	row := rows[0].(map[string]any)
	if len(rows) != 1 || row["user"] != "bob" || row["alias"] != "Bobby" || row["profile"].(map[string]any)["name"] != "BOB" {
		t.Fatalf("contacts_add: got %v, want bob as Bobby with his profile", add)
	}
	addVer := uint64(add["ver"].(float64))
	if push := a2.until(t, "contacts"); push["contacts"].([]any)[0].(map[string]any)["user"] != "bob" {
		t.Fatalf("other device: got %v, want the contacts push of bob", push)
	}
	a1.quiet(t, "contacts", 50*time.Millisecond) // not the device that added

	// The server API adds for alice too: both devices are told.
	if st := n.api(t, "POST", "/v1/server/users/alice/contacts", map[string]any{"users": []string{"carol"}}, nil); st != 200 {
		t.Fatalf("API add: status %d", st)
	}
	a1.until(t, "contacts")
	a2.until(t, "contacts")
	list := a2.request(t, `{"type":"contacts","id":"2"}`)
	var ids []string
	for _, r := range list["contacts"].([]any) {
		ids = append(ids, r.(map[string]any)["user"].(string))
	}
	if !slices.Equal(ids, []string{"bob", "carol"}) || list["more"] != false {
		t.Errorf("contacts: got %v, want [bob carol] and no more", list)
	}

	rm := a2.request(t, `{"type":"contacts_remove","id":"3","users":["bob","nobody"]}`)
	if rows := rm["contacts"].([]any); len(rows) != 1 || rows[0].(map[string]any)["removed"] != true {
		t.Fatalf("contacts_remove: got %v, want bob's removed row", rm)
	}
	a1.until(t, "contacts")
	// A device that knew the list at addVer learns carol's add and bob's
	// removal.
	sync := a1.request(t, fmt.Sprintf(`{"type":"contacts","id":"4","since":%d}`, addVer))
	ids = nil
	for _, r := range sync["contacts"].([]any) {
		m := r.(map[string]any)
		ids = append(ids, fmt.Sprintf("%v %v", m["user"], m["removed"] == true))
	}
	if !slices.Equal(ids, []string{"carol false", "bob true"}) {
		t.Errorf("contacts since %d: got %v, want [carol false, bob true]", addVer, ids)
	}
	var apiList wire.ContactsRes
	if st := n.api(t, "GET", "/v1/server/users/alice/contacts", nil, &apiList); st != 200 || len(apiList.Contacts) != 1 || apiList.Contacts[0].UserID != "carol" {
		t.Errorf("API list: got %d %+v, want carol only", st, apiList)
	}
	if st := n.api(t, "POST", "/v1/server/users/alice/contacts/remove", map[string]any{"users": []string{"carol"}}, nil); st != 200 {
		t.Errorf("API remove: status %d", st)
	}

	for _, c := range []struct{ frame, code string }{
		{`{"type":"contacts_add","id":"e","users":["alice"]}`, "invalid"},
		{`{"type":"contacts_add","id":"e","users":["ghost"]}`, "not_found"},
		{`{"type":"contacts_add","id":"e","users":["bob","carol"],"alias":"x"}`, "invalid"},
		{`{"type":"contacts_add","id":"e","users":` + jsonList(wire.MaxContactsPerFrame+1) + `}`, "too_large"},
		{`{"type":"presence","id":"e","users":` + jsonList(wire.MaxPresencePerFrame+1) + `}`, "too_large"},
	} {
		if got := a1.requestErr(t, c.frame); got != c.code {
			t.Errorf("%.60s: got %q, want %q", c.frame, got, c.code)
		}
	}
	for _, c := range []struct {
		method, path string
		body         any
		want         int
	}{
		{"POST", "/v1/server/users/alice/contacts", map[string]any{"users": []string{"ghost"}}, 404},
		{"POST", "/v1/server/users/ghost/contacts", map[string]any{"users": []string{"bob"}}, 404},
		{"POST", "/v1/server/users/alice/contacts", map[string]any{"users": []string{}}, 400},
		{"POST", "/v1/server/users/a%20b/contacts", map[string]any{"users": []string{"bob"}}, 400},
		{"GET", "/v1/server/users/alice/contacts?limit=1000", nil, 400},
		{"POST", "/v1/server/presence", map[string]any{"users": strings.Split(strings.Repeat("u,", 1001), ",")[:1001]}, 413},
		{"POST", "/v1/server/presence", map[string]any{"users": []string{"a b"}}, 400},
	} {
		var e wire.ErrorBody
		if got := n.api(t, c.method, c.path, c.body, &e); got != c.want || e.Error.Code == "" {
			t.Errorf("%s %s: got %d %+v, want %d with an error code", c.method, c.path, got, e, c.want)
		}
	}
}

func jsonList(n int) string {
	ids := make([]string, n)
	for i := range ids {
		ids[i] = fmt.Sprintf("%q", fmt.Sprint("u", i))
	}
	return "[" + strings.Join(ids, ",") + "]"
}

package server_test

import (
	"encoding/json"
	"fmt"
	"net/url"
	"slices"
	"strings"
	"testing"

	"github.com/parley-im/parley"
	"github.com/parley-im/parley/wire"
)

// searchIDs returns the ids of the messages in a search answer's data and
// fails the test unless every one is from a conversation in allowed.
func searchIDs(t *testing.T, data any, allowed ...string) []string {
	t.Helper()
	b, _ := json.Marshal(data)
	var res wire.SearchRes
	if err := json.Unmarshal(b, &res); err != nil {
		t.Fatalf("search answer %s: %v", b, err)
	}
	var ids []string
	for _, m := range res.Msgs {
		if !slices.Contains(allowed, m.ConvID) {
			t.Errorf("search returned %s from %s, a conversation of others", m.ID, m.ConvID)
		}
		ids = append(ids, m.ID)
	}
	return ids
}

// TestSearchOnlyOwnConversations: alice and bob chat in English and
// Chinese, carol and dave chat with the same words; over real sockets,
// alice's searches find her messages by word, prefix, case and Chinese
// substring, and never carol's and dave's. Searching in their
// conversation is forbidden, over WebSocket, long-poll and the server API
// alike.
func TestSearchOnlyOwnConversations(t *testing.T) {
	transports(t, func(t *testing.T, tr string) {
		n := startNode(t, tr)
		n.users(t, "alice", "bob", "carol", "dave")
		alice := dialWS(t, n)
		alice.auth(t, n.token(t, "alice"), "a1")
		bob := dialWS(t, n)
		bob.auth(t, n.token(t, "bob"), "b1")
		carol := dialWS(t, n)
		carol.auth(t, n.token(t, "carol"), "c1")

		sent := map[string]string{} // text -> message id
		say := func(c *wsClient, to, text string) {
			t.Helper()
			c.send(t, fmt.Sprintf(`{"type":"send","id":"s","to":%q,"body":{"text":%q}}`, to, text))
			res := c.until(t, "res")
			msg, _ := res["data"].(map[string]any)["msg"].(map[string]any)
			if msg == nil {
				t.Fatalf("send %q: got %v", text, res)
			}
			sent[text] = msg["id"].(string)
		}
		say(alice, "bob", "我们明天去北京开会")
		say(bob, "alice", "Meeting tomorrow at ten")
		say(carol, "dave", "Meeting tomorrow in 北京, 我们开会 明天")
		say(carol, "dave", "MEETING notes, 明白")
		mine := parley.DirectConvID("alice", "bob")
		zh, en := sent["我们明天去北京开会"], sent["Meeting tomorrow at ten"]

		for i, tc := range []struct {
			q    string
			want []string
		}{
			{"北京", []string{zh}},
			{"开会", []string{zh}},
			{"明", []string{zh}},
			{"京开", []string{zh}},
			{"meet", []string{en}},
			{"TOMORROW", []string{en}},
			{"tomorrow meeting", []string{en}},
			{"notes", nil},
			{"明白", nil},
			{"meeting 北京", nil}, // each word is in one of alice's messages, not both in one
		} {
			frame, _ := json.Marshal(map[string]string{"type": "search", "id": fmt.Sprint("q", i), "q": tc.q})
			alice.send(t, string(frame))
			f := alice.until(t, "res")
			if got := searchIDs(t, f["data"], mine); !slices.Equal(got, tc.want) {
				t.Errorf("alice searches %q: got %q, want %q", tc.q, got, tc.want)
			}
		}

		// A conversation filter: hers works, theirs is refused.
		alice.send(t, `{"type":"search","id":"own","q":"meeting","conv":"d:alice:bob"}`)
		if got := searchIDs(t, alice.until(t, "res")["data"], mine); !slices.Equal(got, []string{en}) {
			t.Errorf("alice searches meeting in her conversation: got %q, want %q", got, []string{en})
		}
		alice.send(t, `{"type":"search","id":"theirs","q":"meeting","conv":"d:carol:dave"}`)
		if f := alice.until(t, "err"); errCode(f) != "forbidden" || f["id"] != "theirs" {
			t.Errorf("alice searches carol and dave's conversation: got %v, want forbidden", f)
		}
		// Refused at the edge.
		for _, bad := range []string{
			`{"type":"search","id":"e1"}`,
			`{"type":"search","id":"e2","q":"` + strings.Repeat("长", 201) + `"}`,
			`{"type":"search","id":"e3","q":"x","limit":101}`,
			`{"type":"search","id":"e4","q":"?!。"}`,
		} {
			alice.send(t, bad)
			if f := alice.until(t, "err"); errCode(f) != "invalid" {
				t.Errorf("%s: got %v, want invalid", bad, f)
			}
		}

		// The same over long-poll.
		lp := lpConnect(t, n, n.token(t, "alice"), "web")
		if st, f := lp.send(t, `{"type":"search","id":"lp","q":"北京 开会"}`); st != 200 || f["type"] != "res" {
			t.Errorf("long-poll search: got %d %v", st, f)
		} else if got := searchIDs(t, f["data"], mine); !slices.Equal(got, []string{zh}) {
			t.Errorf("long-poll search: got %q, want %q", got, []string{zh})
		}

		// And through the server API, on alice's behalf.
		var res wire.SearchRes
		if st := n.api(t, "GET", "/v1/server/users/alice/search?q="+url.QueryEscape("明"), nil, &res); st != 200 {
			t.Errorf("server API search: status %d", st)
		} else if got := searchIDs(t, res, mine); !slices.Equal(got, []string{zh}) {
			t.Errorf("server API search: got %q, want %q", got, []string{zh})
		}
		var dave wire.SearchRes
		if st := n.api(t, "GET", "/v1/server/users/dave/search?q=meeting&limit=1", nil, &dave); st != 200 || len(dave.Msgs) != 1 || !dave.More || dave.Next == 0 {
			t.Errorf("server API search for dave, limit 1: got %d %+v, want one message and more", st, dave)
		}
		for path, want := range map[string]int{
			"/v1/server/users/alice/search?q=meeting&conv=d:carol:dave":   403,
			"/v1/server/users/alice/search":                               400,
			"/v1/server/users/alice/search?q=x&limit=101":                 400,
			"/v1/server/users/alice/search?q=x&before=-1":                 400,
			"/v1/server/users/a%20b/search?q=x":                           400,
			"/v1/server/users/alice/search?q=" + strings.Repeat("a", 201): 400,
		} {
			var e wire.ErrorBody
			if st := n.api(t, "GET", path, nil, &e); st != want || e.Error.Code == "" {
				t.Errorf("GET %s: got %d %+v, want %d with an error code", path, st, e, want)
			}
		}
	})
}

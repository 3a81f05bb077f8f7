package client_test

import (
	"slices"
	"testing"

	"github.com/parley-im/parley"
	"github.com/parley-im/parley/client"
)

// TestSearch: a client searches its user's conversations over WebSocket
// and long-poll, pages through the results, and is refused another
// user's conversation.
func TestSearch(t *testing.T) {
	e := newEnv(t, "gws")
	e.users("alice", "bob", "carol")
	first := e.sendAs("alice", "bob", "Meeting tomorrow")
	trip := e.sendAs("bob", "alice", "我们明天去北京开会")
	notes := e.sendAs("bob", "alice", "meeting notes")
	e.sendAs("carol", "bob", "meeting about alice")
	for _, tr := range []string{client.TransportWS, client.TransportLongPoll} {
		alice, _ := e.dial("alice", "d-"+tr, func(o *client.Options) { o.Transport = tr })
		ctx := ctxT(t)
		for _, tc := range []struct {
			q    string
			want []string
		}{
			{"MEET", []string{notes.ID, first.ID}},
			{"明", []string{trip.ID}},
			{"北京 开会", []string{trip.ID}},
			{"about", nil},         // carol's message to bob
			{"明天 OR meeting", nil}, // OR is a word: every word must match
			{"m", nil},             // a one-letter last word is exact
		} {
			res, err := alice.Search(ctx, parley.SearchQuery{Text: tc.q})
			if err != nil {
				t.Fatalf("%s: Search(%q): %v", tr, tc.q, err)
			}
			if got := msgIDs(res.Msgs); !slices.Equal(got, tc.want) || res.More {
				t.Errorf("%s: Search(%q): got %q (more %v), want %q", tr, tc.q, got, res.More, tc.want)
			}
		}
		// Pages of one.
		var got []string
		q := parley.SearchQuery{Text: "meeting", Limit: 1}
		for range 5 {
			res, err := alice.Search(ctx, q)
			if err != nil {
				t.Fatalf("%s: Search(%+v): %v", tr, q, err)
			}
			got = append(got, msgIDs(res.Msgs)...)
			if !res.More {
				break
			}
			q.Before = res.Next
		}
		if want := []string{notes.ID, first.ID}; !slices.Equal(got, want) {
			t.Errorf("%s: pages of one: got %q, want %q", tr, got, want)
		}
		_, err := alice.Search(ctx, parley.SearchQuery{Text: "meeting", ConvID: parley.DirectConvID("bob", "carol")})
		if code := parley.ErrorCode(err); code != parley.EForbidden {
			t.Errorf("%s: Search in another user's conversation: got %v, want forbidden", tr, err)
		}
		if _, err := alice.Search(ctx, parley.SearchQuery{}); parley.ErrorCode(err) != parley.EInvalid {
			t.Errorf("%s: Search without text: got %v, want invalid", tr, err)
		}
		if _, err := alice.Search(ctx, parley.SearchQuery{Text: "?!"}); parley.ErrorCode(err) != parley.EInvalid {
			t.Errorf("%s: Search for punctuation: got %v, want invalid", tr, err)
		}
	}
}

func msgIDs(msgs []parley.Message) []string {
	var ids []string
	for _, m := range msgs {
		ids = append(ids, m.ID)
	}
	return ids
}

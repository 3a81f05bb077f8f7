package chat_test

import (
	"context"
	"testing"

	"github.com/parley-im/parley"
	"github.com/parley-im/parley/internal/chat"
)

func TestSearch(t *testing.T) {
	s, _ := setup(t, "alice", "bob", "carol", "dave")
	ctx := context.Background()
	say := func(from, to, msg string) {
		t.Helper()
		if r := s.Send(ctx, chat.SendRequest{AppID: "app", Sender: from, To: to, Body: text(msg)}); r.Err != nil {
			t.Fatalf("send: %v", r.Err)
		}
	}
	say("alice", "bob", "budget meeting")
	say("carol", "dave", "budget leak")
	for _, tc := range []struct {
		name  string
		q     parley.SearchQuery
		code  string
		found int
	}{
		{"own conversations", parley.SearchQuery{Text: "budget"}, "", 1},
		{"own conversation", parley.SearchQuery{Text: "budget", ConvID: parley.DirectConvID("alice", "bob")}, "", 1},
		{"direct conversation not created yet", parley.SearchQuery{Text: "budget", ConvID: parley.DirectConvID("alice", "carol")}, "", 0},
		{"someone else's conversation", parley.SearchQuery{Text: "budget", ConvID: parley.DirectConvID("carol", "dave")}, parley.EForbidden, 0},
		{"not a conversation", parley.SearchQuery{Text: "budget", ConvID: "g:nope"}, parley.ENotFound, 0},
		{"nothing to search for", parley.SearchQuery{Text: "..."}, parley.EInvalid, 0},
		{"invalid before the membership check", parley.SearchQuery{Text: "", ConvID: parley.DirectConvID("carol", "dave")}, parley.EInvalid, 0},
	} {
		res, err := s.Search(ctx, "app", "alice", tc.q)
		if got := parley.ErrorCode(err); got != tc.code {
			t.Errorf("%s: got error %v (code %q), want code %q", tc.name, err, got, tc.code)
			continue
		}
		if err == nil && (len(res.Msgs) != tc.found || res.Msgs == nil || res.More || res.Next != 0) {
			t.Errorf("%s: got %+v, want %d messages (a non-nil slice) and no more", tc.name, res, tc.found)
		}
	}
}

func TestSearchMore(t *testing.T) {
	s, _ := setup(t, "alice", "bob")
	ctx := context.Background()
	for range 3 {
		if r := s.Send(ctx, chat.SendRequest{AppID: "app", Sender: "alice", To: "bob", Body: text("again")}); r.Err != nil {
			t.Fatal(r.Err)
		}
	}
	first, err := s.Search(ctx, "app", "bob", parley.SearchQuery{Text: "again", Limit: 2})
	if err != nil || len(first.Msgs) != 2 || !first.More || first.Next == 0 {
		t.Fatalf("first page: got %+v, %v, want 2 messages and more", first, err)
	}
	last, err := s.Search(ctx, "app", "bob", parley.SearchQuery{Text: "again", Limit: 2, Before: first.Next})
	if err != nil || len(last.Msgs) != 1 || last.More || last.Msgs[0].Seq != 1 {
		t.Fatalf("second page: got %+v, %v, want the first message and no more", last, err)
	}
}

package parleytest

import (
	"encoding/json"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/parley-im/parley"
)

// variantsMsg is a system message from the system with two variants.
func (e *storeEnv) variantsMsg(conv, cmid string) *parley.Message {
	m := e.msg(conv, parley.SystemUserID, cmid)
	m.Kind, m.Body = parley.KindSystem, json.RawMessage(`{"text":"default notice"}`)
	m.Variants = []parley.Variant{
		{Role: parley.RoleAgent, Body: json.RawMessage(`{"text":"agent notice"}`)},
		{Role: parley.RoleUser, Platform: parley.PlatformIOS, Body: json.RawMessage(`{"text":"ios notice"}`)},
	}
	return m
}

// testVariantsStoredWithMessage: a message's variants are stored once,
// with it, and every read that returns the message returns them:
// Messages, Conversations' Last, the stored original of a duplicate, and
// SearchMessages; a message without variants has none.
func (ss *storeSuite) testVariantsStoredWithMessage(t *testing.T) {
	e := ss.env(t)
	conv := e.direct(parley.SystemUserID, "alice")
	plain := e.msg(conv, parley.SystemUserID, "")
	m := e.variantsMsg(conv, "notice-1")
	want := append([]parley.Variant(nil), m.Variants...)
	for i, r := range e.append(plain, m) {
		if r.Err != nil || r.Dup {
			t.Fatalf("Append result %d: got %+v, want stored", i, r)
		}
	}
	check := func(what string, got []parley.Variant) {
		t.Helper()
		if d := cmp.Diff(want, got, storeCmpOpts()); d != "" {
			t.Errorf("%s: variants (-want +got):\n%s", what, d)
		}
	}
	msgs := e.all(conv)
	if len(msgs) != 2 {
		t.Fatalf("Messages: got %d messages, want 2", len(msgs))
	}
	if len(msgs[0].Variants) != 0 {
		t.Errorf("Messages: a message stored without variants came back with %d", len(msgs[0].Variants))
	}
	check("Messages", msgs[1].Variants)

	convs, err := e.s.Conversations(e.ctx, e.app, "alice", 0, 10)
	if err != nil || len(convs) != 1 || convs[0].Last == nil {
		t.Fatalf("Conversations: got %+v, %v; want one conversation with its last message", convs, err)
	}
	check("Conversations' Last", convs[0].Last.Variants)

	again := e.variantsMsg(conv, "notice-1")
	again.Variants = nil
	if r := e.append(again); !r[0].Dup {
		t.Fatalf("Append of a retry: got %+v, want a duplicate", r[0])
	}
	check("the stored original of a duplicate", again.Variants)

	res, err := e.s.SearchMessages(e.ctx, e.app, "alice", parley.SearchQuery{Text: "notice"})
	if err != nil || len(res.Msgs) != 1 {
		t.Fatalf("SearchMessages: got %+v, %v; want the notice", res, err)
	}
	check("SearchMessages", res.Msgs[0].Variants)
}

package parleytest

import (
	"testing"

	"github.com/parley-im/parley"
)

// testReviseMessage: a revision rewrites one stored message's kind and
// body and nothing else, and names only existing messages.
func (ss *storeSuite) testReviseMessage(t *testing.T) {
	e := ss.env(t)
	c := e.direct("alice", "bob")
	e.send(c, "alice", 3)
	before, err := e.s.Messages(e.ctx, e.app, c, parley.MessageRange{Limit: 10})
	if err != nil || len(before) != 3 {
		t.Fatalf("Messages: got %d, %v; want 3 messages", len(before), err)
	}
	if err := e.s.ReviseMessage(e.ctx, e.app, c, 2, parley.KindRecalled, []byte(`{}`)); err != nil {
		t.Fatalf("ReviseMessage: got error %v, want nil", err)
	}
	after, err := e.s.Messages(e.ctx, e.app, c, parley.MessageRange{Limit: 10})
	if err != nil || len(after) != 3 {
		t.Fatalf("Messages after the revision: got %d, %v; want 3 messages", len(after), err)
	}
	for i, m := range after {
		want := before[i]
		if i == 1 {
			want.Kind, want.Body = parley.KindRecalled, []byte(`{}`)
		}
		if m.Seq != want.Seq || m.ID != want.ID || m.Sender != want.Sender || m.Time != want.Time ||
			m.Kind != want.Kind || string(m.Body) != string(want.Body) {
			t.Errorf("message %d after revising message 2: got %+v, want %+v", i+1, m, want)
		}
	}
	err = e.s.ReviseMessage(e.ctx, e.app, c, 4, parley.KindRecalled, []byte(`{}`))
	wantStoreCode(t, "ReviseMessage of a seq past the last", err, parley.ENotFound)
	err = e.s.ReviseMessage(e.ctx, ss.id("app"), c, 1, parley.KindRecalled, []byte(`{}`))
	wantStoreCode(t, "ReviseMessage in another app", err, parley.ENotFound)
}

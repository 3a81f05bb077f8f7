package parleytest

import (
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/parley-im/parley"
)

func (ss *storeSuite) testMessages(t *testing.T) {
	e := ss.env(t)
	c := e.direct("alice", "bob")
	e.send(c, "alice", 10)
	for _, tc := range []struct {
		name string
		r    parley.MessageRange
		want []uint64
	}{
		{"oldest first", parley.MessageRange{Limit: 3}, []uint64{1, 2, 3}},
		{"everything", parley.MessageRange{Limit: 100}, []uint64{1, 2, 3, 4, 5, 6, 7, 8, 9, 10}},
		{"after", parley.MessageRange{After: 7, Limit: 100}, []uint64{8, 9, 10}},
		{"before", parley.MessageRange{Before: 4, Limit: 100}, []uint64{1, 2, 3}},
		{"after and before", parley.MessageRange{After: 2, Before: 8, Limit: 3}, []uint64{3, 4, 5}},
		{"newest", parley.MessageRange{Limit: 3, Newest: true}, []uint64{8, 9, 10}},
		{"newest before", parley.MessageRange{After: 2, Before: 8, Limit: 3, Newest: true}, []uint64{5, 6, 7}},
		{"newest, fewer than limit", parley.MessageRange{After: 8, Limit: 5, Newest: true}, []uint64{9, 10}},
		{"after the last", parley.MessageRange{After: 10, Limit: 5}, nil},
		{"before the first", parley.MessageRange{Before: 1, Limit: 5}, nil},
	} {
		got, err := e.s.Messages(e.ctx, e.app, c, tc.r)
		if err != nil {
			t.Fatalf("%s: Messages(%+v): got error %v, want nil", tc.name, tc.r, err)
		}
		if g := storedSeqs(got); !cmp.Equal(g, tc.want, storeCmpOpts()) {
			t.Errorf("%s: Messages(%+v): got seqs %v, want %v", tc.name, tc.r, g, tc.want)
		}
	}
	other, err := e.s.Messages(e.ctx, ss.id("app"), c, parley.MessageRange{Limit: 5})
	if err != nil || len(other) != 0 {
		t.Errorf("Messages of the same conversation id in another app: got %d messages, error %v, want none", len(other), err)
	}
}

func stateConvIDs(states []parley.ConvState) []string {
	out := make([]string, len(states))
	for i, s := range states {
		out[i] = s.ConvID
	}
	return out
}

// threeConvs gives alice three direct conversations whose last change
// comes in the order c2, c3, c1.
func (e *storeEnv) threeConvs() (c1, c2, c3 string) {
	e.t.Helper()
	c1, c2, c3 = e.direct("alice", "bob"), e.direct("alice", "carol"), e.direct("alice", "dave")
	e.send(c1, "bob", 1)
	e.send(c2, "carol", 1)
	e.send(c3, "alice", 1)
	e.send(c1, "bob", 1)
	return c1, c2, c3
}

func (e *storeEnv) changes(user string, since uint64, limit int) []parley.ConvState {
	e.t.Helper()
	got, err := e.s.Changes(e.ctx, e.app, user, since, limit)
	if err != nil {
		e.t.Fatalf("Changes(%s, %d, %d): got error %v, want nil", user, since, limit, err)
	}
	return got
}

func (ss *storeSuite) testChangesAscending(t *testing.T) {
	e := ss.env(t)
	c1, c2, c3 := e.threeConvs()
	got := e.changes("alice", 0, 100)
	if ids, want := stateConvIDs(got), []string{c2, c3, c1}; !cmp.Equal(ids, want) {
		t.Fatalf("Changes: got conversations %q, want %q (ascending Ver)", ids, want)
	}
	for i := 1; i < len(got); i++ {
		if got[i].Ver <= got[i-1].Ver {
			t.Errorf("Changes: Ver %d follows %d, want strictly ascending", got[i].Ver, got[i-1].Ver)
		}
	}
	want := parley.ConvState{ConvID: c1, Kind: parley.ConvDirect, Peer: "bob", LastSeq: 2, PeerReadSeq: 2, Unread: 2, Ver: got[2].Ver}
	if d := cmp.Diff(want, got[2]); d != "" {
		t.Errorf("Changes: state of %s (-want +got):\n%s", c1, d)
	}
}

func (ss *storeSuite) testChangesSinceLimit(t *testing.T) {
	e := ss.env(t)
	e.threeConvs()
	all := e.changes("alice", 0, 100)
	if len(all) != 3 {
		t.Fatalf("Changes: got %d conversations, want 3", len(all))
	}
	for _, tc := range []struct {
		name  string
		since uint64
		limit int
		want  []parley.ConvState
	}{
		{"since the first", all[0].Ver, 100, all[1:]},
		{"since the last", all[2].Ver, 100, nil},
		{"limit", 0, 1, all[:1]},
		{"since and limit", all[0].Ver, 1, all[1:2]},
	} {
		got := e.changes("alice", tc.since, tc.limit)
		if d := cmp.Diff(tc.want, got, storeCmpOpts()); d != "" {
			t.Errorf("%s: Changes(since %d, limit %d) (-want +got):\n%s", tc.name, tc.since, tc.limit, d)
		}
	}
}

func (ss *storeSuite) testChangesOnlyTheUsers(t *testing.T) {
	e := ss.env(t)
	mine := e.direct("alice", "bob")
	theirs := e.direct("bob", "carol")
	e.send(mine, "bob", 1)
	e.send(theirs, "bob", 1)
	if ids := stateConvIDs(e.changes("alice", 0, 100)); !cmp.Equal(ids, []string{mine}) {
		t.Errorf("Changes(alice): got %q, want only %q", ids, mine)
	}
	got, err := e.s.Changes(e.ctx, ss.id("app"), "alice", 0, 100)
	if err != nil || len(got) != 0 {
		t.Errorf("Changes(alice) in another app: got %q, error %v, want none", stateConvIDs(got), err)
	}
}

func (e *storeEnv) conversations(user string, beforeVer uint64, limit int) []parley.ConvState {
	e.t.Helper()
	got, err := e.s.Conversations(e.ctx, e.app, user, beforeVer, limit)
	if err != nil {
		e.t.Fatalf("Conversations(%s, %d, %d): got error %v, want nil", user, beforeVer, limit, err)
	}
	return got
}

func (ss *storeSuite) testConversationsNewestFirst(t *testing.T) {
	e := ss.env(t)
	c1, c2, c3 := e.threeConvs()
	quiet := e.direct("alice", "erin")
	got := e.conversations("alice", 0, 100)
	var withMessages []string
	for i, s := range got {
		if i > 0 && s.Ver >= got[i-1].Ver {
			t.Errorf("Conversations: Ver %d follows %d, want strictly descending", s.Ver, got[i-1].Ver)
		}
		if s.ConvID == quiet {
			if s.Last != nil {
				t.Errorf("Conversations: Last of a conversation without messages: got %+v, want nil", s.Last)
			}
			continue
		}
		withMessages = append(withMessages, s.ConvID)
		newest := e.all(s.ConvID)
		want := newest[len(newest)-1]
		if d := cmp.Diff(&want, s.Last, storeCmpOpts()); d != "" {
			t.Errorf("Conversations: Last of %s (-want +got):\n%s", s.ConvID, d)
		}
	}
	if want := []string{c1, c3, c2}; !cmp.Equal(withMessages, want) {
		t.Errorf("Conversations: got %q, want %q (most recently changed first)", withMessages, want)
	}
	if len(got) != 4 {
		t.Errorf("Conversations: got %d conversations, want 4 (one without messages)", len(got))
	}
}

func (ss *storeSuite) testConversationsBeforeVer(t *testing.T) {
	e := ss.env(t)
	e.threeConvs()
	all := e.conversations("alice", 0, 100)
	if len(all) != 3 {
		t.Fatalf("Conversations: got %d, want 3", len(all))
	}
	for _, tc := range []struct {
		name      string
		beforeVer uint64
		limit     int
		want      []parley.ConvState
	}{
		{"limit", 0, 2, all[:2]},
		{"before the newest", all[0].Ver, 100, all[1:]},
		{"before and limit", all[0].Ver, 1, all[1:2]},
		{"before the oldest", all[2].Ver, 100, nil},
	} {
		got := e.conversations("alice", tc.beforeVer, tc.limit)
		if d := cmp.Diff(tc.want, got, storeCmpOpts()); d != "" {
			t.Errorf("%s: Conversations(before %d, limit %d) (-want +got):\n%s", tc.name, tc.beforeVer, tc.limit, d)
		}
	}
}

func (ss *storeSuite) testMarkReadSteps(t *testing.T) {
	e := ss.env(t)
	c := e.direct("alice", "bob")
	e.send(c, "alice", 3)
	ver := e.state("bob", c).Ver
	for _, step := range []struct {
		seq       uint64
		wantRead  uint64
		wantMoved bool
	}{
		{0, 0, false},
		{2, 2, true},
		{1, 2, false}, // never back
		{2, 2, false},
		{99, 3, true}, // clamped to the last seq
		{3, 3, false},
	} {
		got, moved, err := e.s.MarkRead(e.ctx, e.app, c, "bob", step.seq)
		if err != nil {
			t.Fatalf("MarkRead(%d): got error %v, want nil", step.seq, err)
		}
		if moved != step.wantMoved || got.ReadSeq != step.wantRead || got.Unread != 3-step.wantRead || got.LastSeq != 3 {
			t.Errorf("MarkRead(%d): got moved %v, ReadSeq %d, Unread %d, LastSeq %d; want moved %v, ReadSeq %d, Unread %d, LastSeq 3",
				step.seq, moved, got.ReadSeq, got.Unread, got.LastSeq, step.wantMoved, step.wantRead, 3-step.wantRead)
		}
		if moved && got.Ver <= ver {
			t.Errorf("MarkRead(%d) moved: got Ver %d, want more than %d", step.seq, got.Ver, ver)
		}
		if !moved && got.Ver != ver {
			t.Errorf("MarkRead(%d) did not move: got Ver %d, want it unchanged at %d", step.seq, got.Ver, ver)
		}
		if d := cmp.Diff(e.state("bob", c), got); d != "" {
			t.Errorf("MarkRead(%d): returned state differs from Changes (-changes +returned):\n%s", step.seq, d)
		}
		ver = got.Ver
	}
}

func (ss *storeSuite) testMarkReadPeer(t *testing.T) {
	e := ss.env(t)
	c := e.direct("alice", "bob")
	e.send(c, "alice", 2)
	aliceVer := e.state("alice", c).Ver
	if _, _, err := e.s.MarkRead(e.ctx, e.app, c, "bob", 2); err != nil {
		t.Fatalf("MarkRead: got error %v, want nil", err)
	}
	got := e.changes("alice", aliceVer, 100)
	if len(got) != 1 || got[0].ConvID != c || got[0].PeerReadSeq != 2 || got[0].Ver <= aliceVer {
		t.Fatalf("alice's Changes after bob read: got %+v, want %s with PeerReadSeq 2 and Ver above %d", got, c, aliceVer)
	}
	if _, _, err := e.s.MarkRead(e.ctx, e.app, c, "bob", 2); err != nil {
		t.Fatalf("MarkRead again: got error %v, want nil", err)
	}
	if again := e.changes("alice", got[0].Ver, 100); len(again) != 0 {
		t.Errorf("alice's Changes after a MarkRead that did not move: got %+v, want none", again)
	}
}

func (ss *storeSuite) testMarkReadErrors(t *testing.T) {
	e := ss.env(t)
	c := e.direct("alice", "bob")
	e.send(c, "alice", 1)
	_, _, err := e.s.MarkRead(e.ctx, e.app, c, "eve", 1)
	wantStoreCode(t, "MarkRead by a non-member", err, parley.EForbidden)
	_, _, err = e.s.MarkRead(e.ctx, e.app, "d:alice:zed", "alice", 1)
	wantStoreCode(t, "MarkRead of an unknown conversation", err, parley.ENotFound)
}

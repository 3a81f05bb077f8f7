package parleytest

import (
	"fmt"
	"sync"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/parley-im/parley"
)

// Fixtures for conversations and messages.

// ensure creates conversations and fails the test on error.
func (e *storeEnv) ensure(convs ...parley.Conversation) {
	e.t.Helper()
	for i := range convs {
		convs[i].AppID = e.app
	}
	if err := e.s.EnsureConversations(e.ctx, convs); err != nil {
		e.t.Fatalf("EnsureConversations: got error %v, want nil", err)
	}
}

// direct creates the direct conversation of a and b and returns its id.
func (e *storeEnv) direct(a, b string) string {
	e.t.Helper()
	id := parley.DirectConvID(a, b)
	e.ensure(parley.Conversation{ID: id, Kind: parley.ConvDirect, Members: []string{a, b}})
	return id
}

// msg returns a new text message with a unique ID, ready for Append.
func (e *storeEnv) msg(conv, sender, cmid string) *parley.Message {
	id := e.ss.id("m")
	return &parley.Message{
		AppID: e.app, ConvID: conv, ID: id, Sender: sender, ClientMsgID: cmid,
		Kind: parley.KindText, Body: []byte(fmt.Sprintf(`{"text":%q}`, id)),
		Time: 1_700_000_000_000 + int64(e.ss.n.Load()),
	}
}

// append appends a batch and fails the test on a batch error.
func (e *storeEnv) append(msgs ...*parley.Message) []parley.AppendResult {
	e.t.Helper()
	res, err := e.s.Append(e.ctx, msgs)
	if err != nil {
		e.t.Fatalf("Append: got error %v, want nil", err)
	}
	if len(res) != len(msgs) {
		e.t.Fatalf("Append: got %d results, want %d", len(res), len(msgs))
	}
	return res
}

// send appends n messages without client ids from sender, one batch.
func (e *storeEnv) send(conv, sender string, n int) []*parley.Message {
	e.t.Helper()
	msgs := make([]*parley.Message, n)
	for i := range msgs {
		msgs[i] = e.msg(conv, sender, "")
	}
	for i, r := range e.append(msgs...) {
		if r.Err != nil || r.Dup {
			e.t.Fatalf("Append result %d: got %+v, want no error and no dup", i, r)
		}
	}
	return msgs
}

// all returns every message of a conversation, paging through Messages.
func (e *storeEnv) all(conv string) []parley.Message {
	e.t.Helper()
	var out []parley.Message
	for {
		var after uint64
		if len(out) > 0 {
			after = out[len(out)-1].Seq
		}
		page, err := e.s.Messages(e.ctx, e.app, conv, parley.MessageRange{After: after, Limit: 100})
		if err != nil {
			e.t.Fatalf("Messages: got error %v, want nil", err)
		}
		if len(page) == 0 {
			return out
		}
		out = append(out, page...)
	}
}

// states returns the user's conversation states by conversation id.
func (e *storeEnv) states(user string) map[string]parley.ConvState {
	e.t.Helper()
	got, err := e.s.Changes(e.ctx, e.app, user, 0, 100)
	if err != nil {
		e.t.Fatalf("Changes(%s): got error %v, want nil", user, err)
	}
	m := make(map[string]parley.ConvState, len(got))
	for _, s := range got {
		m[s.ConvID] = s
	}
	return m
}

// state returns the user's state of one conversation.
func (e *storeEnv) state(user, conv string) parley.ConvState {
	e.t.Helper()
	s, ok := e.states(user)[conv]
	if !ok {
		e.t.Fatalf("Changes(%s, since 0): conversation %s missing", user, conv)
	}
	return s
}

// maxVer returns the highest Ver of the user's conversations.
func (e *storeEnv) maxVer(user string) uint64 {
	e.t.Helper()
	var v uint64
	for _, s := range e.states(user) {
		v = max(v, s.Ver)
	}
	return v
}

func msgSeqs(msgs []*parley.Message) []uint64 {
	out := make([]uint64, len(msgs))
	for i, m := range msgs {
		out[i] = m.Seq
	}
	return out
}

func storedSeqs(msgs []parley.Message) []uint64 {
	out := make([]uint64, len(msgs))
	for i, m := range msgs {
		out[i] = m.Seq
	}
	return out
}

func (ss *storeSuite) testEnsureCreates(t *testing.T) {
	e := ss.env(t)
	d := parley.DirectConvID("alice", "bob")
	e.ensure(
		parley.Conversation{ID: d, Kind: parley.ConvDirect, Members: []string{"bob", "alice"}},
		parley.Conversation{ID: "g1", Kind: "group", Members: []string{"zed", "amy", "kim"}},
	)
	for conv, want := range map[string][]string{d: {"alice", "bob"}, "g1": {"amy", "kim", "zed"}} {
		got, err := e.s.Members(e.ctx, e.app, conv)
		if err != nil {
			t.Fatalf("Members(%s): got error %v, want nil", conv, err)
		}
		if !cmp.Equal(got, want) {
			t.Errorf("Members(%s): got %q, want %q", conv, got, want)
		}
	}
}

func (ss *storeSuite) testEnsureIdempotent(t *testing.T) {
	e := ss.env(t)
	c := e.direct("alice", "bob")
	e.send(c, "alice", 2)
	e.direct("alice", "bob")
	e.ensure(parley.Conversation{ID: c, Kind: parley.ConvDirect, Members: []string{"alice", "bob", "eve"}})
	got, err := e.s.Members(e.ctx, e.app, c)
	if err != nil {
		t.Fatalf("Members: got error %v, want nil", err)
	}
	if want := []string{"alice", "bob"}; !cmp.Equal(got, want) {
		t.Errorf("Members after ensuring again with other members: got %q, want %q", got, want)
	}
	if s := e.state("alice", c); s.LastSeq != 2 {
		t.Errorf("LastSeq after ensuring again: got %d, want 2", s.LastSeq)
	}
	if got := msgSeqs(e.send(c, "bob", 1)); got[0] != 3 {
		t.Errorf("seq of the next message after ensuring again: got %d, want 3", got[0])
	}
}

func (ss *storeSuite) testIsMember(t *testing.T) {
	e := ss.env(t)
	c := e.direct("alice", "bob")
	for _, tc := range []struct {
		name, app, conv, user, code string
	}{
		{"member", e.app, c, "alice", ""},
		{"other member", e.app, c, "bob", ""},
		{"not a member", e.app, c, "eve", parley.EForbidden},
		{"no such conversation", e.app, "d:alice:zed", "alice", parley.ENotFound},
		{"other app", ss.id("app"), c, "alice", parley.ENotFound},
	} {
		wantStoreCode(t, "IsMember "+tc.name, e.s.IsMember(e.ctx, tc.app, tc.conv, tc.user), tc.code)
	}
}

func (ss *storeSuite) testMembersMissing(t *testing.T) {
	e := ss.env(t)
	_, err := e.s.Members(e.ctx, e.app, "d:no:one")
	wantStoreCode(t, "Members of an unknown conversation", err, parley.ENotFound)
}

func (ss *storeSuite) testAppendEmpty(t *testing.T) {
	e := ss.env(t)
	res, err := e.s.Append(e.ctx, nil)
	if err != nil || len(res) != 0 {
		t.Errorf("Append(nil): got %v, %v, want no results and nil", res, err)
	}
}

func (ss *storeSuite) testAppendSeqs(t *testing.T) {
	e := ss.env(t)
	c1, c2 := e.direct("alice", "bob"), e.direct("alice", "carol")
	batch := []*parley.Message{e.msg(c1, "alice", ""), e.msg(c2, "alice", ""), e.msg(c1, "bob", ""),
		e.msg(c1, "alice", ""), e.msg(c2, "carol", "")}
	for i, r := range e.append(batch...) {
		if r.Err != nil || r.Dup {
			t.Errorf("result %d: got %+v, want no error and no dup", i, r)
		}
	}
	if got, want := msgSeqs(batch), []uint64{1, 1, 2, 3, 2}; !cmp.Equal(got, want) {
		t.Errorf("seqs of the first batch: got %v, want %v", got, want)
	}
	next := []*parley.Message{e.msg(c2, "alice", ""), e.msg(c1, "alice", "")}
	e.append(next...)
	if got, want := msgSeqs(next), []uint64{3, 4}; !cmp.Equal(got, want) {
		t.Errorf("seqs of the second batch: got %v, want %v", got, want)
	}
	var wantIDs []string
	for _, m := range append(batch, next...) {
		if m.ConvID == c1 {
			wantIDs = append(wantIDs, m.ID)
		}
	}
	stored := e.all(c1)
	var gotIDs []string
	for _, m := range stored {
		gotIDs = append(gotIDs, m.ID)
	}
	if !cmp.Equal(gotIDs, wantIDs) || !cmp.Equal(storedSeqs(stored), []uint64{1, 2, 3, 4}) {
		t.Errorf("stored messages of %s: got ids %v seqs %v, want ids %v seqs [1 2 3 4]",
			c1, gotIDs, storedSeqs(stored), wantIDs)
	}
}

func (ss *storeSuite) testAppendStoresFields(t *testing.T) {
	e := ss.env(t)
	c := e.direct("alice", "bob")
	m := e.msg(c, "alice", "cm-1")
	m.Kind, m.Body, m.Time = parley.KindCustom, []byte(`{"card": {"sku": "x1", "qty": 2}}`), 1_700_000_123_456
	e.append(m)
	got := e.all(c)
	if d := cmp.Diff([]parley.Message{*m}, got, storeCmpOpts()); d != "" {
		t.Errorf("Messages after Append (-want +got):\n%s", d)
	}
}

func (ss *storeSuite) testAppendDupWithinBatch(t *testing.T) {
	e := ss.env(t)
	c := e.direct("alice", "bob")
	m1, m2, m3 := e.msg(c, "alice", "x"), e.msg(c, "alice", "x"), e.msg(c, "alice", "")
	res := e.append(m1, m2, m3)
	if res[0].Dup || !res[1].Dup || res[2].Dup {
		t.Errorf("Dup flags: got %v %v %v, want false true false", res[0].Dup, res[1].Dup, res[2].Dup)
	}
	if d := cmp.Diff(*m1, *m2, storeCmpOpts()); d != "" {
		t.Errorf("duplicate not overwritten with the stored message (-stored +got):\n%s", d)
	}
	if got, want := msgSeqs([]*parley.Message{m1, m3}), []uint64{1, 2}; !cmp.Equal(got, want) {
		t.Errorf("seqs around a duplicate: got %v, want %v (a duplicate uses no seq)", got, want)
	}
	if got := len(e.all(c)); got != 2 {
		t.Errorf("stored messages: got %d, want 2", got)
	}
}

func (ss *storeSuite) testAppendDupAcrossBatches(t *testing.T) {
	e := ss.env(t)
	c := e.direct("alice", "bob")
	m1 := e.msg(c, "alice", "x")
	e.append(m1)
	m2, m3 := e.msg(c, "alice", "x"), e.msg(c, "alice", "")
	res := e.append(m2, m3)
	if !res[0].Dup || res[1].Dup {
		t.Errorf("Dup flags: got %v %v, want true false", res[0].Dup, res[1].Dup)
	}
	if d := cmp.Diff(*m1, *m2, storeCmpOpts()); d != "" {
		t.Errorf("duplicate not overwritten with the stored message (-stored +got):\n%s", d)
	}
	if m3.Seq != 2 {
		t.Errorf("seq after a duplicate: got %d, want 2", m3.Seq)
	}
	if s := e.state("alice", c); s.LastSeq != 2 {
		t.Errorf("LastSeq: got %d, want 2", s.LastSeq)
	}
}

func (ss *storeSuite) testAppendDupSameSender(t *testing.T) {
	e := ss.env(t)
	c := e.direct("alice", "bob")
	m1, m2 := e.msg(c, "alice", "x"), e.msg(c, "bob", "x")
	res := e.append(m1, m2)
	if res[0].Dup || res[1].Dup {
		t.Errorf("same client id from two senders: got Dup %v %v, want false false", res[0].Dup, res[1].Dup)
	}
	if got, want := msgSeqs([]*parley.Message{m1, m2}), []uint64{1, 2}; !cmp.Equal(got, want) {
		t.Errorf("seqs: got %v, want %v", got, want)
	}
}

func (ss *storeSuite) testAppendEmptyCMID(t *testing.T) {
	e := ss.env(t)
	c := e.direct("alice", "bob")
	e.send(c, "alice", 2)
	e.send(c, "alice", 1)
	if got, want := storedSeqs(e.all(c)), []uint64{1, 2, 3}; !cmp.Equal(got, want) {
		t.Errorf("messages without client ids: got seqs %v, want %v", got, want)
	}
}

func (ss *storeSuite) testAppendMissingConv(t *testing.T) {
	e := ss.env(t)
	c := e.direct("alice", "bob")
	m1, m2, m3 := e.msg(c, "alice", "a"), e.msg("d:alice:zed", "alice", "b"), e.msg(c, "alice", "c")
	res := e.append(m1, m2, m3)
	wantStoreCode(t, "result 0", res[0].Err, "")
	wantStoreCode(t, "result 1 (no such conversation)", res[1].Err, parley.ENotFound)
	wantStoreCode(t, "result 2", res[2].Err, "")
	if got, want := msgSeqs([]*parley.Message{m1, m3}), []uint64{1, 2}; !cmp.Equal(got, want) {
		t.Errorf("seqs: got %v, want %v", got, want)
	}
	if got := len(e.all(c)); got != 2 {
		t.Errorf("stored messages: got %d, want 2", got)
	}
}

func (ss *storeSuite) testAppendReadCursor(t *testing.T) {
	e := ss.env(t)
	c := e.direct("alice", "bob")
	e.send(c, "alice", 2)
	ignoreVer := cmp.FilterPath(func(p cmp.Path) bool { return p.Last().String() == ".Ver" }, cmp.Ignore())
	want := map[string]parley.ConvState{
		"alice": {ConvID: c, Kind: parley.ConvDirect, Peer: "bob", LastSeq: 2, ReadSeq: 2},
		"bob":   {ConvID: c, Kind: parley.ConvDirect, Peer: "alice", LastSeq: 2, PeerReadSeq: 2, Unread: 2},
	}
	for user, w := range want {
		if d := cmp.Diff(w, e.state(user, c), ignoreVer); d != "" {
			t.Errorf("state of %s after alice sent 2 (-want +got):\n%s", user, d)
		}
	}
	e.send(c, "bob", 1)
	want = map[string]parley.ConvState{
		"alice": {ConvID: c, Kind: parley.ConvDirect, Peer: "bob", LastSeq: 3, ReadSeq: 2, PeerReadSeq: 3, Unread: 1},
		"bob":   {ConvID: c, Kind: parley.ConvDirect, Peer: "alice", LastSeq: 3, ReadSeq: 3, PeerReadSeq: 2},
	}
	for user, w := range want {
		if d := cmp.Diff(w, e.state(user, c), ignoreVer); d != "" {
			t.Errorf("state of %s after bob replied (-want +got):\n%s", user, d)
		}
	}
	// Both senders in one batch: each cursor moves to its own newest.
	e.append(e.msg(c, "alice", ""), e.msg(c, "bob", ""), e.msg(c, "alice", ""))
	for user, want := range map[string]uint64{"alice": 6, "bob": 5} {
		if got := e.state(user, c).ReadSeq; got != want {
			t.Errorf("ReadSeq of %s after a batch with both senders: got %d, want %d", user, got, want)
		}
	}
}

func (ss *storeSuite) testAppendVer(t *testing.T) {
	e := ss.env(t)
	e.ensure(parley.Conversation{ID: "g1", Kind: "group", Members: []string{"amy", "kim", "zed"}})
	members := []string{"amy", "kim", "zed"}
	for round := range 3 {
		before := map[string]uint64{}
		for _, u := range members {
			before[u] = e.maxVer(u)
		}
		e.send("g1", members[round], 1)
		for _, u := range members {
			if got := e.state(u, "g1").Ver; got <= before[u] {
				t.Errorf("round %d: Ver of %s: got %d, want more than %d", round, u, got, before[u])
			}
		}
	}
}

func (ss *storeSuite) testAppendVerAcrossConvs(t *testing.T) {
	e := ss.env(t)
	c1, c2 := e.direct("alice", "bob"), e.direct("alice", "carol")
	for i, c := range []string{c1, c2, c1, c2, c2, c1} {
		before := e.maxVer("alice")
		e.send(c, "bob", 1)
		if got := e.state("alice", c).Ver; got <= before {
			t.Errorf("append %d to %s: alice's Ver got %d, want more than every earlier Ver of hers (%d)", i, c, got, before)
		}
	}
}

func (ss *storeSuite) testAppendConcurrent(t *testing.T) {
	e := ss.env(t)
	c := e.direct("alice", "bob")
	const workers, batches, per = 8, 20, 5
	sent := make([][]*parley.Message, workers)
	var wg sync.WaitGroup
	for w := range workers {
		sender := []string{"alice", "bob"}[w%2]
		for range batches * per {
			sent[w] = append(sent[w], e.msg(c, sender, e.ss.id("cm")))
		}
		wg.Go(func() {
			for b := range batches {
				batch := sent[w][b*per : (b+1)*per]
				res, err := e.s.Append(e.ctx, batch)
				if err != nil {
					t.Errorf("worker %d: Append: got error %v, want nil", w, err)
					return
				}
				for i, r := range res {
					if r.Err != nil || r.Dup {
						t.Errorf("worker %d: result %d: got %+v, want no error and no dup", w, i, r)
					}
				}
			}
		})
	}
	wg.Wait()
	stored := e.all(c)
	for i, m := range stored {
		if m.Seq != uint64(i+1) {
			t.Fatalf("stored message %d: got seq %d, want %d (seqs must be 1..N without gap or repeat)", i, m.Seq, i+1)
		}
	}
	if got, want := len(stored), workers*batches*per; got != want {
		t.Errorf("stored messages: got %d, want %d", got, want)
	}
	for w, msgs := range sent {
		for i := 1; i < len(msgs); i++ {
			if msgs[i].Seq <= msgs[i-1].Seq {
				t.Errorf("worker %d: message %d got seq %d after %d, want input order", w, i, msgs[i].Seq, msgs[i-1].Seq)
				break
			}
		}
	}
}

package eventstest

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
	"github.com/oklog/ulid/v2"

	"github.com/parley-im/parley"
	"github.com/parley-im/parley/internal/events"
)

// OutboxStore is a parley.Store with its transactional outbox.
type OutboxStore interface {
	parley.Store
	events.Outbox
}

// RunOutboxTests runs the contract of events.Outbox, which includes what
// the store's writes must put in the outbox, against the stores open
// returns (one per subtest; closing is open's business). Every subtest
// works in an app of its own and only looks at that app's rows, so a
// shared database works; its other rows are read but never deleted.
func RunOutboxTests(t *testing.T, open func(t *testing.T) OutboxStore) {
	a := &apps{prefix: runPrefix()}
	t.Run("AppendWritesOneRow", func(t *testing.T) {
		e := newOutboxEnv(t, open(t), a.next())
		ab, ac := e.direct("ann", "bob"), e.direct("ann", "cat")
		ms := []*parley.Message{e.msg(ab, "ann", "c1"), e.msg(ac, "cat", "c2"), e.msg(ab, "bob", "c3"), e.msg(ab, "ann", "c1")}
		e.append(ms...)
		e.append(e.msg(ab, "bob", "c4"))
		want := []events.OutboxRow{
			{Msgs: []events.MsgRange{{App: e.app, Conv: ab, First: 1, Last: 2}, {App: e.app, Conv: ac, First: 1, Last: 1}}},
			{Msgs: []events.MsgRange{{App: e.app, Conv: ab, First: 3, Last: 3}}},
		}
		e.wantRows("two Appends (the first with a duplicate)", want)
	})
	t.Run("DuplicatesAndMissingWriteNothing", func(t *testing.T) {
		e := newOutboxEnv(t, open(t), a.next())
		ab := e.direct("ann", "bob")
		e.append(e.msg(ab, "ann", "c1"))
		e.drain()
		e.append(e.msg(ab, "ann", "c1"), e.msg(ab, "ann", "c1"))
		missing := e.msg("d:ann:zed", "ann", "c9")
		res, err := e.s.Append(e.ctx, []*parley.Message{missing})
		if err != nil || res[0].Err == nil {
			e.t.Fatalf("Append to a missing conversation: got %+v, %v; want a per-message error", res, err)
		}
		e.wantRows("a batch of duplicates only, and one to a missing conversation", nil)
		res, err = e.s.Append(e.ctx, []*parley.Message{e.msg("d:ann:zed", "ann", "c10"), e.msg(ab, "bob", "c11")})
		if err != nil || res[0].Err == nil || res[1].Err != nil {
			e.t.Fatalf("Append to a missing and an existing conversation: got %+v, %v", res, err)
		}
		e.wantRows("one stored, one to a missing conversation", []events.OutboxRow{
			{Msgs: []events.MsgRange{{App: e.app, Conv: ab, First: 2, Last: 2}}},
		})
	})
	t.Run("MarkReadWritesARowWhenTheCursorMoves", func(t *testing.T) {
		e := newOutboxEnv(t, open(t), a.next())
		ab := e.direct("ann", "bob")
		e.append(e.msg(ab, "ann", "c1"), e.msg(ab, "ann", "c2"), e.msg(ab, "ann", "c3"))
		e.drain()
		for _, seq := range []uint64{2, 2, 1, 9, 9} { // 9 is clamped to 3
			if _, _, err := e.s.MarkRead(e.ctx, e.app, ab, "bob", seq); err != nil {
				t.Fatalf("MarkRead(%d): %v", seq, err)
			}
		}
		e.wantRows("bob reads to 2, 2, 1, 9 (3), 9", []events.OutboxRow{
			{Read: &events.ReadCursor{App: e.app, Conv: ab, User: "bob", Seq: 2}},
			{Read: &events.ReadCursor{App: e.app, Conv: ab, User: "bob", Seq: 3}},
		})
	})
	t.Run("GroupChangesWriteRows", func(t *testing.T) {
		e := newOutboxEnv(t, open(t), a.next())
		g := &parley.Group{AppID: e.app, ID: "team", Name: "Team", Owner: "ann", MaxMembers: 10}
		created := e.sysMsg()
		created.Body = parley.CreatedBody(g, "ann", []string{"bob"})
		if err := e.s.CreateGroup(e.ctx, g, []string{"bob"}, created); err != nil {
			t.Fatalf("CreateGroup: %v", err)
		}
		conv := parley.GroupConvID("team")
		add := parley.GroupChange{AppID: e.app, GroupID: "team", Actor: "ann", Event: parley.EventJoined, Users: []string{"cat"}, Now: 1_700_000_000_000}
		for i, wantChanged := range []bool{true, false} { // adding cat again changes nothing
			changed, err := e.s.ChangeGroup(e.ctx, add, e.sysMsg())
			if err != nil || changed != wantChanged {
				t.Fatalf("ChangeGroup add %d: got %v, %v; want changed %v", i, changed, err, wantChanged)
			}
		}
		e.append(e.msg(conv, "cat", "c1"))
		e.wantRows("create, add, add again, a message", []events.OutboxRow{
			{Msgs: []events.MsgRange{{App: e.app, Conv: conv, First: 1, Last: 1}}},
			{Msgs: []events.MsgRange{{App: e.app, Conv: conv, First: 2, Last: 2}}},
			{Msgs: []events.MsgRange{{App: e.app, Conv: conv, First: 3, Last: 3}}},
		})
	})
	t.Run("RowsInCommitOrderAndDelete", func(t *testing.T) {
		e := newOutboxEnv(t, open(t), a.next())
		ab := e.direct("ann", "bob")
		e.append(e.msg(ab, "ann", "c1"))
		if _, _, err := e.s.MarkRead(e.ctx, e.app, ab, "bob", 1); err != nil {
			t.Fatal(err)
		}
		e.append(e.msg(ab, "bob", "c2"))
		rows := e.rows()
		if len(rows) != 3 || !(rows[0].ID < rows[1].ID && rows[1].ID < rows[2].ID) || rows[1].Read == nil {
			t.Fatalf("append, read, append: got rows %+v, want three in that order with ascending ids", rows)
		}
		before := time.Now().Add(-time.Hour).UnixMilli()
		for _, r := range rows {
			if r.Time < before || r.Time > time.Now().Add(time.Hour).UnixMilli() {
				t.Errorf("row %d: Time %d is not the commit time in Unix ms", r.ID, r.Time)
			}
		}
		if err := e.s.DeleteOutbox(e.ctx, []int64{rows[0].ID, rows[2].ID}); err != nil {
			t.Fatalf("DeleteOutbox: %v", err)
		}
		if got := e.rows(); len(got) != 1 || got[0].ID != rows[1].ID {
			t.Fatalf("after deleting the first and last: got %+v, want the read row only", got)
		}
		if err := e.s.DeleteOutbox(e.ctx, []int64{rows[0].ID, rows[1].ID}); err != nil {
			t.Fatalf("DeleteOutbox of a deleted id and a present one: got %v, want nil", err)
		}
		if got := e.rows(); len(got) != 0 {
			t.Fatalf("after deleting all: got %+v", got)
		}
		if err := e.s.DeleteOutbox(e.ctx, nil); err != nil {
			t.Fatalf("DeleteOutbox(nil): got %v", err)
		}
	})
	t.Run("LimitTakesTheOldest", func(t *testing.T) {
		e := newOutboxEnv(t, open(t), a.next())
		ab := e.direct("ann", "bob")
		for i := range 5 {
			e.append(e.msg(ab, "ann", fmt.Sprint("c", i)))
		}
		all := e.rows()
		// Other tests' rows may be older than these: page through with the
		// limit, deleting nothing but this app's.
		var got []int64
		for len(got) < 5 {
			rows, err := e.s.OutboxRows(e.ctx, 2)
			if err != nil || len(rows) == 0 || len(rows) > 2 {
				t.Fatalf("OutboxRows(2): got %d rows, %v", len(rows), err)
			}
			mine := e.mine(rows)
			if len(mine) == 0 {
				t.Skip("the oldest rows belong to others; cannot page past them without deleting them")
			}
			got = append(got, mine[0].ID)
			if err := e.s.DeleteOutbox(e.ctx, []int64{mine[0].ID}); err != nil {
				t.Fatal(err)
			}
		}
		want := []int64{all[0].ID, all[1].ID, all[2].ID, all[3].ID, all[4].ID}
		if !slices.Equal(got, want) {
			t.Fatalf("oldest first, two at a time: got %v, want %v", got, want)
		}
	})
}

// outboxEnv is one subtest's app in a store.
type outboxEnv struct {
	t   *testing.T
	ctx context.Context
	s   OutboxStore
	app string
	n   int
}

func newOutboxEnv(t *testing.T, s OutboxStore, app string) *outboxEnv {
	e := &outboxEnv{t: t, ctx: t.Context(), s: s, app: app}
	if err := s.CreateApp(e.ctx, &parley.App{ID: app, Name: app, KeyHash: []byte("k"), TokenSecret: []byte("s"),
		CreatedAt: time.Now()}); err != nil {
		t.Fatalf("CreateApp: %v", err)
	}
	var users []parley.User
	for _, u := range []string{"ann", "bob", "cat"} {
		users = append(users, parley.User{ID: u, Name: u, Role: parley.RoleUser})
	}
	if err := s.UpsertUsers(e.ctx, app, users); err != nil {
		t.Fatalf("UpsertUsers: %v", err)
	}
	return e
}

func (e *outboxEnv) direct(a, b string) string {
	e.t.Helper()
	id := parley.DirectConvID(a, b)
	if err := e.s.EnsureConversations(e.ctx, []parley.Conversation{{AppID: e.app, ID: id, Kind: parley.ConvDirect, Members: []string{a, b}}}); err != nil {
		e.t.Fatalf("EnsureConversations: %v", err)
	}
	return id
}

func (e *outboxEnv) msg(conv, from, cmid string) *parley.Message {
	e.n++
	return &parley.Message{AppID: e.app, ConvID: conv, ID: ulid.Make().String(), Sender: from,
		ClientMsgID: cmid, Kind: parley.KindText, Body: json.RawMessage(`{"text":"hi"}`), Time: 1_700_000_000_000 + int64(e.n)}
}

func (e *outboxEnv) sysMsg() *parley.Message {
	m := e.msg("", parley.SystemUserID, "")
	m.Kind, m.Body = parley.KindSystem, json.RawMessage(`{}`)
	return m
}

func (e *outboxEnv) append(ms ...*parley.Message) {
	e.t.Helper()
	res, err := e.s.Append(e.ctx, ms)
	if err != nil {
		e.t.Fatalf("Append: %v", err)
	}
	for i, r := range res {
		if r.Err != nil {
			e.t.Fatalf("Append: message %d: %v", i, r.Err)
		}
	}
}

// mine keeps the rows of e's app.
func (e *outboxEnv) mine(rows []events.OutboxRow) []events.OutboxRow {
	var out []events.OutboxRow
	for _, r := range rows {
		ok := r.Read != nil && r.Read.App == e.app
		for _, m := range r.Msgs {
			ok = ok || m.App == e.app
		}
		if ok {
			out = append(out, r)
		}
	}
	return out
}

// rows returns every outbox row of e's app, oldest first.
func (e *outboxEnv) rows() []events.OutboxRow {
	e.t.Helper()
	rows, err := e.s.OutboxRows(e.ctx, 1_000_000)
	if err != nil {
		e.t.Fatalf("OutboxRows: %v", err)
	}
	return e.mine(rows)
}

// drain deletes e's app's rows.
func (e *outboxEnv) drain() {
	e.t.Helper()
	var ids []int64
	for _, r := range e.rows() {
		ids = append(ids, r.ID)
	}
	if err := e.s.DeleteOutbox(e.ctx, ids); err != nil {
		e.t.Fatalf("DeleteOutbox: %v", err)
	}
}

// wantRows checks e's app's rows, ignoring their ids and times, and
// deletes them.
func (e *outboxEnv) wantRows(what string, want []events.OutboxRow) {
	e.t.Helper()
	got := e.rows()
	strip := make([]events.OutboxRow, len(got))
	for i, r := range got {
		strip[i] = events.OutboxRow{Msgs: r.Msgs, Read: r.Read}
	}
	if diff := cmp.Diff(want, strip, cmpopts.EquateEmpty()); diff != "" {
		e.t.Fatalf("outbox rows after %s (-want +got):\n%s", what, diff)
	}
	e.drain()
}

package sqlite

import (
	"context"
	"encoding/json"
	"path/filepath"
	"slices"
	"testing"

	"github.com/parley-im/parley"
	"github.com/parley-im/parley/internal/events"
)

// TestAppendFromOutbox: AppendFromOutbox appends the events and deletes
// the outbox rows together, and when it fails (before its transaction,
// or inside it after the events went in) it leaves both as they were.
func TestAppendFromOutbox(t *testing.T) {
	ctx := t.Context()
	db, err := Open(ctx, filepath.Join(t.TempDir(), "parley.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	ab := parley.DirectConvID("ann", "bob")
	if err := db.EnsureConversations(ctx, []parley.Conversation{{AppID: "app", ID: ab, Kind: parley.ConvDirect, Members: []string{"ann", "bob"}}}); err != nil {
		t.Fatal(err)
	}
	for _, id := range []string{"01JAAAAAAAAAAAAAAAAAAAAAA1", "01JAAAAAAAAAAAAAAAAAAAAAA2"} { // two outbox rows
		if _, err := db.Append(ctx, []*parley.Message{{AppID: "app", ConvID: ab, ID: id, Sender: "ann", Kind: parley.KindText,
			Body: json.RawMessage(`{"text":"hi"}`), Time: 1}}); err != nil {
			t.Fatal(err)
		}
	}
	rows, err := db.OutboxRows(ctx, 10)
	if err != nil || len(rows) != 2 {
		t.Fatalf("outbox: %+v, %v; want two rows", rows, err)
	}
	ms, err := db.MessagesInRanges(ctx, append(rows[0].Msgs, rows[1].Msgs...), 10)
	if err != nil || len(ms) != 2 {
		t.Fatalf("messages: %+v, %v", ms, err)
	}
	var evs []events.Event
	var want []string
	for i := range ms {
		e, err := events.MessageEvent(&ms[i])
		if err != nil {
			t.Fatal(err)
		}
		evs, want = append(evs, e), append(want, e.ID)
	}
	ids := []int64{rows[0].ID, rows[1].ID}
	l := db.EventLog()
	unchanged := func(what string) {
		t.Helper()
		if got, err := l.Read(ctx, "app", 0, 0); err != nil || len(got) != 0 {
			t.Errorf("%s: the log holds %+v, %v; want nothing", what, got, err)
		}
		if got, err := db.OutboxRows(ctx, 10); err != nil || len(got) != 2 {
			t.Errorf("%s: the outbox holds %+v, %v; want its two rows", what, got, err)
		}
	}

	canceled, cancel := context.WithCancel(ctx)
	cancel()
	if err := l.AppendFromOutbox(canceled, evs, ids); err == nil {
		t.Fatal("AppendFromOutbox with a canceled context: no error")
	}
	unchanged("after a canceled AppendFromOutbox")

	// A delete that fails inside the transaction, after the inserts.
	if _, err := db.w.ExecContext(ctx, `CREATE TRIGGER outbox_undeletable BEFORE DELETE ON outbox BEGIN SELECT RAISE(ABORT, 'no'); END`); err != nil {
		t.Fatal(err)
	}
	if err := l.AppendFromOutbox(ctx, evs, ids); err == nil {
		t.Fatal("AppendFromOutbox whose delete fails: no error")
	}
	unchanged("after an AppendFromOutbox whose delete failed")
	if _, err := db.w.ExecContext(ctx, `DROP TRIGGER outbox_undeletable`); err != nil {
		t.Fatal(err)
	}

	if err := l.AppendFromOutbox(ctx, evs, ids); err != nil {
		t.Fatal(err)
	}
	got, err := l.Read(ctx, "app", 0, 0)
	if err != nil {
		t.Fatal(err)
	}
	var gotIDs []string
	for i, e := range got {
		if e.Offset != uint64(i+1) || string(e.Data) != string(evs[i].Data) {
			t.Errorf("event %d: got %+v, want %+v at offset %d", i, e, evs[i], i+1)
		}
		gotIDs = append(gotIDs, e.ID)
	}
	if !slices.Equal(gotIDs, want) {
		t.Errorf("log: got %q, want %q", gotIDs, want)
	}
	if rows, err := db.OutboxRows(ctx, 10); err != nil || len(rows) != 0 {
		t.Errorf("outbox after AppendFromOutbox: %+v, %v; want empty", rows, err)
	}
	// Again, as after a crash: the ids are skipped, the rows already gone.
	if err := l.AppendFromOutbox(ctx, evs, ids); err != nil {
		t.Fatal(err)
	}
	if last, err := l.Last(ctx, "app"); err != nil || last != 2 {
		t.Errorf("after appending the same events again: last %d, %v; want 2", last, err)
	}
	if err := l.AppendFromOutbox(ctx, []events.Event{{App: "app"}}, nil); err == nil {
		t.Error("AppendFromOutbox of an invalid event: no error")
	}
}

// TestEventLogHasOutbox: the log keeps the outbox of its own DB and of a
// type embedding it (as the server's store does), not another DB's nor
// one behind an interface that hides the DB.
func TestEventLogHasOutbox(t *testing.T) {
	open := func() *DB {
		db, err := Open(t.Context(), filepath.Join(t.TempDir(), "parley.db"))
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = db.Close() })
		return db
	}
	db, other := open(), open()
	l := db.EventLog()
	for _, tc := range []struct {
		name string
		o    events.Outbox
		want bool
	}{
		{"its DB", db, true},
		{"a struct embedding its DB", struct{ *DB }{db}, true},
		{"another DB", other, false},
		{"its DB behind events.Outbox", struct{ events.Outbox }{db}, false},
	} {
		if got := l.HasOutbox(tc.o); got != tc.want {
			t.Errorf("%s: HasOutbox %v, want %v", tc.name, got, tc.want)
		}
	}
}

package sqlite_test

import (
	"context"
	"os"
	"path/filepath"
	"testing"

	"go.uber.org/goleak"

	"github.com/parley-im/parley"
	"github.com/parley-im/parley/internal/parleytest"
	"github.com/parley-im/parley/internal/sqlite"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

// mustOpen opens a store on a new file in t's temp dir and closes it when
// the test ends.
func mustOpen(tb testing.TB, path string) *sqlite.DB {
	tb.Helper()
	db, err := sqlite.Open(context.Background(), path)
	if err != nil {
		tb.Fatalf("Open(%s): got error %v, want nil", path, err)
	}
	tb.Cleanup(func() {
		if err := db.Close(); err != nil {
			tb.Errorf("Close: got error %v, want nil", err)
		}
	})
	return db
}

func TestStore(t *testing.T) {
	parleytest.RunStoreTests(t, func(t *testing.T) parley.Store {
		return mustOpen(t, filepath.Join(t.TempDir(), "parley.db"))
	})
}

func TestMigrate(t *testing.T) {
	path := filepath.Join(t.TempDir(), "parley.db")
	lines, err := sqlite.Migrate(t.Context(), path)
	if err != nil {
		t.Fatalf("Migrate: got error %v, want nil", err)
	}
	if len(lines) == 0 {
		t.Errorf("Migrate on a new file: got no lines, want one per migration")
	}
	again, err := sqlite.Migrate(t.Context(), path)
	if err != nil || len(again) != 0 {
		t.Errorf("Migrate again: got %q, %v, want nothing applied", again, err)
	}
	mustOpen(t, path) // Open finds the schema up to date
}

func TestOpenBadPath(t *testing.T) {
	_, err := sqlite.Open(t.Context(), filepath.Join(t.TempDir(), "no", "such", "dir", "x.db"))
	if got := parley.ErrorCode(err); got != parley.EInternal {
		t.Errorf("Open in a missing directory: got error %v (code %q), want code %q", err, got, parley.EInternal)
	}
}

// TestDurableAcrossReopen writes, closes, reopens and reads everything back.
func TestDurableAcrossReopen(t *testing.T) {
	ctx := t.Context()
	path := filepath.Join(t.TempDir(), "parley.db")
	db, err := sqlite.Open(ctx, path)
	if err != nil {
		t.Fatalf("Open: got error %v, want nil", err)
	}
	conv := parley.DirectConvID("alice", "bob")
	if err := db.EnsureConversations(ctx, []parley.Conversation{
		{AppID: "app", ID: conv, Kind: parley.ConvDirect, Members: []string{"alice", "bob"}},
	}); err != nil {
		t.Fatalf("EnsureConversations: got error %v, want nil", err)
	}
	var msgs []*parley.Message
	for i := range 5 {
		msgs = append(msgs, &parley.Message{AppID: "app", ConvID: conv, ID: "m" + string(rune('a'+i)),
			Sender: "alice", ClientMsgID: "c" + string(rune('a'+i)), Kind: parley.KindText,
			Body: []byte(`{"text":"hi"}`), Time: 1_700_000_000_000})
	}
	if _, err := db.Append(ctx, msgs); err != nil {
		t.Fatalf("Append: got error %v, want nil", err)
	}
	if _, _, err := db.MarkRead(ctx, "app", conv, "bob", 3); err != nil {
		t.Fatalf("MarkRead: got error %v, want nil", err)
	}
	before, err := db.Changes(ctx, "app", "bob", 0, 10)
	if err != nil {
		t.Fatalf("Changes: got error %v, want nil", err)
	}
	if err := db.Close(); err != nil {
		t.Fatalf("Close: got error %v, want nil", err)
	}

	db = mustOpen(t, path)
	got, err := db.Messages(ctx, "app", conv, parley.MessageRange{Limit: 10})
	if err != nil {
		t.Fatalf("Messages after reopen: got error %v, want nil", err)
	}
	if len(got) != 5 || got[4].Seq != 5 || got[4].ID != "me" {
		t.Errorf("Messages after reopen: got %+v, want 5 messages, the last with seq 5 and id me", got)
	}
	after, err := db.Changes(ctx, "app", "bob", 0, 10)
	if err != nil {
		t.Fatalf("Changes after reopen: got error %v, want nil", err)
	}
	if len(after) != 1 || after[0] != before[0] {
		t.Errorf("Changes after reopen: got %+v, want %+v", after, before)
	}
	// The version counter survives too: a new change gets a higher Ver.
	res, err := db.Append(ctx, []*parley.Message{{AppID: "app", ConvID: conv, ID: "mf", Sender: "alice",
		Kind: parley.KindText, Body: []byte(`{"text":"again"}`), Time: 1}})
	if err != nil || res[0].Err != nil {
		t.Fatalf("Append after reopen: got %v, %v, want no error", res, err)
	}
	later, err := db.Changes(ctx, "app", "bob", before[0].Ver, 10)
	if err != nil || len(later) != 1 || later[0].LastSeq != 6 {
		t.Errorf("Changes since the old Ver after reopen: got %+v, %v, want the conversation at seq 6", later, err)
	}
}

// TestLimits checks the default and the cap of Messages' Limit.
func TestLimits(t *testing.T) {
	ctx := t.Context()
	db := mustOpen(t, filepath.Join(t.TempDir(), "parley.db"))
	conv := parley.DirectConvID("alice", "bob")
	if err := db.EnsureConversations(ctx, []parley.Conversation{
		{AppID: "app", ID: conv, Kind: parley.ConvDirect, Members: []string{"alice", "bob"}},
	}); err != nil {
		t.Fatal(err)
	}
	msgs := make([]*parley.Message, 1100)
	for i := range msgs {
		msgs[i] = &parley.Message{AppID: "app", ConvID: conv, ID: "m" + string(rune(0x4e00+i)),
			Sender: "alice", Kind: parley.KindText, Body: []byte(`{"text":"x"}`), Time: 1}
	}
	if _, err := db.Append(ctx, msgs); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct{ limit, want int }{{0, 50}, {-1, 50}, {7, 7}, {5000, 1000}} {
		got, err := db.Messages(ctx, "app", conv, parley.MessageRange{Limit: tc.limit})
		if err != nil || len(got) != tc.want {
			t.Errorf("Messages(Limit %d): got %d messages, error %v, want %d", tc.limit, len(got), err, tc.want)
		}
	}
}

// TestAppendAllOrNothing checks that a batch that fails (here on a
// repeated message id) stores nothing and leaves its input untouched.
func TestAppendAllOrNothing(t *testing.T) {
	ctx := t.Context()
	db := mustOpen(t, filepath.Join(t.TempDir(), "parley.db"))
	conv := parley.DirectConvID("alice", "bob")
	if err := db.EnsureConversations(ctx, []parley.Conversation{
		{AppID: "app", ID: conv, Kind: parley.ConvDirect, Members: []string{"alice", "bob"}},
	}); err != nil {
		t.Fatal(err)
	}
	first := &parley.Message{AppID: "app", ConvID: conv, ID: "m1", Sender: "alice", ClientMsgID: "c1",
		Kind: parley.KindText, Body: []byte(`{"text":"a"}`), Time: 1}
	same := *first
	same.ClientMsgID = "c2"
	res, err := db.Append(ctx, []*parley.Message{first, &same})
	if got := parley.ErrorCode(err); got != parley.EInternal || res != nil {
		t.Fatalf("Append with a repeated id: got %v, error %v (code %q), want no results and code %q", res, err, got, parley.EInternal)
	}
	if first.Seq != 0 || same.Seq != 0 {
		t.Errorf("input after a failed Append: got seqs %d and %d, want 0 and 0", first.Seq, same.Seq)
	}
	got, err := db.Messages(ctx, "app", conv, parley.MessageRange{Limit: 10})
	if err != nil || len(got) != 0 {
		t.Errorf("Messages after a failed Append: got %d, error %v, want none", len(got), err)
	}
	ch, err := db.Changes(ctx, "app", "alice", 0, 10)
	if err != nil || len(ch) != 1 || ch[0].LastSeq != 0 || ch[0].ReadSeq != 0 {
		t.Errorf("Changes after a failed Append: got %+v, error %v, want the conversation at seq 0", ch, err)
	}
}

func TestDatabaseFileIsPrivate(t *testing.T) {
	path := filepath.Join(t.TempDir(), "p.db")
	db, err := sqlite.Open(context.Background(), path)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	for _, p := range []string{path, path + "-wal"} {
		fi, err := os.Stat(p)
		if err != nil {
			t.Fatal(err)
		}
		if mode := fi.Mode().Perm(); mode&0o077 != 0 {
			t.Errorf("%s has mode %v, want no access for group and others", p, mode)
		}
	}
}

package sqlite_test

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"log/slog"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/pressly/goose/v3"

	"github.com/parley-im/parley"
	"github.com/parley-im/parley/internal/parleytest"
	"github.com/parley-im/parley/internal/sqlite"
	"github.com/parley-im/parley/internal/textsearch"
)

func TestSearch(t *testing.T) {
	parleytest.RunSearchTests(t, func(t *testing.T) parley.Store {
		return mustOpen(t, filepath.Join(t.TempDir(), "parley.db"))
	})
}

// TestSearchTableUsesTheTokenizer: the migration declares the index with
// the tokenizer textsearch's output is made for.
func TestSearchTableUsesTheTokenizer(t *testing.T) {
	path := filepath.Join(t.TempDir(), "parley.db")
	mustOpen(t, path)
	raw := openRaw(t, path)
	var ddl string
	if err := raw.QueryRow(`SELECT sql FROM sqlite_schema WHERE name = 'message_search'`).Scan(&ddl); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(ddl, `tokenize = "`+textsearch.FTS5Tokenize+`"`) {
		t.Errorf("message_search is declared as\n%s\nwant tokenize = %q", ddl, textsearch.FTS5Tokenize)
	}
}

// openRaw opens the database file with the plain driver, as a tool would.
func openRaw(t testing.TB, path string) *sql.DB {
	t.Helper()
	raw, err := sql.Open("sqlite", "file:"+path+"?_pragma=busy_timeout(5000)")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = raw.Close() })
	return raw
}

// FuzzSearchQuery sends any text through SearchMessages on a real store:
// nothing may panic or fail with anything but invalid (an FTS5 syntax
// error would be internal).
func FuzzSearchQuery(f *testing.F) {
	for _, s := range []string{"meet", "北京", `"`, `a OR b`, "NEAR(a b)", "x:y", "*", "-a", "^", "\x00", "\ue000", "a\"b*", "(((", "明"} {
		f.Add(s)
	}
	db := mustOpen(f, filepath.Join(f.TempDir(), "parley.db"))
	aliceAndBob(f, db, map[int64]string{1: "Meeting tomorrow in 北京", 2: `"quoted" OR NOT`})
	f.Fuzz(func(t *testing.T, s string) {
		_, err := db.SearchMessages(t.Context(), "app", "alice", parley.SearchQuery{Text: s})
		if code := parley.ErrorCode(err); code != "" && code != parley.EInvalid {
			t.Fatalf("SearchMessages(%q): got error %v, want nil or invalid", s, err)
		}
	})
}

// TestSearchBackfill: messages stored before the search migration are
// indexed by it, oldest first by time, and found once it has run.
func TestSearchBackfill(t *testing.T) {
	ctx := t.Context()
	path := filepath.Join(t.TempDir(), "parley.db")
	db, err := sqlite.Open(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	aliceAndBob(t, db, map[int64]string{1000: "older report", 3000: "newer 报告"})
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
	// Back to the schema before search (the later migrations' Down
	// first), plus a message stored then: in another conversation,
	// between the two others in time.
	raw := openRaw(t, path)
	p, err := goose.NewProvider(goose.DialectSQLite3, raw, os.DirFS("migrations"),
		goose.WithDisableGlobalRegistry(true), goose.WithSlog(slog.New(slog.DiscardHandler)))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := p.DownTo(ctx, 2); err != nil {
		t.Fatalf("migrating down to 2: %v", err)
	}
	for _, stmt := range []string{
		`INSERT INTO conversations (app_id, id, kind, last_seq, created_at) VALUES ('app', 'd:alice:carol', 'direct', 1, 0)`,
		`INSERT INTO members (app_id, conv_id, user_id, read_seq, ver, joined_at) VALUES ('app', 'd:alice:carol', 'alice', 0, 99, 0), ('app', 'd:alice:carol', 'carol', 1, 99, 0)`,
		`INSERT INTO messages (app_id, conv_id, seq, id, sender, client_msg_id, kind, body, ts) VALUES ('app', 'd:alice:carol', 1, 'm3', 'carol', '', 'text', '{"text":"middle report 报告"}', 2000)`,
	} {
		if _, err := raw.Exec(stmt); err != nil {
			t.Fatalf("%s: %v", stmt, err)
		}
	}
	db = mustOpen(t, path)
	for q, want := range map[string][]string{"report": {"m3", "m1"}, "报告": {"m2", "m3"}, "older": {"m1"}} {
		res, err := db.SearchMessages(ctx, "app", "alice", parley.SearchQuery{Text: q})
		if err != nil {
			t.Fatalf("search %q: %v", q, err)
		}
		var got []string
		for _, m := range res.Msgs {
			got = append(got, m.ID)
		}
		if strings.Join(got, ",") != strings.Join(want, ",") {
			t.Errorf("search %q after the backfill: got %q, want %q", q, got, want)
		}
	}
}

// aliceAndBob stores text messages from alice to bob in app "app", one per
// entry of texts, by time: ids m1, m2, ... in ascending time.
func aliceAndBob(tb testing.TB, db *sqlite.DB, texts map[int64]string) {
	tb.Helper()
	ctx := context.Background()
	conv := parley.DirectConvID("alice", "bob")
	if err := db.EnsureConversations(ctx, []parley.Conversation{{AppID: "app", ID: conv, Kind: parley.ConvDirect, Members: []string{"alice", "bob"}}}); err != nil {
		tb.Fatal(err)
	}
	var msgs []*parley.Message
	for i, ts := range slices.Sorted(maps.Keys(texts)) {
		body, _ := json.Marshal(map[string]string{"text": texts[ts]})
		msgs = append(msgs, &parley.Message{AppID: "app", ConvID: conv, ID: "m" + strconv.Itoa(i+1), Sender: "alice",
			Kind: parley.KindText, Body: body, Time: ts})
	}
	if _, err := db.Append(ctx, msgs); err != nil {
		tb.Fatal(err)
	}
}

// TestSearchFailedAppendIndexesNothing: indexing is part of Append's
// transaction, so a batch that fails leaves nothing findable.
func TestSearchFailedAppendIndexesNothing(t *testing.T) {
	ctx := t.Context()
	db := mustOpen(t, filepath.Join(t.TempDir(), "parley.db"))
	aliceAndBob(t, db, map[int64]string{1: "first"})
	conv := parley.DirectConvID("alice", "bob")
	_, err := db.Append(ctx, []*parley.Message{
		{AppID: "app", ConvID: conv, ID: "m9", Sender: "alice", Kind: parley.KindText, Body: []byte(`{"text":"lost words"}`), Time: 2},
		{AppID: "app", ConvID: conv, ID: "m1", Sender: "alice", Kind: parley.KindText, Body: []byte(`{"text":"lost too"}`), Time: 3}, // m1 is taken
	})
	if err == nil {
		t.Fatal("Append with a repeated id: got nil, want an error")
	}
	res, err := db.SearchMessages(ctx, "app", "alice", parley.SearchQuery{Text: "lost"})
	if err != nil || len(res.Msgs) != 0 {
		t.Errorf("search after a failed Append: got %+v, %v, want nothing", res.Msgs, err)
	}
	// The seq the failed batch did not use goes to the next message, which
	// is found.
	if _, err := db.Append(ctx, []*parley.Message{{AppID: "app", ConvID: conv, ID: "m2", Sender: "bob",
		Kind: parley.KindText, Body: []byte(`{"text":"lost and found"}`), Time: 4}}); err != nil {
		t.Fatal(err)
	}
	res, err = db.SearchMessages(ctx, "app", "alice", parley.SearchQuery{Text: "lost"})
	if err != nil || len(res.Msgs) != 1 || res.Msgs[0].ID != "m2" || res.Msgs[0].Seq != 2 {
		t.Errorf("search after the next Append: got %+v, %v, want m2 at seq 2", res.Msgs, err)
	}
}

// TestSearchBudget: a call looks at a bounded number of matches, so a
// query whose newest matches are all in other users' conversations gives
// short pages, possibly empty, with a cursor that goes on to the user's
// own match, which is found exactly once.
func TestSearchBudget(t *testing.T) {
	ctx := t.Context()
	db := mustOpen(t, filepath.Join(t.TempDir(), "parley.db"))
	aliceAndBob(t, db, map[int64]string{1: "needle in alice's conversation"})
	theirs := parley.DirectConvID("carol", "dave")
	if err := db.EnsureConversations(ctx, []parley.Conversation{{AppID: "app", ID: theirs, Kind: parley.ConvDirect, Members: []string{"carol", "dave"}}}); err != nil {
		t.Fatal(err)
	}
	for b := range 5 {
		var batch []*parley.Message
		for i := range 1000 {
			batch = append(batch, &parley.Message{AppID: "app", ConvID: theirs, ID: fmt.Sprintf("x%d-%d", b, i), Sender: "carol",
				Kind: parley.KindText, Body: []byte(`{"text":"needle"}`), Time: 10})
		}
		if _, err := db.Append(ctx, batch); err != nil {
			t.Fatal(err)
		}
	}
	var found []string
	pages := 0
	q := parley.SearchQuery{Text: "needle"}
	for {
		res, err := db.SearchMessages(ctx, "app", "alice", q)
		if err != nil {
			t.Fatal(err)
		}
		pages++
		for _, m := range res.Msgs {
			found = append(found, m.ID)
		}
		if res.Next == 0 {
			break
		}
		if q.Before != 0 && res.Next >= q.Before {
			t.Fatalf("Next %d after Before %d: cursors must decrease", res.Next, q.Before)
		}
		q.Before = res.Next
	}
	if len(found) != 1 || found[0] != "m1" {
		t.Errorf("alice pages through 5,001 matches: got %q, want [m1]", found)
	}
	if pages < 3 {
		t.Errorf("alice's search took %d pages over 5,000 matches of others, want the budget to cut it into several", pages)
	}
}

package pgmove_test

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
	"github.com/jackc/pgx/v5"
	"go.uber.org/goleak"

	"github.com/parley-im/parley"
	"github.com/parley-im/parley/internal/events"
	"github.com/parley-im/parley/internal/pgmove"
	"github.com/parley-im/parley/internal/postgres"
	"github.com/parley-im/parley/internal/sqlite"
	"github.com/parley-im/parley/internal/testservers"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

// openPG opens the store on dsn, closed when the test ends.
func openPG(t *testing.T, dsn string) *postgres.Store {
	t.Helper()
	st, err := postgres.Open(t.Context(), dsn, postgres.WithMaxConns(4))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = st.Close() })
	return st
}

// midVersions picks, per user, a version from the middle of their
// Changes, so that a sync from there is compared too.
func midVersions(ctx context.Context, t *testing.T, st parley.Store) since {
	out := since{}
	for _, app := range []string{acme, beta} {
		for _, u := range users {
			ch, err := st.Changes(ctx, app, u, 0, 1000)
			if err != nil {
				t.Fatal(err)
			}
			if len(ch) > 1 {
				out[app+"/"+u] = []uint64{ch[len(ch)/2-1].Ver}
			}
		}
	}
	return out
}

// maxVer is the highest conversation version any user of app sees.
func maxVer(ctx context.Context, t *testing.T, st parley.Store, app string) uint64 {
	var top uint64
	for _, u := range users {
		ch, err := st.Changes(ctx, app, u, 0, 1000)
		if err != nil {
			t.Fatal(err)
		}
		for _, c := range ch {
			top = max(top, c.Ver)
		}
	}
	return top
}

func TestMoveReadsBackTheSame(t *testing.T) {
	ctx := t.Context()
	f := buildSQLite(t, t.TempDir())

	db, err := sqlite.Open(ctx, f.path)
	if err != nil {
		t.Fatal(err)
	}
	from := midVersions(ctx, t, db)
	want := take(ctx, t, db, db.EventLog(), f, from)
	oldMax := max(maxVer(ctx, t, db, acme), maxVer(ctx, t, db, beta))
	oldProfile, _ := db.User(ctx, acme, "ann")
	oldContacts, _ := db.Contacts(ctx, acme, "ann", 0, 100)
	oldLast, _ := db.EventLog().Last(ctx, acme)
	oldDead, _ := db.DeadLetters(ctx, acme, 0, 100)
	db.Close()

	dsn := testservers.Postgres(t)
	sum, err := pgmove.Move(ctx, f.path, dsn)
	if err != nil {
		t.Fatalf("Move: %v", err)
	}
	rows := map[string]int64{}
	for _, tr := range sum.Tables {
		rows[tr.Name] = tr.Rows
	}
	if rows["messages"] != 15 || rows["message_search"] != 15 || rows["apps"] != 2 || sum.Conversations != 4 {
		t.Errorf("summary: got %+v, want 15 messages and search documents, 2 apps, 4 conversations checked", sum)
	}

	pg := openPG(t, dsn)
	got := take(ctx, t, pg, pg.EventLog(), f, from)
	if d := cmp.Diff(want, got, cmpopts.EquateEmpty()); d != "" {
		t.Fatalf("PostgreSQL reads back differently from SQLite (-sqlite +postgres):\n%s", d)
	}

	// What the stores agree on must also be right: search finds the
	// English and Chinese messages, the edit by its new text only.
	for _, c := range []struct {
		user, q string
		want    []string
	}{
		{"bob", "meeting", []string{f.english}},
		{"ann", "北京", []string{f.groupText, f.chinese}}, // newest first
		{"cat", "北京", []string{f.groupText}},            // cat is not in ann and bob's
		{"ann", "dinner", []string{f.edited}},
		{"ann", "lunch", nil},
	} {
		r, err := pg.SearchMessages(ctx, acme, c.user, parley.SearchQuery{Text: c.q})
		if err != nil {
			t.Fatal(err)
		}
		var ids []string
		for _, m := range r.Msgs {
			ids = append(ids, m.ID)
		}
		if !slices.Equal(ids, c.want) {
			t.Errorf("search %q as %s: got %v, want %v", c.q, c.user, ids, c.want)
		}
	}
	gm, _ := pg.GroupMember(ctx, acme, "g1", "bob")
	if gm.Role != parley.GroupRoleAdmin {
		t.Errorf("bob in g1: got role %q, want admin", gm.Role)
	}
	if err := pg.IsMember(ctx, acme, f.group, "dan"); parley.ErrorCode(err) != parley.EForbidden {
		t.Errorf("dan (removed) in g1: got %v, want forbidden", err)
	}

	// New writes: versions above every old one, seqs gapless.
	last := want["msgs/"+f.annBob].([]parley.Message)
	m := &parley.Message{AppID: acme, ConvID: f.annBob, ID: "new1", Sender: "bob", Kind: parley.KindText,
		Body: json.RawMessage(`{"text":"after the move"}`), Time: time.Now().UnixMilli()}
	g := &parley.Message{AppID: acme, ConvID: f.group, ID: "new2", Sender: "bob", Kind: parley.KindText,
		Body: json.RawMessage(`{"text":"group later"}`), Time: time.Now().UnixMilli()}
	if _, err := pg.Append(ctx, []*parley.Message{m, g}); err != nil {
		t.Fatal(err)
	}
	if want := last[len(last)-1].Seq + 1; m.Seq != want {
		t.Errorf("new message: got seq %d, want %d", m.Seq, want)
	}
	for _, u := range []string{"ann", "bob", "cat"} {
		ch, err := pg.Changes(ctx, acme, u, oldMax, 100)
		if err != nil {
			t.Fatal(err)
		}
		var convs []string
		for _, c := range ch {
			if c.Ver <= oldMax {
				t.Errorf("%s: %s has Ver %d after the move, want above %d", u, c.ConvID, c.Ver, oldMax)
			}
			convs = append(convs, c.ConvID)
		}
		slices.Sort(convs)
		wantConvs := []string{f.group}
		if u != "cat" {
			wantConvs = append([]string{f.annBob}, wantConvs...)
		}
		if !slices.Equal(convs, wantConvs) {
			t.Errorf("%s: Changes since %d got %v, want %v", u, oldMax, convs, wantConvs)
		}
	}
	// SQLite's change versions are one space for every app (a member
	// row deleted by a consultation's release takes its version with
	// it), so every app's versions continue above all of them.
	b := &parley.Message{AppID: beta, ConvID: f.betaConv, ID: "new3", Sender: "ann", Kind: parley.KindText,
		Body: json.RawMessage(`{"text":"beta later"}`), Time: time.Now().UnixMilli()}
	if _, err := pg.Append(ctx, []*parley.Message{b}); err != nil {
		t.Fatal(err)
	}
	if ch, err := pg.Changes(ctx, beta, "bob", 0, 10); err != nil || len(ch) != 1 || ch[0].Ver <= oldMax {
		t.Errorf("beta after the move: got %+v, %v, want one conversation with Ver above %d", ch, err, oldMax)
	}
	if r, err := pg.SearchMessages(ctx, acme, "ann", parley.SearchQuery{Text: "after the move"}); err != nil ||
		len(r.Msgs) != 1 || r.Msgs[0].ID != "new1" {
		t.Errorf("search for a new message: got %+v, %v", r, err)
	}
	changed, err := pg.UpsertProfiles(ctx, acme, []parley.User{{ID: "ann", Name: "Ann B.", Role: parley.RoleUser}})
	if err != nil || len(changed) != 1 || changed[0].Ver <= oldProfile.Ver {
		t.Errorf("profile change: got %+v, %v, want a version above %d", changed, err, oldProfile.Ver)
	}
	added, err := pg.AddContacts(ctx, acme, "ann", []string{"dan"}, "")
	if err != nil || len(added) != 1 || added[0].Ver <= oldContacts[len(oldContacts)-1].Ver {
		t.Errorf("contact added: got %+v, %v, want a version above %d", added, err, oldContacts[len(oldContacts)-1].Ver)
	}
	if err := pg.EventLog().Append(ctx, []events.Event{{ID: "e-3", App: acme, Type: "test", Time: 1, Data: json.RawMessage(`{}`)}}); err != nil {
		t.Fatal(err)
	}
	if l, _ := pg.EventLog().Last(ctx, acme); l != oldLast+1 {
		t.Errorf("event log: got last %d after one more, want %d", l, oldLast+1)
	}
	if _, err := pg.AdvanceWebhook(ctx, acme, want["webhooks"].([]events.Webhook)[0].Version, 2,
		&events.DeadLetter{App: acme, First: 2, Last: 2, Events: 1, Attempts: 8, Error: "x", Time: 1}); err != nil {
		t.Fatal(err)
	}
	if dl, _ := pg.DeadLetters(ctx, acme, 0, 100); len(dl) != 2 || dl[1].ID <= oldDead[0].ID {
		t.Errorf("dead letters: got %+v, want a second one with an id above %d", dl, oldDead[0].ID)
	}
	if fresh, err := pg.RecordPushes(ctx, f.pushes); err != nil || len(fresh) != 0 {
		t.Errorf("recording a moved push again: got %v new, %v; want none", fresh, err)
	}
}

// pgRows counts every row of the PostgreSQL database but goose's.
func pgRows(ctx context.Context, t *testing.T, dsn string) int64 {
	t.Helper()
	conn, err := pgx.Connect(ctx, dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	rows, err := conn.Query(ctx, `SELECT table_name FROM information_schema.tables
		WHERE table_schema = current_schema() AND table_name <> 'goose_db_version'`)
	if err != nil {
		t.Fatal(err)
	}
	tables, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		t.Fatalf("tables: got %v, %v", tables, err)
	}
	var total int64
	for _, tb := range tables {
		var n int64
		if err := conn.QueryRow(ctx, `SELECT count(*) FROM `+pgx.Identifier{tb}.Sanitize()).Scan(&n); err != nil {
			t.Fatal(err)
		}
		total += n
	}
	return total
}

func TestMoveRefusesANonEmptyTarget(t *testing.T) {
	ctx := t.Context()
	f := buildSQLite(t, t.TempDir())
	dsn := testservers.Postgres(t)
	pg := openPG(t, dsn)
	if err := pg.CreateApp(ctx, &parley.App{ID: "other", Name: "x", KeyHash: []byte{1}, TokenSecret: []byte{2}, CreatedAt: time.Now()}); err != nil {
		t.Fatal(err)
	}
	before := pgRows(ctx, t, dsn)
	_, err := pgmove.Move(ctx, f.path, dsn)
	if !errors.Is(err, pgmove.ErrNotEmpty) {
		t.Fatalf("Move into a database with an app: got %v, want ErrNotEmpty", err)
	}
	if after := pgRows(ctx, t, dsn); after != before {
		t.Errorf("rows: got %d after the refusal, want %d as before", after, before)
	}

	// A second move into a database the first one filled.
	dsn2 := testservers.Postgres(t)
	if _, err := pgmove.Move(ctx, f.path, dsn2); err != nil {
		t.Fatal(err)
	}
	if _, err := pgmove.Move(ctx, f.path, dsn2); !errors.Is(err, pgmove.ErrNotEmpty) {
		t.Errorf("second Move: got %v, want ErrNotEmpty", err)
	}
}

func TestMoveRefusesARunningNode(t *testing.T) {
	ctx := t.Context()
	f := buildSQLite(t, t.TempDir())
	db, err := sqlite.Open(ctx, f.path) // a node, idle
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	dsn := testservers.Postgres(t)
	if _, err := pgmove.Move(ctx, f.path, dsn); !errors.Is(err, pgmove.ErrInUse) {
		t.Fatalf("Move while the node has the file open: got %v, want ErrInUse", err)
	}
	if n := pgRows(ctx, t, dsn); n != 0 {
		t.Errorf("PostgreSQL got %d rows, want none", n)
	}
}

// TestMoveFailureLeavesTargetEmpty breaks the SQLite database in ways
// the move only finds out while copying (a row PostgreSQL rejects, in
// the last table copied as it is) or before (a table or column
// PostgreSQL has no place for): PostgreSQL must hold nothing after.
func TestMoveFailureLeavesTargetEmpty(t *testing.T) {
	for _, c := range []struct {
		name, sql, want string
	}{
		{"RowRejectedMidway", `UPDATE webhook_dead SET error = 'a' || char(0) || 'b'`, "copying webhook_dead"},
		{"UnknownTable", `CREATE TABLE extra (x TEXT)`, "extra has no table"},
		{"UnknownColumn", `ALTER TABLE messages ADD COLUMN extra TEXT`, "extra of SQLite table messages"},
	} {
		t.Run(c.name, func(t *testing.T) {
			ctx := t.Context()
			f := buildSQLite(t, t.TempDir())
			db, err := sqlite.Open(ctx, f.path) // migrations and the driver's registration
			if err != nil {
				t.Fatal(err)
			}
			db.Close()
			raw, err := openRaw(f.path)
			if err != nil {
				t.Fatal(err)
			}
			if _, err := raw.ExecContext(ctx, c.sql); err != nil {
				t.Fatal(err)
			}
			raw.Close()
			dsn := testservers.Postgres(t)
			_, err = pgmove.Move(ctx, f.path, dsn)
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("Move: got %v, want an error about %q", err, c.want)
			}
			if n := pgRows(ctx, t, dsn); n != 0 {
				t.Errorf("PostgreSQL got %d rows after the failed move, want none", n)
			}
		})
	}
}

// openRaw opens the SQLite file with no store around it.
func openRaw(path string) (*sql.DB, error) { return sql.Open("sqlite", "file:"+path) }

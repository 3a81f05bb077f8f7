package postgres_test

import (
	"context"
	"testing"

	"go.uber.org/goleak"

	"github.com/parley-im/parley"
	"github.com/parley-im/parley/internal/consult/consulttest"
	"github.com/parley-im/parley/internal/events"
	"github.com/parley-im/parley/internal/events/eventstest"
	"github.com/parley-im/parley/internal/files"
	"github.com/parley-im/parley/internal/files/filestest"
	"github.com/parley-im/parley/internal/notify"
	"github.com/parley-im/parley/internal/notify/notifytest"
	"github.com/parley-im/parley/internal/parleytest"
	"github.com/parley-im/parley/internal/postgres"
	"github.com/parley-im/parley/internal/testservers"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

// mustOpen opens a store on a fresh database of the test server and
// closes it when the test ends (before the database is dropped).
func mustOpen(tb testing.TB, opts ...postgres.Option) (*postgres.Store, string) {
	tb.Helper()
	dsn := testservers.Postgres(tb)
	return mustOpenDSN(tb, dsn, opts...), dsn
}

func mustOpenDSN(tb testing.TB, dsn string, opts ...postgres.Option) *postgres.Store {
	tb.Helper()
	s, err := postgres.Open(context.Background(), dsn, append([]postgres.Option{postgres.WithMaxConns(8)}, opts...)...)
	if err != nil {
		tb.Fatalf("Open: got error %v, want nil", err)
	}
	tb.Cleanup(func() {
		if err := s.Close(); err != nil {
			tb.Errorf("Close: got error %v, want nil", err)
		}
	})
	return s
}

// shared returns an open function for a contract suite that hands every
// subtest the same store on one fresh database: the suites work in apps
// of their own with random ids, and a database per subtest would cost a
// CREATE DATABASE and the migrations each time.
func shared(t *testing.T) func(*testing.T) parley.Store {
	s, _ := mustOpen(t)
	return func(*testing.T) parley.Store { return s }
}

func TestStore(t *testing.T) {
	parleytest.RunStoreTests(t, shared(t))
}

func TestContactStore(t *testing.T) {
	parleytest.RunContactTests(t, shared(t))
}

func TestGroupStore(t *testing.T) {
	parleytest.RunGroupStoreTests(t, shared(t))
}

func TestSearch(t *testing.T) {
	parleytest.RunSearchTests(t, shared(t))
}

func TestFileCatalog(t *testing.T) {
	open := shared(t)
	filestest.RunCatalogTests(t, func(t *testing.T) files.Catalog { return open(t).(files.Catalog) })
}

func TestMigrate(t *testing.T) {
	dsn := testservers.Postgres(t)
	lines, err := postgres.Migrate(t.Context(), dsn)
	if err != nil {
		t.Fatalf("Migrate: got error %v, want nil", err)
	}
	if len(lines) == 0 {
		t.Errorf("Migrate on a new database: got no lines, want one per migration")
	}
	again, err := postgres.Migrate(t.Context(), dsn)
	if err != nil || len(again) != 0 {
		t.Errorf("Migrate again: got %q, %v, want nothing applied", again, err)
	}
	mustOpenDSN(t, dsn) // Open finds the schema up to date
}

func TestOpenUnreachable(t *testing.T) {
	_, err := postgres.Open(t.Context(), "postgres://postgres@127.0.0.1:1/postgres?sslmode=disable&connect_timeout=2")
	if got := parley.ErrorCode(err); got != parley.EInternal {
		t.Errorf("Open of an unreachable server: got error %v (code %q), want code %q", err, got, parley.EInternal)
	}
}

// TestReplicaServesHistoryAndSearch: with WithReplica, Messages and
// SearchMessages read the replica and everything else the primary. The
// "replica" here is another database with the same schema and no rows,
// so a read that goes there finds nothing.
func TestReplicaServesHistoryAndSearch(t *testing.T) {
	ctx := t.Context()
	replica := testservers.Postgres(t)
	if _, err := postgres.Migrate(ctx, replica); err != nil {
		t.Fatal(err)
	}
	s, _ := mustOpen(t, postgres.WithReplica(replica))
	conv := ensureDirect(t, s, "app", [2]string{"alice", "bob"})[0]
	m := text("app", conv, "m1", "alice", "")
	m.Body = []byte(`{"text":"hello replica"}`)
	if _, err := s.Append(ctx, []*parley.Message{m}); err != nil {
		t.Fatal(err)
	}
	if ch, err := s.Changes(ctx, "app", "bob", 0, 10); err != nil || len(ch) != 1 || ch[0].LastSeq != 1 {
		t.Errorf("Changes (primary): got %+v, %v, want the conversation at seq 1", ch, err)
	}
	if got, err := s.Messages(ctx, "app", conv, parley.MessageRange{Limit: 10}); err != nil || len(got) != 0 {
		t.Errorf("Messages (replica without the rows): got %d, %v, want none", len(got), err)
	}
	if res, err := s.SearchMessages(ctx, "app", "bob", parley.SearchQuery{Text: "hello"}); err != nil || len(res.Msgs) != 0 {
		t.Errorf("SearchMessages (replica without the rows): got %+v, %v, want none", res, err)
	}
}

// TestDurableAcrossReopen: what one store wrote, another store opened
// later on the database reads, and the version counter goes on from
// where it was.
func TestDurableAcrossReopen(t *testing.T) {
	ctx := t.Context()
	first, dsn := mustOpen(t)
	conv := ensureDirect(t, first, "app", [2]string{"alice", "bob"})[0]
	if _, err := first.Append(ctx, []*parley.Message{text("app", conv, "m1", "alice", "c1")}); err != nil {
		t.Fatal(err)
	}
	before, err := first.Changes(ctx, "app", "bob", 0, 10)
	if err != nil || len(before) != 1 {
		t.Fatalf("Changes: got %+v, %v", before, err)
	}
	if err := first.Close(); err != nil {
		t.Fatal(err)
	}
	again := mustOpenDSN(t, dsn)
	if _, err := again.Append(ctx, []*parley.Message{text("app", conv, "m2", "bob", "")}); err != nil {
		t.Fatal(err)
	}
	later, err := again.Changes(ctx, "app", "bob", before[0].Ver, 10)
	if err != nil || len(later) != 1 || later[0].LastSeq != 2 || later[0].Ver <= before[0].Ver {
		t.Errorf("Changes since the old Ver after reopening: got %+v, %v, want the conversation at seq 2", later, err)
	}
}

// FuzzSearchQuery sends any text through SearchMessages on a real store:
// nothing may fail with anything but invalid (a tsquery syntax error
// would be internal).
func FuzzSearchQuery(f *testing.F) {
	for _, s := range []string{"meet", "北京", `"`, `'`, `\`, `a:*`, "a & b", "a | b", "!a", "(a", "a <-> b", "x:y", "*", "-a", "\x00", "\ue000", "a'b\\c", "明"} {
		f.Add(s)
	}
	s, _ := mustOpen(f)
	conv := ensureDirect(f, s, "app", [2]string{"alice", "bob"})[0]
	m := text("app", conv, "m1", "alice", "")
	m.Body = []byte(`{"text":"Meeting tomorrow in 北京 it's a:b \\ 'quoted'"}`)
	if _, err := s.Append(f.Context(), []*parley.Message{m}); err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, q string) {
		_, err := s.SearchMessages(t.Context(), "app", "alice", parley.SearchQuery{Text: q})
		if code := parley.ErrorCode(err); code != "" && code != parley.EInvalid {
			t.Fatalf("SearchMessages(%q): got error %v, want nil or invalid", q, err)
		}
	})
}

func TestPushStore(t *testing.T) {
	open := shared(t)
	notifytest.RunStoreTests(t, func(t *testing.T) notify.Store { return open(t).(notify.Store) })
}

func TestOutbox(t *testing.T) {
	open := shared(t)
	eventstest.RunOutboxTests(t, func(t *testing.T) eventstest.OutboxStore { return open(t).(eventstest.OutboxStore) })
}

func TestEventLog(t *testing.T) {
	open := shared(t)
	eventstest.RunEventLogTests(t, func(t *testing.T) events.EventLog { return open(t).(*postgres.Store).EventLog() })
}

func TestTrimmer(t *testing.T) {
	open := shared(t)
	eventstest.RunTrimmerTests(t, func(t *testing.T) (events.EventLog, events.Trimmer) {
		l := open(t).(*postgres.Store).EventLog()
		return l, l
	})
}

func TestWebhookStore(t *testing.T) {
	open := shared(t)
	eventstest.RunWebhookStoreTests(t, func(t *testing.T) events.WebhookStore { return open(t).(events.WebhookStore) })
}

func TestConsultStore(t *testing.T) {
	open := shared(t)
	consulttest.RunStoreTests(t, func(t *testing.T) consulttest.Harness {
		s := open(t).(*postgres.Store)
		return consulttest.Harness{Store: s, AddUsers: func(ctx context.Context, appID string, ids ...string) error {
			users := make([]parley.User, len(ids))
			for i, id := range ids {
				users[i] = parley.User{AppID: appID, ID: id, Role: parley.RoleUser}
			}
			return s.UpsertUsers(ctx, appID, users)
		}}
	})
}

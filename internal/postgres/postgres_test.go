package postgres_test

import (
	"context"
	"testing"

	"go.uber.org/goleak"

	"github.com/parley-im/parley"
	"github.com/parley-im/parley/internal/files"
	"github.com/parley-im/parley/internal/files/filestest"
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

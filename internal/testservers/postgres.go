package testservers

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"net/url"
	"os"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
)

// DefaultPostgres is the PostgreSQL server tests use unless the
// environment variable PARLEY_TEST_POSTGRES names another: the local
// server with trust authentication.
const DefaultPostgres = "postgres://postgres@127.0.0.1:5432/postgres?sslmode=disable"

// Postgres creates a fresh database (parley_test_<random>) on the test
// PostgreSQL server (PARLEY_TEST_POSTGRES, or DefaultPostgres) and returns
// its DSN; the database is dropped, with any connection still open to it,
// when the test ends. If the server cannot be reached the test stops (see
// Missing).
func Postgres(t testing.TB) string {
	t.Helper()
	admin := os.Getenv("PARLEY_TEST_POSTGRES")
	if admin == "" {
		admin = DefaultPostgres
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	cfg, err := pgx.ParseConfig(admin)
	if err != nil {
		t.Fatalf("PARLEY_TEST_POSTGRES %q: %v", admin, err)
	}
	conn, err := pgx.ConnectConfig(ctx, cfg)
	if err != nil {
		Missing(t, "PostgreSQL at "+cfg.Host, err)
	}
	defer conn.Close(ctx)
	b := make([]byte, 6)
	_, _ = rand.Read(b) // never fails
	name := "parley_test_" + hex.EncodeToString(b)
	// A database name is an identifier, not a parameter: name is made of
	// [a-z0-9_] here, and Sanitize quotes it anyway.
	ident := pgx.Identifier{name}.Sanitize()
	if _, err := conn.Exec(ctx, "CREATE DATABASE "+ident); err != nil {
		t.Fatalf("creating test database %s: %v", name, err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		conn, err := pgx.ConnectConfig(ctx, cfg)
		if err != nil {
			t.Errorf("dropping test database %s: %v", name, err)
			return
		}
		defer conn.Close(ctx)
		if _, err := conn.Exec(ctx, "DROP DATABASE IF EXISTS "+ident+" WITH (FORCE)"); err != nil {
			t.Errorf("dropping test database %s: %v", name, err)
		}
	})
	return withDatabase(admin, name)
}

// withDatabase returns dsn (a URL or a key=value connection string)
// naming database name instead of its own.
func withDatabase(dsn, name string) string {
	if u, err := url.Parse(dsn); err == nil && (u.Scheme == "postgres" || u.Scheme == "postgresql") {
		u.Path = "/" + name
		return u.String()
	}
	return dsn + " dbname=" + name // a later keyword wins
}

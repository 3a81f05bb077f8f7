package main

import (
	"strings"
	"testing"

	"github.com/parley-im/parley/internal/testservers"
)

// TestMigrateToPostgres moves a data dir made by the admin commands and
// uses the moved app through the same commands on PostgreSQL.
func TestMigrateToPostgres(t *testing.T) {
	data := t.TempDir()
	dsn := testservers.Postgres(t)
	if out, code := runCmd(t, "migrate-to-postgres", "--data", data); code == 0 || !strings.Contains(out, "--postgres is required") {
		t.Fatalf("without --postgres: got %d %q, want a refusal", code, out)
	}
	if out, code := runCmd(t, "app", "create", "shop", "--data", data); code != 0 {
		t.Fatalf("app create: %d %s", code, out)
	}
	out, code := runCmd(t, "migrate-to-postgres", "--data", data, "--postgres", dsn)
	if code != 0 || !strings.Contains(out, "1  apps") || !strings.Contains(out, "verified") {
		t.Fatalf("migrate-to-postgres: got %d %q, want a summary with 1 app", code, out)
	}
	if out, code := runCmd(t, "app", "create", "shop", "--postgres", dsn); code == 0 || !strings.Contains(out, "conflict") {
		t.Fatalf("app create on PostgreSQL: got %d %q, want a conflict with the moved app", code, out)
	}
	if out, code := runCmd(t, "migrate-to-postgres", "--data", data, "--postgres", dsn); code == 0 || !strings.Contains(out, "not empty") {
		t.Fatalf("a second move: got %d %q, want a refusal", code, out)
	}
}

package sqlite

import (
	"path/filepath"
	"strings"
	"testing"
)

// TestSearchPlan: the search walks the FTS5 index newest first and stops
// at the LIMIT; no plan that sorts the matches (reading every one of
// them before the first row) or starts from another table.
func TestSearchPlan(t *testing.T) {
	db, err := Open(t.Context(), filepath.Join(t.TempDir(), "parley.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	plan := queryPlan(t, db, searchQuery, `"x"`, 100, "app", "alice", "", 21, 1)
	all := strings.Join(plan, "\n")
	t.Logf("plan:\n%s", all)
	if len(plan) == 0 || !strings.HasPrefix(plan[0], "SCAN s VIRTUAL TABLE") {
		t.Errorf("search plan does not start from the FTS5 index:\n%s", all)
	}
	if strings.Contains(all, "TEMP B-TREE") {
		t.Errorf("search plan sorts:\n%s", all)
	}
}

// queryPlan returns the details of EXPLAIN QUERY PLAN for query on a
// reader connection.
func queryPlan(t *testing.T, db *DB, query string, args ...any) []string {
	t.Helper()
	rows, err := db.r.QueryContext(t.Context(), "EXPLAIN QUERY PLAN "+query, args...)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var plan []string
	for rows.Next() {
		var id, parent, unused int
		var detail string
		if err := rows.Scan(&id, &parent, &unused, &detail); err != nil {
			t.Fatal(err)
		}
		plan = append(plan, detail)
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	return plan
}

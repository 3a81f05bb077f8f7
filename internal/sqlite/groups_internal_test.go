package sqlite

import (
	"path/filepath"
	"strings"
	"testing"
)

// TestChangesPlan: the direct half of Changes walks (app_id, user_id, ver)
// without sorting, and the group half reads the user's group memberships
// from the partial index, so that sync costs what changed plus one row
// per group, never a scan of the user's conversations.
func TestChangesPlan(t *testing.T) {
	db, err := Open(t.Context(), filepath.Join(t.TempDir(), "parley.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	for _, tc := range []struct {
		name, query, index string
		args               []any
	}{
		{"direct", changesDirect, "members_by_user_ver", []any{"app", "alice", 0, 50}},
		{"groups", changesGroups, "members_groups_by_user", []any{"app", "alice", 0}},
	} {
		plan := queryPlan(t, db, tc.query, tc.args...)
		all := strings.Join(plan, "\n")
		if len(plan) == 0 || !strings.Contains(plan[0], "USING INDEX "+tc.index) && !strings.Contains(plan[0], "USING COVERING INDEX "+tc.index) {
			t.Errorf("%s: plan does not start from %s:\n%s", tc.name, tc.index, all)
		}
		if strings.Contains(all, "TEMP B-TREE") {
			t.Errorf("%s: plan sorts:\n%s", tc.name, all)
		}
	}
}

package sqlite

import (
	"path/filepath"
	"strings"
	"testing"
)

// TestMessagesInRangesPlan: MessagesInRanges looks each range up in the
// messages primary key, never scans the table; the sort it does is of
// the (at most limit) messages it returns.
func TestMessagesInRangesPlan(t *testing.T) {
	db, err := Open(t.Context(), filepath.Join(t.TempDir(), "parley.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	plan := queryPlan(t, db, messagesInRanges, `[["app","d:a:b",1,3],["app","d:a:c",2,2]]`, 100)
	all := strings.Join(plan, "\n")
	t.Logf("plan:\n%s", all)
	found := false
	for _, p := range plan {
		if strings.HasPrefix(p, "SCAN m") || strings.HasPrefix(p, "SCAN messages") {
			t.Errorf("the plan scans messages:\n%s", all)
		}
		if strings.HasPrefix(p, "SEARCH m USING PRIMARY KEY (app_id=? AND conv_id=? AND seq>? AND seq<?)") {
			found = true
		}
	}
	if !found {
		t.Errorf("the plan does not search the messages primary key by app, conv and seq range:\n%s", all)
	}
}

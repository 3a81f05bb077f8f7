package sqlite

import (
	"context"
	"database/sql/driver"
	"math"
	"sync"

	msqlite "modernc.org/sqlite"

	"github.com/parley-im/parley"
	"github.com/parley-im/parley/internal/textsearch"
)

// searchTextFunc is the SQL function through which the search trigger
// (migrations/00003_search.sql) indexes each new message:
// parley_search_text(kind, body) returns the document FTS5 indexes,
// textsearch.IndexText of parley.SearchableText.
const searchTextFunc = "parley_search_text"

// registerFunctions registers Parley's SQL functions with the
// modernc.org/sqlite driver, once per process; Open and Migrate call it
// before opening the writer, whose appends and migrations need them.
//
// This is the package's one piece of package-level state, and it is
// forced on it: the driver keeps functions in a process-wide registry,
// adds them to every connection opened afterwards and refuses a name
// registered twice. The sync.OnceValue makes the registration happen
// once, whichever DB opens first, and is read-only after.
var registerFunctions = sync.OnceValue(func() error {
	return msqlite.RegisterDeterministicScalarFunction(searchTextFunc, 2, searchText)
})

// searchText implements parley_search_text. It never fails: a message
// must be stored even if its text cannot be indexed, so a body it cannot
// read, or a panic in the analysis (a bug), indexes nothing.
func searchText(_ *msqlite.FunctionContext, args []driver.Value) (doc driver.Value, err error) {
	defer func() {
		if recover() != nil {
			doc, err = "", nil
		}
	}()
	var kind string
	var body []byte
	switch v := args[0].(type) {
	case string:
		kind = v
	case []byte:
		kind = string(v)
	}
	switch v := args[1].(type) {
	case string:
		body = []byte(v)
	case []byte:
		body = v
	}
	return textsearch.IndexText(parley.SearchableText(parley.Kind(kind), body)), nil
}

// searchBudget is the most index matches one SearchMessages call looks
// at. A query whose matches are mostly in other users' conversations would
// otherwise walk every match in the database to fill one page (about 1.5
// us per match); with the budget a call costs a few milliseconds at most,
// and returns a short page, even an empty one, with a Next to go on from.
const searchBudget = 2000

// searchFloorQuery finds the window of matches a call may look at: the
// rowid of the searchBudget-th match below the cursor (the window's
// floor) and how many matches the window holds. FTS5 alone answers it,
// without touching any other table: ~0.1 us per match.
const searchFloorQuery = `SELECT COALESCE(min(rowid), 0), count(*) FROM (
	SELECT rowid FROM message_search WHERE message_search MATCH ?1 AND rowid < ?2
	ORDER BY rowid DESC LIMIT ?3)`

// searchQuery finds a page of matches newest first within the window. The
// CROSS JOINs fix the join order (SQLite never reorders the left side of
// a CROSS JOIN): FTS5 yields matches in descending rowid order, each is
// kept only if the user is a member of its conversation, and the scan
// stops at the LIMIT or the window's floor. TestSearchPlan checks the
// plan.
const searchQuery = `SELECT d.id, m.conv_id, m.seq, m.id, m.sender, m.client_msg_id, m.kind, m.body, m.ts, m.variants
	FROM message_search s
	CROSS JOIN message_search_docs d ON d.id = s.rowid
	CROSS JOIN members mb ON mb.app_id = d.app_id AND mb.conv_id = d.conv_id AND mb.user_id = ?4
		AND (mb.left_seq = 0 OR d.seq <= mb.left_seq)
	CROSS JOIN messages m ON m.app_id = d.app_id AND m.conv_id = d.conv_id AND m.seq = d.seq
	WHERE s.text MATCH ?1 AND s.rowid < ?2 AND s.rowid >= ?7 AND d.app_id = ?3 AND (?5 = '' OR d.conv_id = ?5)
	ORDER BY s.rowid DESC LIMIT ?6`

// SearchMessages returns a page of the messages of the user's
// conversations whose searchable text matches q, most recently stored
// first (see parley.ConvStore). It reads from the reader pool, so it sees
// the last committed state and never waits for the writer. It looks at
// most at searchBudget matches: a page can be short, even empty, while
// Next is not 0.
func (db *DB) SearchMessages(ctx context.Context, appID, userID string, q parley.SearchQuery) (parley.SearchResult, error) {
	const op = "sqlite.SearchMessages"
	if err := q.Validate(); err != nil {
		return parley.SearchResult{}, err
	}
	tq, err := textsearch.Parse(q.Text)
	if err != nil {
		return parley.SearchResult{}, err
	}
	n := q.Limit
	if n == 0 {
		n = parley.DefaultSearchLimit
	}
	before := int64(math.MaxInt64)
	if q.Before != 0 && q.Before < math.MaxInt64 {
		before = int64(q.Before)
	}
	match := tq.FTS5()
	var floor int64
	var window int
	if err := db.r.QueryRowContext(ctx, searchFloorQuery, match, before, searchBudget).Scan(&floor, &window); err != nil {
		return parley.SearchResult{}, internal(op, err)
	}
	if window == 0 {
		return parley.SearchResult{}, nil
	}
	rows, err := db.r.QueryContext(ctx, searchQuery, match, before, appID, userID, q.ConvID, n+1, floor)
	if err != nil {
		return parley.SearchResult{}, internal(op, err)
	}
	defer rows.Close()
	var res parley.SearchResult
	var ids []uint64
	for rows.Next() {
		m := parley.Message{AppID: appID}
		var id uint64
		if err := scanMessage(scanAfter{rows, []any{&id, &m.ConvID}}, &m); err != nil {
			return parley.SearchResult{}, internal(op, err)
		}
		res.Msgs = append(res.Msgs, m)
		ids = append(ids, id)
	}
	if err := rows.Err(); err != nil {
		return parley.SearchResult{}, internal(op, err)
	}
	switch {
	case len(res.Msgs) > n:
		res.Msgs, res.Next = res.Msgs[:n], ids[n-1]
	case window == searchBudget:
		// Every match from the floor up was looked at; older ones may
		// follow.
		res.Next = uint64(floor)
	}
	return res, nil
}

// scanAfter is a row whose first columns go to first and the rest to the
// destinations Scan is given.
type scanAfter struct {
	row   interface{ Scan(...any) error }
	first []any
}

func (s scanAfter) Scan(dst ...any) error { return s.row.Scan(append(s.first, dst...)...) }

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

// searchQuery finds a page of matches newest first. The CROSS JOINs fix
// the join order (SQLite never reorders the left side of a CROSS JOIN):
// FTS5 yields matches in descending rowid order, each is kept only if the
// user is a member of its conversation, and the scan stops at the LIMIT.
// Its cost is therefore the matches it walks past, newest first, until it
// has a page: small for words the user's own conversations use, up to
// every match in the database for a query whose matches are all in other
// users' conversations (docs/architecture.md, "Search").
const searchQuery = `SELECT d.id, m.conv_id, m.seq, m.id, m.sender, m.client_msg_id, m.kind, m.body, m.ts
	FROM message_search s
	CROSS JOIN message_search_docs d ON d.id = s.rowid
	CROSS JOIN members mb ON mb.app_id = d.app_id AND mb.conv_id = d.conv_id AND mb.user_id = ?4
	CROSS JOIN messages m ON m.app_id = d.app_id AND m.conv_id = d.conv_id AND m.seq = d.seq
	WHERE s.text MATCH ?1 AND s.rowid < ?2 AND d.app_id = ?3 AND (?5 = '' OR d.conv_id = ?5)
	ORDER BY s.rowid DESC LIMIT ?6`

// SearchMessages returns a page of the messages of the user's
// conversations whose searchable text matches q, most recently stored
// first (see parley.ConvStore). It reads from the reader pool, so it sees
// the last committed state and never waits for the writer.
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
	rows, err := db.r.QueryContext(ctx, searchQuery, tq.FTS5(), before, appID, userID, q.ConvID, n+1)
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
	if len(res.Msgs) > n {
		res.Msgs, res.Next = res.Msgs[:n], ids[n-1]
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

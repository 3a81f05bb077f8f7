package sqlite

import (
	"context"
	"encoding/json"
	"fmt"
	"math"

	"github.com/parley-im/parley"
	"github.com/parley-im/parley/internal/events"
)

var _ events.RangeReader = (*DB)(nil)

// messagesInRanges reads the messages of a JSON array of ranges, [[app,
// conv, first, last], ...]: jsonb_each yields the ranges, and each one is
// a search of the messages primary key (app_id, conv_id, seq), never a
// scan (TestMessagesInRangesPlan). j.key is the range's index in the
// array; ordering by it and seq is the contract's order, a sort of the
// rows found. jsonb_each rather than json_each: its values are JSONB,
// which ->> reads without parsing text again (1,000 one-message ranges:
// about 11 ms -> 8.5 ms; the lookups alone 5.5 -> 2.6 ms).
const messagesInRanges = `SELECT j.key, m.seq, m.id, m.sender, m.client_msg_id, m.kind, m.body, m.ts, m.variants
	FROM jsonb_each(?) AS j
	JOIN messages AS m ON m.app_id = j.value ->> 0 AND m.conv_id = j.value ->> 1
		AND m.seq BETWEEN j.value ->> 2 AND j.value ->> 3
	ORDER BY j.key, m.seq LIMIT ?`

// MessagesInRanges returns the messages of rs, range by range and by seq
// within each, at most limit (at least 1) of them, in one query
// (events.RangeReader): the event relay reads a step's outbox rows with
// it rather than with a Messages call per conversation, which for a
// broadcast's rows was thousands of queries.
func (db *DB) MessagesInRanges(ctx context.Context, rs []events.MsgRange, limit int) ([]parley.Message, error) {
	const op = "sqlite.MessagesInRanges"
	if len(rs) == 0 {
		return nil, nil
	}
	limit = max(limit, 1)
	tuples := make([][4]any, len(rs))
	n := 0 // how many messages rs name, up to limit
	for i, r := range rs {
		tuples[i] = [4]any{r.App, r.Conv, min(r.First, math.MaxInt64), min(r.Last, math.MaxInt64)}
		if r.Last >= r.First && n < limit {
			n += int(min(r.Last-r.First, uint64(limit))) + 1
		}
	}
	js, err := json.Marshal(tuples)
	if err != nil {
		return nil, internal(op, err)
	}
	st, err := db.readStmt(ctx, messagesInRanges)
	if err != nil {
		return nil, internal(op, err)
	}
	rows, err := st.QueryContext(ctx, string(js), limit)
	if err != nil {
		return nil, internal(op, err)
	}
	defer rows.Close()
	msgs := make([]parley.Message, 0, min(n, limit))
	for rows.Next() {
		var k int
		var m parley.Message
		if err := scanMessage(scanAfter{rows, []any{&k}}, &m); err != nil {
			return nil, internal(op, err)
		}
		if k < 0 || k >= len(rs) {
			return nil, internal(op, fmt.Errorf("range index %d of %d", k, len(rs)))
		}
		m.AppID, m.ConvID = rs[k].App, rs[k].Conv
		msgs = append(msgs, m)
	}
	if err := rows.Err(); err != nil {
		return nil, internal(op, err)
	}
	return msgs, nil
}

// sqliteDB is the DB an outbox keeps its rows in: *DB, and any type that
// embeds one (the server wraps the DB in a struct of its own).
// EventLog.HasOutbox asks it.
type sqliteDB interface{ sqliteDB() *DB }

func (db *DB) sqliteDB() *DB { return db }

package sqlite

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"time"

	"github.com/parley-im/parley/internal/events"
)

var _ events.Outbox = (*DB)(nil)

// Outbox row kinds (outbox.kind).
const (
	outboxMsgs = "msgs" // data: [[app, conv, first, last], ...]
	outboxRead = "read" // data: [app, conv, user, seq]
)

// outboxInsert is the statement that adds an outbox row; Append binds its
// prepared form, the rarer writes run it as it is.
const outboxInsert = `INSERT INTO outbox (ts, kind, data) VALUES (?, ?, ?)`

// addOutbox adds one outbox row to tx: what the transaction did that the
// event stream must publish (events.Outbox says what each write adds).
// st is the prepared outboxInsert or nil.
func addOutbox(ctx context.Context, tx *sql.Tx, st *sql.Stmt, kind string, data any) error {
	js, err := json.Marshal(data)
	if err != nil {
		return err
	}
	now := time.Now().UnixMilli()
	if st != nil {
		_, err = tx.StmtContext(ctx, st).ExecContext(ctx, now, kind, string(js))
	} else {
		_, err = tx.ExecContext(ctx, outboxInsert, now, kind, string(js))
	}
	return err
}

// OutboxRows returns up to limit of the oldest outbox rows, oldest first
// (events.Outbox).
func (db *DB) OutboxRows(ctx context.Context, limit int) ([]events.OutboxRow, error) {
	const op = "sqlite.OutboxRows"
	rows, err := db.r.QueryContext(ctx, `SELECT id, ts, kind, data FROM outbox ORDER BY id LIMIT ?`, max(limit, 1))
	if err != nil {
		return nil, internal(op, err)
	}
	defer rows.Close()
	var out []events.OutboxRow
	for rows.Next() {
		var r events.OutboxRow
		var kind, data string
		if err := rows.Scan(&r.ID, &r.Time, &kind, &data); err != nil {
			return nil, internal(op, err)
		}
		if err := decodeOutbox(&r, kind, data); err != nil {
			return nil, internal(op, fmt.Errorf("outbox row %d: %w", r.ID, err))
		}
		out = append(out, r)
	}
	if err := rows.Err(); err != nil {
		return nil, internal(op, err)
	}
	return out, nil
}

func decodeOutbox(r *events.OutboxRow, kind, data string) error {
	switch kind {
	case outboxMsgs:
		var tuples []json.RawMessage
		if err := json.Unmarshal([]byte(data), &tuples); err != nil {
			return err
		}
		r.Msgs = make([]events.MsgRange, len(tuples))
		for i, t := range tuples {
			m := &r.Msgs[i]
			if err := decodeTuple(t, &m.App, &m.Conv, &m.First, &m.Last); err != nil {
				return err
			}
		}
	case outboxRead:
		var c events.ReadCursor
		if err := decodeTuple([]byte(data), &c.App, &c.Conv, &c.User, &c.Seq); err != nil {
			return err
		}
		r.Read = &c
	default:
		return fmt.Errorf("unknown kind %q", kind)
	}
	return nil
}

// decodeTuple decodes a JSON array of len(dst) values into dst.
func decodeTuple(data []byte, dst ...any) error {
	var raw []json.RawMessage
	if err := json.Unmarshal(data, &raw); err != nil {
		return err
	}
	if len(raw) != len(dst) {
		return fmt.Errorf("want %d values, got %d", len(dst), len(raw))
	}
	for i, v := range raw {
		if err := json.Unmarshal(v, dst[i]); err != nil {
			return err
		}
	}
	return nil
}

// outboxDelete deletes the outbox rows whose ids a JSON array lists
// (DeleteOutbox, EventLog.AppendFromOutbox).
const outboxDelete = `DELETE FROM outbox WHERE id IN (SELECT value FROM json_each(?))`

// DeleteOutbox deletes outbox rows by id (events.Outbox).
func (db *DB) DeleteOutbox(ctx context.Context, ids []int64) error {
	if len(ids) == 0 {
		return nil
	}
	js, err := json.Marshal(ids)
	if err != nil {
		return internal("sqlite.DeleteOutbox", err)
	}
	if _, err := db.w.ExecContext(ctx, outboxDelete, string(js)); err != nil {
		return internal("sqlite.DeleteOutbox", err)
	}
	return nil
}

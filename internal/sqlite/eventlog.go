package sqlite

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"

	"github.com/parley-im/parley/internal/events"
)

// EventLog is the embedded event log (events.EventLog): table events in
// the store's database, each app's events at positions 1, 2, 3, ... and
// deduplicated by id for ever. Appends go through the store's one writer,
// so they serialise with every other write. Get one with DB.EventLog; it
// is safe for concurrent use and lives as long as the DB.
type EventLog struct{ db *DB }

var _ events.EventLog = (*EventLog)(nil)

// EventLog returns the event log kept in db.
func (db *DB) EventLog() *EventLog { return &EventLog{db: db} }

// Append adds events in one transaction, skipping those whose id the app's
// log already holds (events.EventLog).
func (l *EventLog) Append(ctx context.Context, evs []events.Event) error {
	return l.appendTx(ctx, "sqlite.EventLog.Append", evs, nil)
}

var _ events.OutboxLog = (*EventLog)(nil)

// HasOutbox reports whether o is the log's DB, or embeds it
// (events.OutboxLog).
func (l *EventLog) HasOutbox(o events.Outbox) bool {
	h, ok := o.(sqliteDB)
	return ok && h.sqliteDB() == l.db
}

// AppendFromOutbox appends evs as Append does and deletes the outbox rows
// ids in the same transaction (events.OutboxLog): the relay's step is one
// commit rather than two.
func (l *EventLog) AppendFromOutbox(ctx context.Context, evs []events.Event, outboxIDs []int64) error {
	return l.appendTx(ctx, "sqlite.EventLog.AppendFromOutbox", evs, outboxIDs)
}

// appendTx appends evs and deletes the outbox rows outboxIDs in one write
// transaction.
func (l *EventLog) appendTx(ctx context.Context, op string, evs []events.Event, outboxIDs []int64) error {
	if err := events.ValidateEvents(evs); err != nil {
		return err
	}
	if len(evs) == 0 && len(outboxIDs) == 0 {
		return nil
	}
	ids, err := json.Marshal(outboxIDs)
	if err != nil {
		return internal(op, err)
	}
	tx, err := l.db.w.BeginTx(ctx, nil)
	if err != nil {
		return internal(op, err)
	}
	defer rollback(tx)
	if err := appendEvents(ctx, tx, l.db.st, evs); err != nil {
		return internal(op, err)
	}
	if len(outboxIDs) > 0 {
		if _, err := tx.ExecContext(ctx, outboxDelete, string(ids)); err != nil {
			return internal(op, err)
		}
	}
	if err := tx.Commit(); err != nil {
		return internal(op, err)
	}
	return nil
}

// appendEvents is Append's work in tx: it adds evs (validated), skipping
// those whose id the app's log already holds.
func appendEvents(ctx context.Context, tx *sql.Tx, st *appendStmts, evs []events.Event) error {
	if len(evs) == 0 {
		return nil
	}
	// Prepared once on the writer (prepareAppend): modernc would parse
	// both statements on every relay step.
	ins, nextPos := tx.StmtContext(ctx, st.eventInsert), tx.StmtContext(ctx, st.eventNextPos)
	next := make(map[string]uint64) // per app, the next position
	for _, e := range evs {
		pos, ok := next[e.App]
		if !ok {
			if err := nextPos.QueryRowContext(ctx, e.App).Scan(&pos); err != nil {
				return err
			}
		}
		res, err := ins.ExecContext(ctx, e.App, int64(pos), e.ID, e.Type, e.Time, string(e.Data))
		if err != nil {
			return err
		}
		n, err := res.RowsAffected()
		if err != nil {
			return err
		}
		if n == 1 {
			pos++
		}
		next[e.App] = pos
	}
	return nil
}

// Read returns app's events after offset after (events.EventLog).
func (l *EventLog) Read(ctx context.Context, app string, after uint64, limit int) ([]events.Event, error) {
	const op = "sqlite.EventLog.Read"
	rows, err := l.db.r.QueryContext(ctx, `SELECT pos, id, type, ts, data FROM events
		WHERE app_id = ? AND pos > ? ORDER BY pos LIMIT ?`, app, int64(min(after, 1<<63-1)), events.ReadLimit(limit))
	if err != nil {
		return nil, internal(op, err)
	}
	defer rows.Close()
	out := []events.Event{}
	for rows.Next() {
		e := events.Event{App: app}
		var data string
		if err := rows.Scan(&e.Offset, &e.ID, &e.Type, &e.Time, &data); err != nil {
			return nil, internal(op, err)
		}
		e.Data = []byte(data)
		out = append(out, e)
	}
	if err := rows.Err(); err != nil {
		return nil, internal(op, err)
	}
	return out, nil
}

// Last returns the position of app's newest event, 0 if none
// (events.EventLog).
func (l *EventLog) Last(ctx context.Context, app string) (uint64, error) {
	var last uint64
	err := l.db.r.QueryRowContext(ctx, `SELECT coalesce(max(pos), 0) FROM events WHERE app_id = ?`, app).Scan(&last)
	if err != nil && !errors.Is(err, sql.ErrNoRows) {
		return 0, internal("sqlite.EventLog.Last", err)
	}
	return last, nil
}

var _ events.Trimmer = (*EventLog)(nil)

// TrimBefore deletes up to limit events older than before (Unix ms),
// oldest first, never an app's newest (events.Trimmer): one statement
// in one write transaction through the store's writer, which finds them
// by the ts index (migration 00011) and each app's newest by
// events_by_pos. Append takes max(pos) + 1, so keeping the newest is
// what keeps an app's offsets from starting again at 1.
func (l *EventLog) TrimBefore(ctx context.Context, before int64, limit int) (int, error) {
	const op = "sqlite.EventLog.TrimBefore"
	res, err := l.db.w.ExecContext(ctx, `DELETE FROM events WHERE rowid IN (
		SELECT e.rowid FROM events e
		WHERE e.ts < ? AND e.pos < (SELECT max(m.pos) FROM events m WHERE m.app_id = e.app_id)
		ORDER BY e.ts LIMIT ?)`, before, max(limit, 1))
	if err != nil {
		return 0, internal(op, err)
	}
	n, err := res.RowsAffected()
	if err != nil {
		return 0, internal(op, err)
	}
	return int(n), nil
}

package postgres

import (
	"context"
	"encoding/json"
	"errors"
	"slices"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/parley-im/parley/internal/events"
)

var (
	_ events.Outbox       = (*Store)(nil)
	_ events.WebhookStore = (*Store)(nil)
	_ events.EventLog     = (*EventLog)(nil)
)

// Statements that add an outbox row (migrations/00002_events.sql); the
// writes queue them in their transactions after their row locks and
// before the counter.
const (
	outboxMsgs = `INSERT INTO outbox (msgs) VALUES ($1)`
	outboxRead = `INSERT INTO outbox (read) VALUES ($1)`
)

// outboxJSON encodes an outbox row's value.
func outboxJSON(v any) string {
	b, _ := json.Marshal(v) // MsgRange and ReadCursor always encode
	return string(b)
}

// OutboxRows returns up to limit of the oldest outbox rows, by id
// (events.Outbox; the migration says how far ids are commit order).
func (s *Store) OutboxRows(ctx context.Context, limit int) ([]events.OutboxRow, error) {
	const op = "postgres.OutboxRows"
	rows, err := s.w.Query(ctx, `SELECT id, ts, msgs, read FROM outbox ORDER BY id LIMIT $1`, max(limit, 1))
	if err != nil {
		return nil, internal(op, err)
	}
	out, err := pgx.CollectRows(rows, func(row pgx.CollectableRow) (events.OutboxRow, error) {
		var r events.OutboxRow
		var msgs, read *string
		if err := row.Scan(&r.ID, &r.Time, &msgs, &read); err != nil {
			return r, err
		}
		if msgs != nil {
			if err := json.Unmarshal([]byte(*msgs), &r.Msgs); err != nil {
				return r, err
			}
		}
		if read != nil {
			r.Read = new(events.ReadCursor)
			if err := json.Unmarshal([]byte(*read), r.Read); err != nil {
				return r, err
			}
		}
		return r, nil
	})
	if err != nil {
		return nil, internal(op, err)
	}
	return out, nil
}

// DeleteOutbox deletes outbox rows by id (events.Outbox).
func (s *Store) DeleteOutbox(ctx context.Context, ids []int64) error {
	if len(ids) == 0 {
		return nil
	}
	if _, err := s.w.Exec(ctx, `DELETE FROM outbox WHERE id = ANY($1)`, ids); err != nil {
		return internal("postgres.DeleteOutbox", err)
	}
	return nil
}

// EventLog is an event log (events.EventLog) in the store's database:
// each app's events at positions 1, 2, 3, ..., deduplicated by id for
// ever. An Append holds its apps' 'events' counters until it commits, so
// positions are gapless and a reader never sees a position while a
// smaller one can still commit. Get one with Store.EventLog; it is safe
// for concurrent use and lives as long as the Store.
type EventLog struct{ s *Store }

// EventLog returns the event log kept in s's database.
func (s *Store) EventLog() *EventLog { return &EventLog{s: s} }

// Append adds events in one transaction, skipping those whose id the
// app's log already holds (events.EventLog). It locks the apps'
// counters first (in app order), so concurrent appends to one app take
// turns.
func (l *EventLog) Append(ctx context.Context, evs []events.Event) error {
	const op = "postgres.EventLog.Append"
	if err := events.ValidateEvents(evs); err != nil {
		return err
	}
	if len(evs) == 0 {
		return nil
	}
	byApp := make(map[string][]events.Event)
	var apps []string
	for _, e := range evs {
		if byApp[e.App] == nil {
			apps = append(apps, e.App)
		}
		byApp[e.App] = append(byApp[e.App], e)
	}
	slices.Sort(apps)
	err := l.s.inTx(ctx, func(tx pgx.Tx) error {
		for _, app := range apps {
			if err := appendEvents(ctx, tx, app, byApp[app]); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return internal(op, err)
	}
	return nil
}

// appendEvents appends one app's events in tx.
func appendEvents(ctx context.Context, tx pgx.Tx, app string, evs []events.Event) error {
	var last int64
	if err := tx.QueryRow(ctx, `INSERT INTO counters AS k (app_id, name, ver) VALUES ($1, 'events', 0)
		ON CONFLICT (app_id, name) DO UPDATE SET ver = k.ver RETURNING ver`, app).Scan(&last); err != nil {
		return err
	}
	ids := make([]string, len(evs))
	for i, e := range evs {
		ids[i] = e.ID
	}
	had, err := queryStrings(ctx, tx, `SELECT id FROM events WHERE app_id = $1 AND id = ANY($2)`, app, ids)
	if err != nil {
		return err
	}
	skip := make(map[string]bool, len(had))
	for _, id := range had {
		skip[id] = true
	}
	var pos []int64
	var eids, types, datas []string
	var times []int64
	for _, e := range evs {
		if skip[e.ID] {
			continue
		}
		skip[e.ID] = true // a repeat within the batch too
		last++
		pos, eids, types, datas, times = append(pos, last), append(eids, e.ID), append(types, e.Type),
			append(datas, string(e.Data)), append(times, e.Time)
	}
	if len(eids) == 0 {
		return nil
	}
	b := &pgx.Batch{}
	b.Queue(`INSERT INTO events (app_id, pos, id, type, ts, data)
		SELECT $1, * FROM unnest($2::bigint[], $3::text[], $4::text[], $5::bigint[], $6::text[])`,
		app, pos, eids, types, times, datas)
	b.Queue(`UPDATE counters SET ver = $2 WHERE app_id = $1 AND name = 'events'`, app, last)
	return tx.SendBatch(ctx, b).Close()
}

// Read returns app's events after offset after (events.EventLog).
func (l *EventLog) Read(ctx context.Context, app string, after uint64, limit int) ([]events.Event, error) {
	const op = "postgres.EventLog.Read"
	rows, err := l.s.w.Query(ctx, `SELECT pos, id, type, ts, data FROM events
		WHERE app_id = $1 AND pos > $2 ORDER BY pos LIMIT $3`, app, clamp(after), events.ReadLimit(limit))
	if err != nil {
		return nil, internal(op, err)
	}
	out, err := pgx.CollectRows(rows, func(row pgx.CollectableRow) (events.Event, error) {
		e := events.Event{App: app}
		var pos int64
		var data string
		err := row.Scan(&pos, &e.ID, &e.Type, &e.Time, &data)
		e.Offset, e.Data = uint64(pos), []byte(data)
		return e, err
	})
	if err != nil {
		return nil, internal(op, err)
	}
	if out == nil {
		out = []events.Event{}
	}
	return out, nil
}

// Last returns the position of app's newest event, 0 if none
// (events.EventLog).
func (l *EventLog) Last(ctx context.Context, app string) (uint64, error) {
	var last int64
	err := l.s.w.QueryRow(ctx, `SELECT coalesce(max(pos), 0) FROM events WHERE app_id = $1`, app).Scan(&last)
	if err != nil {
		return 0, internal("postgres.EventLog.Last", err)
	}
	return uint64(last), nil
}

var _ events.Trimmer = (*EventLog)(nil)

// TrimBefore deletes up to limit events older than before (Unix ms),
// oldest first, never an app's newest (events.Trimmer): one statement,
// its own transaction. It finds them by the ts index (migration 00004)
// and each app's newest by the primary key, and deletes by ctid (a Tid
// Scan: matching on (app_id, pos) made the planner hash the whole
// table). Positions come from the 'events' counter, so Append would go on
// after a trim even without the newest; keeping it keeps Last (the
// newest kept position) from answering 0.
func (l *EventLog) TrimBefore(ctx context.Context, before int64, limit int) (int, error) {
	ct, err := l.s.w.Exec(ctx, `DELETE FROM events WHERE ctid = ANY(ARRAY(
		SELECT e.ctid FROM events e
		WHERE e.ts < $1 AND e.pos < (SELECT max(m.pos) FROM events m WHERE m.app_id = e.app_id)
		ORDER BY e.ts LIMIT $2))`, before, max(limit, 1))
	if err != nil {
		return 0, internal("postgres.EventLog.TrimBefore", err)
	}
	return int(ct.RowsAffected()), nil
}

// PutWebhook creates or replaces an app's webhook (events.WebhookStore).
// Its version is the time in nanoseconds, or one more than the replaced
// webhook's if that is not larger (as the SQLite store).
func (s *Store) PutWebhook(ctx context.Context, w *events.Webhook) error {
	err := s.w.QueryRow(ctx, `INSERT INTO webhooks AS h (app_id, url, secret, cursor, version, updated_at)
		VALUES ($1, $2, $3, $4, $5, $6)
		ON CONFLICT (app_id) DO UPDATE SET url = $2, secret = $3, cursor = $4,
			version = GREATEST($5, h.version + 1), updated_at = $6
		RETURNING version`,
		w.App, w.URL, w.Secret, clamp(w.Cursor), time.Now().UnixNano(), w.UpdatedAt).Scan(&w.Version)
	if err != nil {
		return internal("postgres.PutWebhook", err)
	}
	return nil
}

const webhookColumns = `app_id, url, secret, cursor, version, updated_at`

func scanWebhook(row pgx.Row) (events.Webhook, error) {
	var w events.Webhook
	var cursor int64
	err := row.Scan(&w.App, &w.URL, &w.Secret, &cursor, &w.Version, &w.UpdatedAt)
	w.Cursor = uint64(cursor)
	return w, err
}

// Webhook returns an app's webhook, or ENotFound (events.WebhookStore).
func (s *Store) Webhook(ctx context.Context, app string) (*events.Webhook, error) {
	w, err := scanWebhook(s.w.QueryRow(ctx, `SELECT `+webhookColumns+` FROM webhooks WHERE app_id = $1`, app))
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, notFound("postgres.Webhook", "no webhook")
	}
	if err != nil {
		return nil, internal("postgres.Webhook", err)
	}
	return &w, nil
}

// Webhooks returns every app's webhook, in app order
// (events.WebhookStore).
func (s *Store) Webhooks(ctx context.Context) ([]events.Webhook, error) {
	rows, err := s.w.Query(ctx, `SELECT `+webhookColumns+` FROM webhooks ORDER BY app_id`)
	if err != nil {
		return nil, internal("postgres.Webhooks", err)
	}
	out, err := pgx.CollectRows(rows, func(row pgx.CollectableRow) (events.Webhook, error) { return scanWebhook(row) })
	if err != nil {
		return nil, internal("postgres.Webhooks", err)
	}
	return out, nil
}

// DeleteWebhook deletes an app's webhook (events.WebhookStore).
func (s *Store) DeleteWebhook(ctx context.Context, app string) (bool, error) {
	ct, err := s.w.Exec(ctx, `DELETE FROM webhooks WHERE app_id = $1`, app)
	if err != nil {
		return false, internal("postgres.DeleteWebhook", err)
	}
	return ct.RowsAffected() == 1, nil
}

// AdvanceWebhook moves a webhook's cursor and records a dead letter, in
// one transaction, if the webhook is still at version
// (events.WebhookStore).
func (s *Store) AdvanceWebhook(ctx context.Context, app string, version int64, cursor uint64, dead *events.DeadLetter) (bool, error) {
	const op = "postgres.AdvanceWebhook"
	var moved bool
	err := s.inTx(ctx, func(tx pgx.Tx) error {
		ct, err := tx.Exec(ctx, `UPDATE webhooks SET cursor = $3 WHERE app_id = $1 AND version = $2`, app, version, clamp(cursor))
		if err != nil {
			return err
		}
		if moved = ct.RowsAffected() == 1; !moved || dead == nil {
			return nil
		}
		return tx.QueryRow(ctx, `INSERT INTO webhook_dead (app_id, first, last, events, attempts, error, ts)
			VALUES ($1, $2, $3, $4, $5, $6, $7) RETURNING id`,
			app, clamp(dead.First), clamp(dead.Last), dead.Events, dead.Attempts, dead.Error, dead.Time).Scan(&dead.ID)
	})
	if err != nil {
		return false, internal(op, err)
	}
	return moved, nil
}

// DeadLetters returns a page of an app's dead letters
// (events.WebhookStore).
func (s *Store) DeadLetters(ctx context.Context, app string, after int64, limit int) ([]events.DeadLetter, error) {
	rows, err := s.w.Query(ctx, `SELECT id, first, last, events, attempts, error, ts FROM webhook_dead
		WHERE app_id = $1 AND id > $2 ORDER BY id LIMIT $3`, app, after, events.ReadLimit(limit))
	if err != nil {
		return nil, internal("postgres.DeadLetters", err)
	}
	out, err := pgx.CollectRows(rows, func(row pgx.CollectableRow) (events.DeadLetter, error) {
		d := events.DeadLetter{App: app}
		var first, last int64
		err := row.Scan(&d.ID, &first, &last, &d.Events, &d.Attempts, &d.Error, &d.Time)
		d.First, d.Last = uint64(first), uint64(last)
		return d, err
	})
	if err != nil {
		return nil, internal("postgres.DeadLetters", err)
	}
	if out == nil {
		out = []events.DeadLetter{}
	}
	return out, nil
}

package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"time"

	"github.com/parley-im/parley"
	"github.com/parley-im/parley/internal/events"
)

var _ events.WebhookStore = (*DB)(nil)

// PutWebhook creates or replaces an app's webhook (events.WebhookStore).
// Its version is the time in nanoseconds, or one more than the replaced
// webhook's if that is not larger, so a webhook deleted and put again
// gets a version unlike its predecessor's too (as long as the clock does
// not go back by more than the time between the two).
func (db *DB) PutWebhook(ctx context.Context, w *events.Webhook) error {
	const op = "sqlite.PutWebhook"
	ver := time.Now().UnixNano()
	err := db.w.QueryRowContext(ctx, `INSERT INTO webhooks (app_id, url, secret, cursor, version, updated_at)
		VALUES (?1, ?2, ?3, ?4, ?5, ?6)
		ON CONFLICT (app_id) DO UPDATE SET url = ?2, secret = ?3, cursor = ?4,
			version = max(?5, webhooks.version + 1), updated_at = ?6
		RETURNING version`,
		w.App, w.URL, w.Secret, int64(w.Cursor), ver, w.UpdatedAt).Scan(&w.Version)
	if err != nil {
		return internal(op, err)
	}
	return nil
}

const webhookColumns = `app_id, url, secret, cursor, version, updated_at`

func scanWebhook(row interface{ Scan(...any) error }, w *events.Webhook) error {
	return row.Scan(&w.App, &w.URL, &w.Secret, &w.Cursor, &w.Version, &w.UpdatedAt)
}

// Webhook returns an app's webhook, or ENotFound (events.WebhookStore).
func (db *DB) Webhook(ctx context.Context, app string) (*events.Webhook, error) {
	var w events.Webhook
	err := scanWebhook(db.r.QueryRowContext(ctx, `SELECT `+webhookColumns+` FROM webhooks WHERE app_id = ?`, app), &w)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, &parley.Error{Code: parley.ENotFound, Op: "sqlite.Webhook", Message: "no webhook"}
	}
	if err != nil {
		return nil, internal("sqlite.Webhook", err)
	}
	return &w, nil
}

// Webhooks returns every app's webhook (events.WebhookStore).
func (db *DB) Webhooks(ctx context.Context) ([]events.Webhook, error) {
	rows, err := db.r.QueryContext(ctx, `SELECT `+webhookColumns+` FROM webhooks ORDER BY app_id`)
	if err != nil {
		return nil, internal("sqlite.Webhooks", err)
	}
	defer rows.Close()
	var out []events.Webhook
	for rows.Next() {
		var w events.Webhook
		if err := scanWebhook(rows, &w); err != nil {
			return nil, internal("sqlite.Webhooks", err)
		}
		out = append(out, w)
	}
	if err := rows.Err(); err != nil {
		return nil, internal("sqlite.Webhooks", err)
	}
	return out, nil
}

// DeleteWebhook deletes an app's webhook (events.WebhookStore).
func (db *DB) DeleteWebhook(ctx context.Context, app string) (bool, error) {
	res, err := db.w.ExecContext(ctx, `DELETE FROM webhooks WHERE app_id = ?`, app)
	if err != nil {
		return false, internal("sqlite.DeleteWebhook", err)
	}
	n, err := res.RowsAffected()
	if err != nil {
		return false, internal("sqlite.DeleteWebhook", err)
	}
	return n == 1, nil
}

// AdvanceWebhook moves a webhook's cursor and records a dead letter if the
// webhook is still at version (events.WebhookStore).
func (db *DB) AdvanceWebhook(ctx context.Context, app string, version int64, cursor uint64, dead *events.DeadLetter) (bool, error) {
	const op = "sqlite.AdvanceWebhook"
	tx, err := db.w.BeginTx(ctx, nil)
	if err != nil {
		return false, internal(op, err)
	}
	defer rollback(tx)
	res, err := tx.ExecContext(ctx, `UPDATE webhooks SET cursor = ? WHERE app_id = ? AND version = ?`, int64(cursor), app, version)
	if err != nil {
		return false, internal(op, err)
	}
	if n, err := res.RowsAffected(); err != nil {
		return false, internal(op, err)
	} else if n == 0 {
		return false, nil
	}
	if dead != nil {
		err := tx.QueryRowContext(ctx, `INSERT INTO webhook_dead (app_id, first, last, events, attempts, error, ts)
			VALUES (?, ?, ?, ?, ?, ?, ?) RETURNING id`,
			app, int64(dead.First), int64(dead.Last), dead.Events, dead.Attempts, dead.Error, dead.Time).Scan(&dead.ID)
		if err != nil {
			return false, internal(op, err)
		}
	}
	if err := tx.Commit(); err != nil {
		return false, internal(op, err)
	}
	return true, nil
}

// DeadLetters returns a page of an app's dead letters (events.WebhookStore).
func (db *DB) DeadLetters(ctx context.Context, app string, after int64, limit int) ([]events.DeadLetter, error) {
	rows, err := db.r.QueryContext(ctx, `SELECT id, first, last, events, attempts, error, ts FROM webhook_dead
		WHERE app_id = ? AND id > ? ORDER BY id LIMIT ?`, app, after, events.ReadLimit(limit))
	if err != nil {
		return nil, internal("sqlite.DeadLetters", err)
	}
	defer rows.Close()
	out := []events.DeadLetter{}
	for rows.Next() {
		d := events.DeadLetter{App: app}
		if err := rows.Scan(&d.ID, &d.First, &d.Last, &d.Events, &d.Attempts, &d.Error, &d.Time); err != nil {
			return nil, internal("sqlite.DeadLetters", err)
		}
		out = append(out, d)
	}
	if err := rows.Err(); err != nil {
		return nil, internal("sqlite.DeadLetters", err)
	}
	return out, nil
}

package sqlite

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"

	"github.com/parley-im/parley"
)

// AppSettings returns the app's own settings (table app_settings, JSON);
// none set when it has no row. Returns ENotFound if the app does not
// exist.
func (db *DB) AppSettings(ctx context.Context, appID string) (parley.AppSettings, error) {
	return readAppSettings(ctx, db.r, "sqlite.AppSettings", appID)
}

// UpdateAppSettings applies p to the app's settings in one write
// transaction (so that concurrent updates of different fields all hold)
// and returns the result. Returns ENotFound if the app does not exist.
func (db *DB) UpdateAppSettings(ctx context.Context, appID string, p parley.AppSettingsPatch) (parley.AppSettings, error) {
	const op = "sqlite.UpdateAppSettings"
	tx, err := db.w.BeginTx(ctx, nil)
	if err != nil {
		return parley.AppSettings{}, internal(op, err)
	}
	defer rollback(tx)
	cur, err := readAppSettings(ctx, tx, op, appID)
	if err != nil {
		return parley.AppSettings{}, err
	}
	next := p.Apply(cur)
	b, err := json.Marshal(next)
	if err != nil {
		return parley.AppSettings{}, internal(op, err)
	}
	if _, err := tx.ExecContext(ctx, `INSERT INTO app_settings (app_id, settings, updated_at) VALUES (?, ?, unixepoch('subsec') * 1000)
		ON CONFLICT (app_id) DO UPDATE SET settings = excluded.settings, updated_at = excluded.updated_at`,
		appID, string(b)); err != nil {
		return parley.AppSettings{}, internal(op, err)
	}
	if err := tx.Commit(); err != nil {
		return parley.AppSettings{}, internal(op, err)
	}
	return next, nil
}

// readAppSettings reads an app's settings through q (the readers, or a
// write transaction).
func readAppSettings(ctx context.Context, q interface {
	QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row
}, op, appID string) (parley.AppSettings, error) {
	var exists bool
	var js sql.NullString
	err := q.QueryRowContext(ctx, `SELECT 1, s.settings FROM apps a
		LEFT JOIN app_settings s ON s.app_id = a.id WHERE a.id = ?`, appID).Scan(&exists, &js)
	if errors.Is(err, sql.ErrNoRows) {
		return parley.AppSettings{}, notFound(op, "app %q not found", appID)
	}
	if err != nil {
		return parley.AppSettings{}, internal(op, err)
	}
	var a parley.AppSettings
	if !js.Valid {
		return a, nil
	}
	if err := json.Unmarshal([]byte(js.String), &a); err != nil {
		return parley.AppSettings{}, internal(op, err)
	}
	return a, nil
}

package postgres

import (
	"context"
	"encoding/json"
	"errors"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/parley-im/parley"
)

// AppSettings returns the app's own settings (table app_settings, JSON);
// none set when it has no row. Returns ENotFound if the app does not
// exist.
func (s *Store) AppSettings(ctx context.Context, appID string) (parley.AppSettings, error) {
	const op = "postgres.AppSettings"
	a, err := readAppSettings(ctx, s.w, op, appID)
	if err != nil {
		return parley.AppSettings{}, internal(op, err)
	}
	return a, nil
}

// UpdateAppSettings applies p to the app's settings in one transaction,
// with the app's row locked from the read to the commit (so that
// concurrent updates of different fields, on any node, all hold), and
// returns the result. Returns ENotFound if the app does not exist.
func (s *Store) UpdateAppSettings(ctx context.Context, appID string, p parley.AppSettingsPatch) (parley.AppSettings, error) {
	const op = "postgres.UpdateAppSettings"
	var next parley.AppSettings
	err := s.inTx(ctx, func(tx pgx.Tx) error {
		// The app's row locked first, then the settings read in a
		// statement of their own: its snapshot is taken after the lock
		// wait, so it sees the update that held the lock (a join in the
		// locking statement would read the old settings row).
		var one int
		err := tx.QueryRow(ctx, `SELECT 1 FROM apps WHERE id = $1 FOR NO KEY UPDATE`, appID).Scan(&one)
		if errors.Is(err, pgx.ErrNoRows) {
			return notFound(op, "app %q not found", appID)
		}
		if err != nil {
			return err
		}
		cur, err := readAppSettings(ctx, tx, op, appID)
		if err != nil {
			return err
		}
		next = p.Apply(cur)
		b, err := json.Marshal(next)
		if err != nil {
			return err
		}
		_, err = tx.Exec(ctx, `INSERT INTO app_settings (app_id, settings, updated_at) VALUES ($1, $2, $3)
			ON CONFLICT (app_id) DO UPDATE SET settings = excluded.settings, updated_at = excluded.updated_at`,
			appID, string(b), time.Now().UnixMilli())
		return err
	})
	if err != nil {
		return parley.AppSettings{}, internal(op, err)
	}
	return next, nil
}

// readAppSettings reads an app's settings through q.
func readAppSettings(ctx context.Context, q interface {
	QueryRow(context.Context, string, ...any) pgx.Row
}, op, appID string) (parley.AppSettings, error) {
	var js *string
	err := q.QueryRow(ctx, `SELECT s.settings FROM apps a
		LEFT JOIN app_settings s ON s.app_id = a.id WHERE a.id = $1`, appID).Scan(&js)
	if errors.Is(err, pgx.ErrNoRows) {
		return parley.AppSettings{}, notFound(op, "app %q not found", appID)
	}
	var a parley.AppSettings
	if err != nil || js == nil {
		return a, err
	}
	return a, json.Unmarshal([]byte(*js), &a)
}

package postgres

import (
	"context"
	"errors"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/parley-im/parley"
)

// CreateApp stores a new app. A zero CreatedAt is set to now, in app too.
// Returns EConflict if the id is taken.
func (s *Store) CreateApp(ctx context.Context, app *parley.App) error {
	const op = "postgres.CreateApp"
	if app.CreatedAt.IsZero() {
		app.CreatedAt = time.Now()
	}
	ct, err := s.w.Exec(ctx, `INSERT INTO apps (id, name, key_hash, token_secret, created_at)
		VALUES ($1, $2, $3, $4, $5) ON CONFLICT (id) DO NOTHING`,
		app.ID, app.Name, nonNil(app.KeyHash), nonNil(app.TokenSecret), millis(app.CreatedAt))
	if err != nil {
		return internal(op, err)
	}
	if ct.RowsAffected() == 0 {
		return conflict(op, "app id %s is taken", app.ID)
	}
	return nil
}

// App returns an app. Returns ENotFound if there is none with that id.
func (s *Store) App(ctx context.Context, id string) (*parley.App, error) {
	const op = "postgres.App"
	a := parley.App{ID: id}
	var created int64
	err := s.w.QueryRow(ctx, `SELECT name, key_hash, token_secret, created_at FROM apps WHERE id = $1`, id).
		Scan(&a.Name, &a.KeyHash, &a.TokenSecret, &created)
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, notFound(op, "app %q not found", id)
	}
	if err != nil {
		return nil, internal(op, err)
	}
	a.CreatedAt = fromMillis(created)
	return &a, nil
}

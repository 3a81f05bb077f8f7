package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"time"

	"github.com/parley-im/parley"
)

// CreateApp stores a new app. A zero CreatedAt is set to now, in app too.
// Returns EConflict if the id is taken.
func (db *DB) CreateApp(ctx context.Context, app *parley.App) error {
	const op = "sqlite.CreateApp"
	if app.CreatedAt.IsZero() {
		app.CreatedAt = time.Now()
	}
	res, err := db.w.ExecContext(ctx, `INSERT INTO apps (id, name, key_hash, token_secret, created_at)
		VALUES (?, ?, ?, ?, ?) ON CONFLICT (id) DO NOTHING`,
		app.ID, app.Name, nonNil(app.KeyHash), nonNil(app.TokenSecret), millis(app.CreatedAt))
	if err != nil {
		return internal(op, err)
	}
	n, err := res.RowsAffected()
	if err != nil {
		return internal(op, err)
	}
	if n == 0 {
		return &parley.Error{Code: parley.EConflict, Op: op, Message: "app id " + app.ID + " is taken"}
	}
	return nil
}

// App returns an app. Returns ENotFound if there is none with that id.
func (db *DB) App(ctx context.Context, id string) (*parley.App, error) {
	const op = "sqlite.App"
	a := parley.App{ID: id}
	var created int64
	err := db.r.QueryRowContext(ctx, `SELECT name, key_hash, token_secret, created_at FROM apps WHERE id = ?`, id).
		Scan(&a.Name, &a.KeyHash, &a.TokenSecret, &created)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, notFound(op, "app %q not found", id)
	}
	if err != nil {
		return nil, internal(op, err)
	}
	a.CreatedAt = fromMillis(created)
	return &a, nil
}

// nonNil keeps NOT NULL BLOB columns satisfied by nil slices.
func nonNil(b []byte) []byte {
	if b == nil {
		return []byte{}
	}
	return b
}

package sqlite

import (
	"context"
	"database/sql"
	"errors"

	"github.com/parley-im/parley"
	"github.com/parley-im/parley/internal/files"
)

var _ files.Catalog = (*DB)(nil)

// CreateFile records a file. Returns EConflict if the app already has a
// file with that id.
func (db *DB) CreateFile(ctx context.Context, f *files.File) error {
	const op = "sqlite.CreateFile"
	res, err := db.w.ExecContext(ctx, `INSERT INTO files
		(app_id, id, conv_id, uploader, name, size, mime, sha256, created_at)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (app_id, id) DO NOTHING`,
		f.AppID, f.ID, f.ConvID, f.Uploader, f.Name, f.Size, f.MIME, f.SHA256, millis(f.CreatedAt))
	if err != nil {
		return internal(op, err)
	}
	if n, err := res.RowsAffected(); err != nil {
		return internal(op, err)
	} else if n == 0 {
		return &parley.Error{Code: parley.EConflict, Op: op, Message: "file id taken"}
	}
	return nil
}

// File returns the record of an app's file. Returns ENotFound if the app
// has no file with that id.
func (db *DB) File(ctx context.Context, appID, id string) (*files.File, error) {
	const op = "sqlite.File"
	f := &files.File{AppID: appID, ID: id}
	var created int64
	err := db.r.QueryRowContext(ctx, `SELECT conv_id, uploader, name, size, mime, sha256, created_at
		FROM files WHERE app_id = ? AND id = ?`, appID, id).
		Scan(&f.ConvID, &f.Uploader, &f.Name, &f.Size, &f.MIME, &f.SHA256, &created)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, notFound(op, "file not found")
	}
	if err != nil {
		return nil, internal(op, err)
	}
	f.CreatedAt = fromMillis(created)
	return f, nil
}

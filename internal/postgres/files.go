package postgres

import (
	"context"
	"errors"

	"github.com/jackc/pgx/v5"

	"github.com/parley-im/parley/internal/files"
)

// CreateFile records a file. Returns EConflict if the app already has a
// file with that id.
func (s *Store) CreateFile(ctx context.Context, f *files.File) error {
	const op = "postgres.CreateFile"
	ct, err := s.w.Exec(ctx, `INSERT INTO files
		(app_id, id, conv_id, uploader, name, size, mime, sha256, created_at)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) ON CONFLICT (app_id, id) DO NOTHING`,
		f.AppID, f.ID, f.ConvID, f.Uploader, f.Name, f.Size, f.MIME, f.SHA256, millis(f.CreatedAt))
	if err != nil {
		return internal(op, err)
	}
	if ct.RowsAffected() == 0 {
		return conflict(op, "file id taken")
	}
	return nil
}

// File returns the record of an app's file. Returns ENotFound if the app
// has no file with that id.
func (s *Store) File(ctx context.Context, appID, id string) (*files.File, error) {
	const op = "postgres.File"
	f := &files.File{AppID: appID, ID: id}
	var created int64
	err := s.w.QueryRow(ctx, `SELECT conv_id, uploader, name, size, mime, sha256, created_at
		FROM files WHERE app_id = $1 AND id = $2`, appID, id).
		Scan(&f.ConvID, &f.Uploader, &f.Name, &f.Size, &f.MIME, &f.SHA256, &created)
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, notFound(op, "file not found")
	}
	if err != nil {
		return nil, internal(op, err)
	}
	f.CreatedAt = fromMillis(created)
	return f, nil
}

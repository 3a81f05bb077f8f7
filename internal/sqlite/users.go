package sqlite

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"time"

	"github.com/parley-im/parley"
)

// UpsertUsers creates or replaces the profiles of users of one app in one
// transaction. Name, Avatar, Role and Metadata are replaced as given;
// CreatedAt is kept for existing users. A non-zero CreatedAt or UpdatedAt
// in the input is stored as given (so callers can inject a clock); zero
// ones are set to now. The input is not modified. It is UpsertProfiles
// (contacts.go) without the list of changed users: a profile upserted as
// it is stored is left alone, UpdatedAt included.
func (db *DB) UpsertUsers(ctx context.Context, appID string, users []parley.User) error {
	_, err := db.UpsertProfiles(ctx, appID, users)
	return err
}

// User returns a user. Returns ENotFound if there is none.
func (db *DB) User(ctx context.Context, appID, userID string) (*parley.User, error) {
	const op = "sqlite.User"
	u := parley.User{AppID: appID, ID: userID}
	var role, meta string
	var created, updated int64
	// Prepared once (readStmt): every connect and every user of a listed
	// broadcast looks a user up, and modernc parses SQL on each call.
	st, err := db.readStmt(ctx, `SELECT name, avatar, role, metadata, created_at, updated_at
		FROM users WHERE app_id = ? AND id = ?`)
	if err != nil {
		return nil, internal(op, err)
	}
	err = st.QueryRowContext(ctx, appID, userID).Scan(&u.Name, &u.Avatar, &role, &meta, &created, &updated)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, notFound(op, "user %q not found", userID)
	}
	if err != nil {
		return nil, internal(op, err)
	}
	u.Role = parley.Role(role)
	if meta != "" {
		u.Metadata = json.RawMessage(meta)
	}
	u.CreatedAt, u.UpdatedAt = fromMillis(created), fromMillis(updated)
	return &u, nil
}

// UserIDs returns up to limit user ids of an app greater than after, in
// ascending order. limit <= 0 means 50; it is capped at 1000.
func (db *DB) UserIDs(ctx context.Context, appID, after string, n int) ([]string, error) {
	const op = "sqlite.UserIDs"
	ids, err := db.queryStrings(ctx, `SELECT id FROM users WHERE app_id = ? AND id > ?
		ORDER BY id LIMIT ?`, appID, after, limit(n))
	if err != nil {
		return nil, internal(op, err)
	}
	return ids, nil
}

// RevokeSessions records that tokens issued before t are no longer valid
// for the user on device, or on every device if device is "". A revocation
// never moves back: an earlier t than the one stored changes nothing.
// Times are kept to the nanosecond.
func (db *DB) RevokeSessions(ctx context.Context, appID, userID, device string, t time.Time) error {
	const op = "sqlite.RevokeSessions"
	_, err := db.w.ExecContext(ctx, `INSERT INTO revocations (app_id, user_id, device, revoked_before)
		VALUES (?, ?, ?, ?)
		ON CONFLICT (app_id, user_id, device) DO UPDATE SET
			revoked_before = max(revoked_before, excluded.revoked_before)`,
		appID, userID, device, t.UnixNano())
	if err != nil {
		return internal(op, err)
	}
	return nil
}

// RevokedBefore returns the later of the user-wide and the device's
// revocation time, or the zero time if there is none.
func (db *DB) RevokedBefore(ctx context.Context, appID, userID, device string) (time.Time, error) {
	const op = "sqlite.RevokedBefore"
	var ns sql.NullInt64
	st, err := db.readStmt(ctx, `SELECT max(revoked_before) FROM revocations
		WHERE app_id = ? AND user_id = ? AND device IN ('', ?)`)
	if err != nil {
		return time.Time{}, internal(op, err)
	}
	if err := st.QueryRowContext(ctx, appID, userID, device).Scan(&ns); err != nil {
		return time.Time{}, internal(op, err)
	}
	if !ns.Valid {
		return time.Time{}, nil
	}
	return time.Unix(0, ns.Int64).UTC(), nil
}

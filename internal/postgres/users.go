package postgres

import (
	"context"
	"errors"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/parley-im/parley"
)

// UpsertUsers creates or replaces the profiles of users of one app in one
// transaction. Name, Avatar, Role and Metadata are replaced as given;
// CreatedAt is kept for existing users. A non-zero CreatedAt or UpdatedAt
// in the input is stored as given; zero ones are set to now. It is
// UpsertProfiles (contacts.go) without the list of changed users: a
// profile upserted as it is stored is left alone, UpdatedAt included.
func (s *Store) UpsertUsers(ctx context.Context, appID string, users []parley.User) error {
	_, err := s.UpsertProfiles(ctx, appID, users)
	return err
}

// User returns a user. Returns ENotFound if there is none.
func (s *Store) User(ctx context.Context, appID, userID string) (*parley.User, error) {
	const op = "postgres.User"
	u, err := scanProfile(s.w.QueryRow(ctx, `SELECT `+profileColumns+` FROM users u
		WHERE u.app_id = $1 AND u.id = $2`, appID, userID), appID)
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, notFound(op, "user %q not found", userID)
	}
	if err != nil {
		return nil, internal(op, err)
	}
	u.Ver = 0 // as the SQLite store: User does not report the profile version
	return &u, nil
}

// UserIDs returns up to limit user ids of an app greater than after, in
// ascending byte order. limit <= 0 means 50; it is capped at 1000.
func (s *Store) UserIDs(ctx context.Context, appID, after string, n int) ([]string, error) {
	const op = "postgres.UserIDs"
	ids, err := queryStrings(ctx, s.w, `SELECT id FROM users WHERE app_id = $1 AND id > $2
		ORDER BY id LIMIT $3`, appID, after, limit(n))
	if err != nil {
		return nil, internal(op, err)
	}
	return ids, nil
}

// RevokeSessions records that tokens issued before t are no longer valid
// for the user on device, or on every device if device is "". A revocation
// never moves back. Times are kept to the nanosecond.
func (s *Store) RevokeSessions(ctx context.Context, appID, userID, device string, t time.Time) error {
	const op = "postgres.RevokeSessions"
	_, err := s.w.Exec(ctx, `INSERT INTO revocations AS r (app_id, user_id, device, revoked_before)
		VALUES ($1, $2, $3, $4)
		ON CONFLICT (app_id, user_id, device) DO UPDATE SET
			revoked_before = GREATEST(r.revoked_before, excluded.revoked_before)`,
		appID, userID, device, t.UnixNano())
	if err != nil {
		return internal(op, err)
	}
	return nil
}

// RevokedBefore returns the later of the user-wide and the device's
// revocation time, or the zero time if there is none.
func (s *Store) RevokedBefore(ctx context.Context, appID, userID, device string) (time.Time, error) {
	const op = "postgres.RevokedBefore"
	var ns *int64
	err := s.w.QueryRow(ctx, `SELECT max(revoked_before) FROM revocations
		WHERE app_id = $1 AND user_id = $2 AND device IN ('', $3)`, appID, userID, device).Scan(&ns)
	if err != nil {
		return time.Time{}, internal(op, err)
	}
	if ns == nil {
		return time.Time{}, nil
	}
	return time.Unix(0, *ns).UTC(), nil
}

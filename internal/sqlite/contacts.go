package sqlite

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"math"
	"time"

	"github.com/parley-im/parley"
)

var _ parley.ContactStore = (*DB)(nil)

// UpsertProfiles is UpsertUsers that reports the users it created or
// whose name, avatar, role or metadata it changed; each of those gets the
// next profile version of the app (max over the app's users + 1, read in
// the write transaction). An unchanged profile keeps its row as it is,
// UpdatedAt included. Metadata is compared as text.
func (db *DB) UpsertProfiles(ctx context.Context, appID string, users []parley.User) ([]parley.User, error) {
	const op = "sqlite.UpsertProfiles"
	if len(users) == 0 {
		return nil, nil
	}
	now := time.Now()
	tx, err := db.w.BeginTx(ctx, nil)
	if err != nil {
		return nil, internal(op, err)
	}
	defer rollback(tx)
	var ver int64
	if err := tx.QueryRowContext(ctx, `SELECT COALESCE(max(ver), 0) FROM users WHERE app_id = ?`, appID).Scan(&ver); err != nil {
		return nil, internal(op, err)
	}
	stmt, err := tx.PrepareContext(ctx, `INSERT INTO users
		(app_id, id, name, avatar, role, metadata, created_at, updated_at, ver)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)
		ON CONFLICT (app_id, id) DO UPDATE SET
			name = excluded.name, avatar = excluded.avatar, role = excluded.role,
			metadata = excluded.metadata, updated_at = excluded.updated_at, ver = excluded.ver
		WHERE users.name <> excluded.name OR users.avatar <> excluded.avatar
			OR users.role <> excluded.role OR users.metadata <> excluded.metadata
		RETURNING id, name, avatar, role, metadata, created_at, updated_at, ver`)
	if err != nil {
		return nil, internal(op, err)
	}
	defer stmt.Close()
	var changed []parley.User
	for _, u := range users {
		created, updated := u.CreatedAt, u.UpdatedAt
		if created.IsZero() {
			created = now
		}
		if updated.IsZero() {
			updated = now
		}
		stored, err := scanProfile(stmt.QueryRowContext(ctx, appID, u.ID, u.Name, u.Avatar, string(u.Role),
			string(u.Metadata), millis(created), millis(updated), ver+1), appID)
		switch {
		case errors.Is(err, sql.ErrNoRows): // unchanged
		case err != nil:
			return nil, internal(op, err)
		default:
			ver++
			changed = append(changed, stored)
		}
	}
	if err := tx.Commit(); err != nil {
		return nil, internal(op, err)
	}
	return changed, nil
}

// profileColumns select a parley.User from users u; scanProfile reads
// them.
const profileColumns = `u.id, u.name, u.avatar, u.role, u.metadata, u.created_at, u.updated_at, u.ver`

func scanProfile(row interface{ Scan(...any) error }, appID string) (parley.User, error) {
	u := parley.User{AppID: appID}
	var role, meta string
	var created, updated, ver int64
	if err := row.Scan(&u.ID, &u.Name, &u.Avatar, &role, &meta, &created, &updated, &ver); err != nil {
		return u, err
	}
	u.Role = parley.Role(role)
	if meta != "" {
		u.Metadata = json.RawMessage(meta)
	}
	u.CreatedAt, u.UpdatedAt, u.Ver = fromMillis(created), fromMillis(updated), uint64(ver)
	return u, nil
}

// AddContacts adds contacts to userID's list in one transaction (see
// parley.ContactStore). Each row gets the next contact version of the
// owner (max over the owner's rows + 1).
func (db *DB) AddContacts(ctx context.Context, appID, userID string, ids []string, alias string) ([]parley.Contact, error) {
	const op = "sqlite.AddContacts"
	if len(ids) == 0 {
		return nil, nil
	}
	now := time.Now().UnixMilli()
	tx, err := db.w.BeginTx(ctx, nil)
	if err != nil {
		return nil, internal(op, err)
	}
	defer rollback(tx)
	var owner int
	err = tx.QueryRowContext(ctx, `SELECT 1 FROM users WHERE app_id = ? AND id = ?`, appID, userID).Scan(&owner)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, notFound(op, "user %q not found", userID)
	}
	if err != nil {
		return nil, internal(op, err)
	}
	out := make([]parley.Contact, 0, len(ids))
	added := 0
	for _, id := range ids {
		if id == userID {
			return nil, &parley.Error{Code: parley.EInvalid, Op: op, Message: "a user cannot be their own contact"}
		}
		p, err := scanProfile(tx.QueryRowContext(ctx, `SELECT `+profileColumns+` FROM users u
			WHERE u.app_id = ? AND u.id = ?`, appID, id), appID)
		if errors.Is(err, sql.ErrNoRows) {
			return nil, notFound(op, "user %q not found", id)
		}
		if err != nil {
			return nil, internal(op, err)
		}
		var removed sql.NullInt64
		err = tx.QueryRowContext(ctx, `SELECT removed FROM contacts
			WHERE app_id = ? AND user_id = ? AND contact_id = ?`, appID, userID, id).Scan(&removed)
		if err != nil && !errors.Is(err, sql.ErrNoRows) {
			return nil, internal(op, err)
		}
		if !removed.Valid || removed.Int64 != 0 {
			added++
		}
		out = append(out, parley.Contact{UserID: id, Alias: alias, Profile: &p})
	}
	var live, ver int64
	if err := tx.QueryRowContext(ctx, `SELECT count(*) FILTER (WHERE removed = 0), COALESCE(max(ver), 0)
		FROM contacts WHERE app_id = ? AND user_id = ?`, appID, userID).Scan(&live, &ver); err != nil {
		return nil, internal(op, err)
	}
	if live+int64(added) > parley.MaxContacts {
		e := parley.Errorf(parley.ETooLarge, "a user may have at most %d contacts", parley.MaxContacts)
		e.Op = op
		return nil, e
	}
	stmt, err := tx.PrepareContext(ctx, `INSERT INTO contacts
		(app_id, user_id, contact_id, alias, removed, created_at, ver) VALUES (?, ?, ?, ?, 0, ?, ?)
		ON CONFLICT (app_id, user_id, contact_id) DO UPDATE SET
			alias = excluded.alias, ver = excluded.ver, removed = 0,
			created_at = CASE WHEN contacts.removed = 0 THEN contacts.created_at ELSE excluded.created_at END
		RETURNING created_at`)
	if err != nil {
		return nil, internal(op, err)
	}
	defer stmt.Close()
	for i := range out {
		ver++
		c := &out[i]
		if err := stmt.QueryRowContext(ctx, appID, userID, c.UserID, alias, now, ver).Scan(&c.CreatedAt); err != nil {
			return nil, internal(op, err)
		}
		c.Ver = uint64(ver)
	}
	if err := tx.Commit(); err != nil {
		return nil, internal(op, err)
	}
	return out, nil
}

// RemoveContacts marks contacts of userID's list removed in one
// transaction, each with the owner's next contact version.
func (db *DB) RemoveContacts(ctx context.Context, appID, userID string, ids []string) ([]parley.Contact, error) {
	const op = "sqlite.RemoveContacts"
	if len(ids) == 0 {
		return nil, nil
	}
	tx, err := db.w.BeginTx(ctx, nil)
	if err != nil {
		return nil, internal(op, err)
	}
	defer rollback(tx)
	var ver int64
	if err := tx.QueryRowContext(ctx, `SELECT COALESCE(max(ver), 0) FROM contacts
		WHERE app_id = ? AND user_id = ?`, appID, userID).Scan(&ver); err != nil {
		return nil, internal(op, err)
	}
	stmt, err := tx.PrepareContext(ctx, `UPDATE contacts SET removed = 1, alias = '', ver = ?
		WHERE app_id = ? AND user_id = ? AND contact_id = ? AND removed = 0
		RETURNING created_at`)
	if err != nil {
		return nil, internal(op, err)
	}
	defer stmt.Close()
	var out []parley.Contact
	for _, id := range ids {
		c := parley.Contact{UserID: id, Removed: true, Ver: uint64(ver + 1)}
		err := stmt.QueryRowContext(ctx, ver+1, appID, userID, id).Scan(&c.CreatedAt)
		if errors.Is(err, sql.ErrNoRows) {
			continue
		}
		if err != nil {
			return nil, internal(op, err)
		}
		ver++
		out = append(out, c)
	}
	if err := tx.Commit(); err != nil {
		return nil, internal(op, err)
	}
	return out, nil
}

// Contacts returns userID's contact rows by ascending version (see
// parley.ContactStore); limit <= 0 means 50 and it is capped at 1000. It
// walks the (app_id, user_id, ver) index from since.
func (db *DB) Contacts(ctx context.Context, appID, userID string, since uint64, n int) ([]parley.Contact, error) {
	const op = "sqlite.Contacts"
	rows, err := db.r.QueryContext(ctx, `SELECT c.contact_id, c.alias, c.removed, c.created_at, c.ver,
			u.id IS NOT NULL, COALESCE(u.id, ''), COALESCE(u.name, ''), COALESCE(u.avatar, ''),
			COALESCE(u.role, ''), COALESCE(u.metadata, ''), COALESCE(u.created_at, 0),
			COALESCE(u.updated_at, 0), COALESCE(u.ver, 0)
		FROM contacts c LEFT JOIN users u ON u.app_id = c.app_id AND u.id = c.contact_id AND c.removed = 0
		WHERE c.app_id = ? AND c.user_id = ? AND c.ver > ? AND (? > 0 OR c.removed = 0)
		ORDER BY c.ver LIMIT ?`, appID, userID, clampVer(since), clampVer(since), limit(n))
	if err != nil {
		return nil, internal(op, err)
	}
	defer rows.Close()
	var out []parley.Contact
	for rows.Next() {
		var c parley.Contact
		var removed, hasProfile bool
		var ver int64
		p := parley.User{AppID: appID}
		var role, meta string
		var created, updated, pver int64
		if err := rows.Scan(&c.UserID, &c.Alias, &removed, &c.CreatedAt, &ver, &hasProfile,
			&p.ID, &p.Name, &p.Avatar, &role, &meta, &created, &updated, &pver); err != nil {
			return nil, internal(op, err)
		}
		c.Removed, c.Ver = removed, uint64(ver)
		if hasProfile {
			p.Role = parley.Role(role)
			if meta != "" {
				p.Metadata = json.RawMessage(meta)
			}
			p.CreatedAt, p.UpdatedAt, p.Ver = fromMillis(created), fromMillis(updated), uint64(pver)
			c.Profile = &p
		}
		out = append(out, c)
	}
	if err := rows.Err(); err != nil {
		return nil, internal(op, err)
	}
	return out, nil
}

// Interested returns the users who care about userID: the owners of the
// lists userID is a live contact in (the contacts_by_contact index) and
// the peers of userID's direct conversations (read from the conversation
// ids, which name both members). limit <= 0 means parley.MaxInterested.
// Its cost is proportional to those rows and to userID's conversations.
func (db *DB) Interested(ctx context.Context, appID, userID string, in parley.Interest, n int) ([]string, error) {
	const op = "sqlite.Interested"
	list := parley.NewInterestedList(userID, n)
	if in&parley.InterestContacts != 0 {
		ids, err := db.queryStrings(ctx, `SELECT user_id FROM contacts
			WHERE app_id = ? AND contact_id = ? AND removed = 0 LIMIT ?`, appID, userID, list.Limit())
		if err != nil {
			return nil, internal(op, err)
		}
		list.Add(ids)
	}
	if in&parley.InterestPeers != 0 && !list.Full() {
		convs, err := db.queryStrings(ctx, `SELECT conv_id FROM members
			WHERE app_id = ? AND user_id = ? AND conv_id >= 'd:' AND conv_id < 'd;'`, appID, userID)
		if err != nil {
			return nil, internal(op, err)
		}
		list.Add(parley.PeersIn(userID, convs))
	}
	return list.IDs(), nil
}

// CaredAbout returns those of users that viewer cares about, in input
// order: two lookups by primary key per listed user at most.
func (db *DB) CaredAbout(ctx context.Context, appID, viewer string, users []string, in parley.Interest) ([]string, error) {
	const op = "sqlite.CaredAbout"
	if len(users) == 0 {
		return nil, nil
	}
	cared := make(map[string]bool, len(users))
	if in&parley.InterestContacts != 0 {
		list, _ := json.Marshal(users)
		ids, err := db.queryStrings(ctx, `SELECT contact_id FROM contacts
			WHERE app_id = ? AND user_id = ? AND removed = 0
			AND contact_id IN (SELECT value FROM json_each(?))`, appID, viewer, string(list))
		if err != nil {
			return nil, internal(op, err)
		}
		for _, id := range ids {
			cared[id] = true
		}
	}
	if in&parley.InterestPeers != 0 {
		convs := make([]string, 0, len(users))
		for _, u := range users {
			if u != viewer {
				convs = append(convs, parley.DirectConvID(viewer, u))
			}
		}
		list, _ := json.Marshal(convs)
		found, err := db.queryStrings(ctx, `SELECT conv_id FROM members
			WHERE app_id = ? AND user_id = ? AND conv_id IN (SELECT value FROM json_each(?))`,
			appID, viewer, string(list))
		if err != nil {
			return nil, internal(op, err)
		}
		for _, c := range found {
			if a, b, ok := parley.DirectPeers(c); ok {
				if a == viewer {
					a = b
				}
				cared[a] = true
			}
		}
	}
	var out []string
	for _, u := range users {
		if cared[u] && u != viewer {
			out = append(out, u)
			delete(cared, u) // each once
		}
	}
	return out, nil
}

// ProfilesSince returns the profiles viewer cares about whose version is
// greater than since, by ascending version; limit <= 0 means 50 and it is
// capped at 1000. Its cost is proportional to the viewer's contacts and
// direct conversations.
func (db *DB) ProfilesSince(ctx context.Context, appID, viewer string, since uint64, in parley.Interest, n int) ([]parley.User, error) {
	const op = "sqlite.ProfilesSince"
	rows, err := db.r.QueryContext(ctx, `SELECT `+profileColumns+` FROM users u
		WHERE u.app_id = ?1 AND u.ver > ?2 AND u.id <> ?3 AND u.id IN (
			SELECT contact_id FROM contacts
				WHERE ?4 <> 0 AND app_id = ?1 AND user_id = ?3 AND removed = 0
			UNION
			SELECT p.user_id FROM members m
				JOIN members p ON p.app_id = m.app_id AND p.conv_id = m.conv_id AND p.user_id <> m.user_id
				WHERE ?5 <> 0 AND m.app_id = ?1 AND m.user_id = ?3 AND m.conv_id >= 'd:' AND m.conv_id < 'd;')
		ORDER BY u.ver LIMIT ?6`,
		appID, clampVer(since), viewer, int64(in&parley.InterestContacts), int64(in&parley.InterestPeers), limit(n))
	if err != nil {
		return nil, internal(op, err)
	}
	defer rows.Close()
	var out []parley.User
	for rows.Next() {
		u, err := scanProfile(rows, appID)
		if err != nil {
			return nil, internal(op, err)
		}
		out = append(out, u)
	}
	if err := rows.Err(); err != nil {
		return nil, internal(op, err)
	}
	return out, nil
}

// clampVer turns a client's version into SQLite's signed integer range.
func clampVer(v uint64) int64 { return int64(min(v, math.MaxInt64)) }

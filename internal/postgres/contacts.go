package postgres

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"slices"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/parley-im/parley"
)

// profileColumns select a parley.User from users u; scanProfile reads
// them.
const profileColumns = `u.id, u.name, u.avatar, u.role, u.metadata, u.created_at, u.updated_at, u.ver`

func scanProfile(row pgx.Row, appID string) (parley.User, error) {
	var p profileRow
	err := row.Scan(&p.id, &p.name, &p.avatar, &p.role, &p.meta, &p.created, &p.updated, &p.ver)
	return p.user(appID), err
}

// profileRow is profileColumns as scanned.
type profileRow struct {
	id, name, avatar, role, meta string
	created, updated, ver        int64
}

func (p *profileRow) user(appID string) parley.User {
	u := parley.User{AppID: appID, ID: p.id, Name: p.name, Avatar: p.avatar, Role: parley.Role(p.role),
		CreatedAt: fromMillis(p.created), UpdatedAt: fromMillis(p.updated), Ver: uint64(p.ver)}
	if p.meta != "" {
		u.Metadata = json.RawMessage(p.meta)
	}
	return u
}

// upsertProfile writes one profile unless it is stored as it is, and then
// returns it (ver still the old one, or 0 for a new user).
const upsertProfile = `INSERT INTO users AS u (app_id, id, name, avatar, role, metadata, created_at, updated_at, ver)
	VALUES ($1, $2, $3, $4, $5, $6, $7, $8, 0)
	ON CONFLICT (app_id, id) DO UPDATE SET
		name = excluded.name, avatar = excluded.avatar, role = excluded.role,
		metadata = excluded.metadata, updated_at = excluded.updated_at
	WHERE u.name <> excluded.name OR u.avatar <> excluded.avatar
		OR u.role <> excluded.role OR u.metadata <> excluded.metadata
	RETURNING ` + profileColumns

// UpsertProfiles is UpsertUsers that reports the users it created or whose
// name, avatar, role or metadata it changed, in input order; each of those
// gets the next profile version of the app (the app's 'profiles' counter,
// taken after every profile is written, in the same transaction). An
// unchanged profile keeps its row as it is, UpdatedAt included. Metadata
// is compared as text. The profiles go in one round trip.
func (s *Store) UpsertProfiles(ctx context.Context, appID string, users []parley.User) ([]parley.User, error) {
	const op = "postgres.UpsertProfiles"
	if len(users) == 0 {
		return nil, nil
	}
	now := time.Now()
	ids := make([]string, len(users))
	for i, u := range users {
		ids[i] = u.ID
	}
	var changed []parley.User
	err := s.inTx(ctx, func(tx pgx.Tx) error {
		changed = changed[:0]
		b := &pgx.Batch{}
		// The existing rows, locked in id order, so that concurrent
		// upserts of the same users wait rather than deadlock.
		b.Queue(`SELECT count(*) FROM (SELECT 1 FROM users WHERE app_id = $1 AND id = ANY($2)
			ORDER BY id FOR UPDATE) AS l`, appID, ids)
		for _, u := range users {
			created, updated := u.CreatedAt, u.UpdatedAt
			if created.IsZero() {
				created = now
			}
			if updated.IsZero() {
				updated = now
			}
			b.Queue(upsertProfile, appID, u.ID, u.Name, u.Avatar, string(u.Role), string(u.Metadata),
				millis(created), millis(updated)).QueryRow(func(row pgx.Row) error {
				p, err := scanProfile(row, appID)
				if errors.Is(err, pgx.ErrNoRows) {
					return nil // unchanged
				}
				changed = append(changed, p)
				return err
			})
		}
		if err := tx.SendBatch(ctx, b).Close(); err != nil || len(changed) == 0 {
			return err
		}
		last, err := takeVers(ctx, tx, appID, counterProfiles, len(changed))
		if err != nil {
			return err
		}
		vers := make(map[string]int64, len(changed)) // a user upserted twice keeps its last
		for i := range changed {
			changed[i].Ver = last - uint64(len(changed)-1-i)
			vers[changed[i].ID] = int64(changed[i].Ver)
		}
		vIDs, vVers := make([]string, 0, len(vers)), make([]int64, 0, len(vers))
		for id, v := range vers {
			vIDs, vVers = append(vIDs, id), append(vVers, v)
		}
		_, err = tx.Exec(ctx, `UPDATE users SET ver = x.v FROM unnest($2::text[], $3::bigint[]) AS x(id, v)
			WHERE users.app_id = $1 AND users.id = x.id`, appID, vIDs, vVers)
		return err
	})
	if err != nil {
		return nil, internal(op, err)
	}
	return changed, nil
}

// AddContacts adds contacts to userID's list in one transaction (see
// parley.ContactStore). The owner's contact counter is taken first: it
// serialises the owner's list changes (so MaxContacts holds under
// concurrency) and gives each row the next contact version, in input
// order.
func (s *Store) AddContacts(ctx context.Context, appID, userID string, ids []string, alias string) ([]parley.Contact, error) {
	const op = "postgres.AddContacts"
	if len(ids) == 0 {
		return nil, nil
	}
	now := time.Now().UnixMilli()
	var out []parley.Contact
	err := s.inTx(ctx, func(tx pgx.Tx) error {
		var owner bool
		if err := tx.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM users WHERE app_id = $1 AND id = $2)`,
			appID, userID).Scan(&owner); err != nil {
			return err
		}
		if !owner {
			return notFound(op, "user %q not found", userID)
		}
		last, err := takeVers(ctx, tx, appID, contactsCounter(userID), len(ids))
		if err != nil {
			return err
		}
		rows, err := tx.Query(ctx, `SELECT `+profileColumns+` FROM users u WHERE u.app_id = $1 AND u.id = ANY($2)`, appID, ids)
		if err != nil {
			return err
		}
		profiles := make(map[string]parley.User, len(ids))
		for rows.Next() {
			p, err := scanProfile(rows, appID)
			if err != nil {
				rows.Close()
				return err
			}
			profiles[p.ID] = p
		}
		if rows.Close(); rows.Err() != nil {
			return rows.Err()
		}
		out = make([]parley.Contact, len(ids))
		vers := make([]int64, len(ids))
		for i, id := range ids {
			if id == userID {
				return &parley.Error{Code: parley.EInvalid, Op: op, Message: "a user cannot be their own contact"}
			}
			p, ok := profiles[id]
			if !ok {
				return notFound(op, "user %q not found", id)
			}
			vers[i] = int64(last) - int64(len(ids)-1-i)
			out[i] = parley.Contact{UserID: id, Alias: alias, Profile: &p, Ver: uint64(vers[i])}
		}
		var live, already int
		if err := tx.QueryRow(ctx, `SELECT count(*), count(*) FILTER (WHERE contact_id = ANY($3))
			FROM contacts WHERE app_id = $1 AND user_id = $2 AND NOT removed`, appID, userID, ids).Scan(&live, &already); err != nil {
			return err
		}
		if live+len(ids)-already > parley.MaxContacts {
			e := parley.Errorf(parley.ETooLarge, "a user may have at most %d contacts", parley.MaxContacts)
			e.Op = op
			return e
		}
		rows, err = tx.Query(ctx, `INSERT INTO contacts AS c (app_id, user_id, contact_id, alias, removed, created_at, ver)
			SELECT $1, $2, x.id, $4, false, $5, x.v FROM unnest($3::text[], $6::bigint[]) AS x(id, v)
			ON CONFLICT (app_id, user_id, contact_id) DO UPDATE SET
				alias = excluded.alias, ver = excluded.ver, removed = false,
				created_at = CASE WHEN c.removed THEN excluded.created_at ELSE c.created_at END
			RETURNING contact_id, created_at`, appID, userID, ids, alias, now, vers)
		if err != nil {
			return err
		}
		created := make(map[string]int64, len(ids))
		for rows.Next() {
			var id string
			var at int64
			if err := rows.Scan(&id, &at); err != nil {
				rows.Close()
				return err
			}
			created[id] = at
		}
		rows.Close()
		for i := range out {
			out[i].CreatedAt = created[out[i].UserID]
		}
		return rows.Err()
	})
	if err != nil {
		return nil, internal(op, err)
	}
	return out, nil
}

// RemoveContacts marks contacts of userID's list removed in one
// transaction, each with a new contact version of the owner; ids that are
// not live contacts are skipped. The rows come back in input order.
func (s *Store) RemoveContacts(ctx context.Context, appID, userID string, ids []string) ([]parley.Contact, error) {
	const op = "postgres.RemoveContacts"
	if len(ids) == 0 {
		return nil, nil
	}
	var out []parley.Contact
	err := s.inTx(ctx, func(tx pgx.Tx) error {
		last, err := takeVers(ctx, tx, appID, contactsCounter(userID), len(ids))
		if err != nil {
			return err
		}
		vers := make([]int64, len(ids))
		for i := range ids {
			vers[i] = int64(last) - int64(len(ids)-1-i)
		}
		rows, err := tx.Query(ctx, `UPDATE contacts c SET removed = true, alias = '', ver = x.v
			FROM unnest($3::text[], $4::bigint[]) AS x(id, v)
			WHERE c.app_id = $1 AND c.user_id = $2 AND c.contact_id = x.id AND NOT c.removed
			RETURNING c.contact_id, c.created_at, c.ver`, appID, userID, ids, vers)
		if err != nil {
			return err
		}
		out, err = pgx.CollectRows(rows, func(row pgx.CollectableRow) (parley.Contact, error) {
			c := parley.Contact{Removed: true}
			var ver int64
			err := row.Scan(&c.UserID, &c.CreatedAt, &ver)
			c.Ver = uint64(ver)
			return c, err
		})
		slices.SortFunc(out, func(a, b parley.Contact) int { return cmp.Compare(a.Ver, b.Ver) })
		return err
	})
	if err != nil {
		return nil, internal(op, err)
	}
	return out, nil
}

// Contacts returns userID's contact rows by ascending version (see
// parley.ContactStore); limit <= 0 means 50 and it is capped at 1000. It
// walks the (app_id, user_id, ver) index from since.
func (s *Store) Contacts(ctx context.Context, appID, userID string, since uint64, n int) ([]parley.Contact, error) {
	const op = "postgres.Contacts"
	rows, err := s.w.Query(ctx, `SELECT c.contact_id, c.alias, c.removed, c.created_at, c.ver,
			u.id IS NOT NULL, COALESCE(u.id, ''), COALESCE(u.name, ''), COALESCE(u.avatar, ''),
			COALESCE(u.role, ''), COALESCE(u.metadata, ''), COALESCE(u.created_at, 0),
			COALESCE(u.updated_at, 0), COALESCE(u.ver, 0)
		FROM contacts c LEFT JOIN users u ON u.app_id = c.app_id AND u.id = c.contact_id AND NOT c.removed
		WHERE c.app_id = $1 AND c.user_id = $2 AND c.ver > $3 AND ($3 > 0 OR NOT c.removed)
		ORDER BY c.ver LIMIT $4`, appID, userID, clamp(since), limit(n))
	if err != nil {
		return nil, internal(op, err)
	}
	out, err := pgx.CollectRows(rows, func(row pgx.CollectableRow) (parley.Contact, error) {
		var c parley.Contact
		var ver int64
		var hasProfile bool
		var p profileRow
		err := row.Scan(&c.UserID, &c.Alias, &c.Removed, &c.CreatedAt, &ver, &hasProfile,
			&p.id, &p.name, &p.avatar, &p.role, &p.meta, &p.created, &p.updated, &p.ver)
		c.Ver = uint64(ver)
		if hasProfile {
			u := p.user(appID)
			c.Profile = &u
		}
		return c, err
	})
	if err != nil {
		return nil, internal(op, err)
	}
	return out, nil
}

// Interested returns the users who care about userID: the owners of the
// lists userID is a live contact in (contacts_by_contact) and the peers of
// userID's direct conversations (read from the conversation ids, which
// name both members). limit <= 0 means parley.MaxInterested.
func (s *Store) Interested(ctx context.Context, appID, userID string, in parley.Interest, n int) ([]string, error) {
	const op = "postgres.Interested"
	list := parley.NewInterestedList(userID, n)
	if in&parley.InterestContacts != 0 {
		ids, err := queryStrings(ctx, s.w, `SELECT user_id FROM contacts
			WHERE app_id = $1 AND contact_id = $2 AND NOT removed LIMIT $3`, appID, userID, list.Limit())
		if err != nil {
			return nil, internal(op, err)
		}
		list.Add(ids)
	}
	if in&parley.InterestPeers != 0 && !list.Full() {
		convs, err := queryStrings(ctx, s.w, `SELECT conv_id FROM members
			WHERE app_id = $1 AND user_id = $2 AND role = '' AND conv_id >= 'd:' AND conv_id < 'd;'`, appID, userID)
		if err != nil {
			return nil, internal(op, err)
		}
		list.Add(parley.PeersIn(userID, convs))
	}
	return list.IDs(), nil
}

// CaredAbout returns those of users that viewer cares about, in input
// order: two index lookups per listed user at most.
func (s *Store) CaredAbout(ctx context.Context, appID, viewer string, users []string, in parley.Interest) ([]string, error) {
	const op = "postgres.CaredAbout"
	if len(users) == 0 {
		return nil, nil
	}
	cared := make(map[string]bool, len(users))
	if in&parley.InterestContacts != 0 {
		ids, err := queryStrings(ctx, s.w, `SELECT contact_id FROM contacts
			WHERE app_id = $1 AND user_id = $2 AND NOT removed AND contact_id = ANY($3)`, appID, viewer, users)
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
		found, err := queryStrings(ctx, s.w, `SELECT conv_id FROM members
			WHERE app_id = $1 AND user_id = $2 AND conv_id = ANY($3)`, appID, viewer, convs)
		if err != nil {
			return nil, internal(op, err)
		}
		for _, p := range parley.PeersIn(viewer, found) {
			cared[p] = true
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
func (s *Store) ProfilesSince(ctx context.Context, appID, viewer string, since uint64, in parley.Interest, n int) ([]parley.User, error) {
	const op = "postgres.ProfilesSince"
	rows, err := s.w.Query(ctx, `SELECT `+profileColumns+` FROM users u
		WHERE u.app_id = $1 AND u.ver > $2 AND u.id <> $3 AND u.id IN (
			SELECT contact_id FROM contacts
				WHERE $4 AND app_id = $1 AND user_id = $3 AND NOT removed
			UNION
			SELECT p.user_id FROM members m
				JOIN members p ON p.app_id = m.app_id AND p.conv_id = m.conv_id AND p.user_id <> m.user_id
				WHERE $5 AND m.app_id = $1 AND m.user_id = $3 AND m.role = ''
					AND m.conv_id >= 'd:' AND m.conv_id < 'd;')
		ORDER BY u.ver LIMIT $6`,
		appID, clamp(since), viewer, in&parley.InterestContacts != 0, in&parley.InterestPeers != 0, limit(n))
	if err != nil {
		return nil, internal(op, err)
	}
	out, err := pgx.CollectRows(rows, func(row pgx.CollectableRow) (parley.User, error) { return scanProfile(row, appID) })
	if err != nil {
		return nil, internal(op, err)
	}
	return out, nil
}

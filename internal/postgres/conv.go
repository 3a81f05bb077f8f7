package postgres

import (
	"context"
	"errors"
	"math"
	"slices"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/parley-im/parley"
)

// bumpChanges is a WITH item that takes versions from the changes
// counter of each app named by a WITH item x(app, off): k(app_id, ver) is
// each counter's new value and n(app, cnt) how many it took, so that the
// version of x's row is k.ver - n.cnt + x.off (off numbers an app's rows
// from 1). The apps' counters are locked in app order.
const bumpChanges = `n AS (SELECT app, count(*) AS cnt FROM x GROUP BY app),
	k AS (INSERT INTO counters AS k (app_id, name, ver)
		SELECT app, '` + counterChanges + `', cnt FROM n ORDER BY app
		ON CONFLICT (app_id, name) DO UPDATE SET ver = k.ver + excluded.ver
		RETURNING app_id, ver)`

// bumpOne is a WITH item that takes one version, k(ver), from the changes
// counter of app $1.
const bumpOne = `k AS (INSERT INTO counters AS k (app_id, name, ver) VALUES ($1, '` + counterChanges + `', 1)
	ON CONFLICT (app_id, name) DO UPDATE SET ver = k.ver + 1 RETURNING ver)`

// EnsureConversations creates conversations and their members if they do
// not exist yet, all in one transaction. Existing conversations are left as
// they are, members included. A new conversation gives each member a new
// change version, so it shows up in the members' sync. Conversations are
// created in key order, so concurrent calls on any node wait for each
// other rather than deadlock.
func (s *Store) EnsureConversations(ctx context.Context, convs []parley.Conversation) error {
	const op = "postgres.EnsureConversations"
	if len(convs) == 0 {
		return nil
	}
	byKey := make(map[convKey]parley.Conversation, len(convs))
	var keys []convKey
	for _, c := range convs {
		k := convKey{c.AppID, c.ID}
		if _, ok := byKey[k]; !ok {
			byKey[k] = c
			keys = append(keys, k)
		}
	}
	slices.SortFunc(keys, compareConvKeys)
	apps, ids, kinds := make([]string, len(keys)), make([]string, len(keys)), make([]string, len(keys))
	for i, k := range keys {
		apps[i], ids[i], kinds[i] = k.app, k.conv, string(byKey[k].Kind)
	}
	now := time.Now().UnixMilli()
	err := s.inTx(ctx, func(tx pgx.Tx) error {
		rows, err := tx.Query(ctx, `INSERT INTO conversations (app_id, id, kind, last_seq, created_at)
			SELECT a, c, k, 0, $4 FROM unnest($1::text[], $2::text[], $3::text[]) AS x(a, c, k) ORDER BY a, c
			ON CONFLICT (app_id, id) DO NOTHING RETURNING app_id, id`, apps, ids, kinds, now)
		if err != nil {
			return err
		}
		created, err := pgx.CollectRows(rows, func(row pgx.CollectableRow) (convKey, error) {
			var k convKey
			return k, row.Scan(&k.app, &k.conv)
		})
		if err != nil || len(created) == 0 {
			return err
		}
		slices.SortFunc(created, compareConvKeys)
		var xApps, xConvs, mApps, mConvs, mUsers, mRoles []string
		var xOffs []int64
		off := map[string]int64{}
		for _, k := range created {
			off[k.app]++
			xApps, xConvs, xOffs = append(xApps, k.app), append(xConvs, k.conv), append(xOffs, off[k.app])
			c := byKey[k]
			role := "" // direct conversations have no roles
			if c.Kind == parley.ConvGroup {
				role = string(parley.GroupRoleMember) // so that sync finds it (members_groups_by_user)
			}
			for _, u := range c.Members {
				mApps, mConvs, mUsers, mRoles = append(mApps, k.app), append(mConvs, k.conv), append(mUsers, u), append(mRoles, role)
			}
		}
		// The counters last: every row written after them is new, so
		// nothing here waits while holding them.
		_, err = tx.Exec(ctx, `WITH x AS (SELECT * FROM unnest($1::text[], $2::text[], $3::bigint[]) AS x(app, conv, off)),
			`+bumpChanges+`,
			v AS (SELECT x.app, x.conv, k.ver - n.cnt + x.off AS ver FROM x JOIN n ON n.app = x.app JOIN k ON k.app_id = x.app)
			INSERT INTO members (app_id, conv_id, user_id, read_seq, ver, joined_at, role)
			SELECT u.app, u.conv, u.usr, 0, v.ver, $8, u.role
			FROM unnest($4::text[], $5::text[], $6::text[], $7::text[]) AS u(app, conv, usr, role)
			JOIN v ON v.app = u.app AND v.conv = u.conv
			ON CONFLICT (app_id, conv_id, user_id) DO NOTHING`,
			xApps, xConvs, xOffs, mApps, mConvs, mUsers, mRoles, now)
		return err
	})
	if err != nil {
		return internal(op, err)
	}
	return nil
}

// IsMember returns nil if user belongs to the conversation, ENotFound if
// the conversation does not exist and EForbidden if the user is not a
// member (former group members are not).
func (s *Store) IsMember(ctx context.Context, appID, convID, userID string) error {
	const op = "postgres.IsMember"
	var conv, member bool
	err := s.w.QueryRow(ctx, `SELECT
		EXISTS (SELECT 1 FROM conversations WHERE app_id = $1 AND id = $2),
		EXISTS (SELECT 1 FROM members WHERE app_id = $1 AND conv_id = $2 AND user_id = $3 AND left_seq = 0)`,
		appID, convID, userID).Scan(&conv, &member)
	switch {
	case err != nil:
		return internal(op, err)
	case !conv:
		return notFound(op, "conversation %q not found", convID)
	case !member:
		return forbidden(op, "not a member of conversation %q", convID)
	}
	return nil
}

// Members returns the member ids of a conversation in ascending order,
// former group members left out. Returns ENotFound if the conversation
// does not exist.
func (s *Store) Members(ctx context.Context, appID, convID string) ([]string, error) {
	const op = "postgres.Members"
	ids, err := queryStrings(ctx, s.w, `SELECT user_id FROM members
		WHERE app_id = $1 AND conv_id = $2 AND left_seq = 0 ORDER BY user_id`, appID, convID)
	if err != nil {
		return nil, internal(op, err)
	}
	if len(ids) == 0 {
		if err := s.convExists(ctx, op, appID, convID); err != nil {
			return nil, err
		}
	}
	return ids, nil
}

// convExists returns ENotFound if the conversation does not exist.
func (s *Store) convExists(ctx context.Context, op, appID, convID string) error {
	var exists bool
	err := s.w.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM conversations WHERE app_id = $1 AND id = $2)`,
		appID, convID).Scan(&exists)
	switch {
	case err != nil:
		return internal(op, err)
	case !exists:
		return notFound(op, "conversation %q not found", convID)
	}
	return nil
}

// Messages returns a range of a conversation's messages in ascending Seq
// order. r.Limit <= 0 means 50; it is capped at 1000. A conversation that
// does not exist has no messages. It reads the replica when there is one
// (WithReplica).
func (s *Store) Messages(ctx context.Context, appID, convID string, r parley.MessageRange) ([]parley.Message, error) {
	const op = "postgres.Messages"
	before := int64(math.MaxInt64)
	if r.Before != 0 {
		before = clamp(r.Before)
	}
	order := "ASC"
	if r.Newest {
		order = "DESC"
	}
	rows, err := s.r.Query(ctx, `SELECT `+messageCols+` FROM messages
		WHERE app_id = $1 AND conv_id = $2 AND seq > $3 AND seq < $4
		ORDER BY seq `+order+` LIMIT $5`, appID, convID, clamp(r.After), before, limit(r.Limit))
	if err != nil {
		return nil, internal(op, err)
	}
	msgs, err := pgx.CollectRows(rows, func(row pgx.CollectableRow) (parley.Message, error) {
		var m parley.Message
		return m, scanFullMessage(row, &m)
	})
	if err != nil {
		return nil, internal(op, err)
	}
	if r.Newest {
		slices.Reverse(msgs)
	}
	return msgs, nil
}

// ReviseMessage rewrites the kind and body of a stored message (a recall
// or an edit, recorded as an event of its own in the conversation's
// sequence; see parley.KindRecall) and its search document, in one
// transaction: a recalled text is no longer found, an edited one is found
// by its new words. Its seq, id, sender, time and search order stay.
// Returns ENotFound if the conversation has no message seq.
func (s *Store) ReviseMessage(ctx context.Context, appID, convID string, seq uint64, kind parley.Kind, body []byte) error {
	const op = "postgres.ReviseMessage"
	doc := searchDoc(kind, body)
	err := s.inTx(ctx, func(tx pgx.Tx) error {
		ct, err := tx.Exec(ctx, `UPDATE messages SET kind = $4, body = $5 WHERE app_id = $1 AND conv_id = $2 AND seq = $3`,
			appID, convID, clamp(seq), string(kind), string(body))
		if err != nil {
			return err
		}
		if ct.RowsAffected() == 0 {
			return notFound(op, "message %d not found", seq)
		}
		_, err = tx.Exec(ctx, `UPDATE message_search SET doc = $4::tsvector WHERE app_id = $1 AND conv_id = $2 AND seq = $3`,
			appID, convID, clamp(seq), doc)
		return err
	})
	if err != nil {
		return internal(op, err)
	}
	return nil
}

// MutedBy returns the current members who muted a conversation, from the
// partial index members_muted.
func (s *Store) MutedBy(ctx context.Context, appID, convID string) ([]string, error) {
	out, err := queryStrings(ctx, s.w, `SELECT user_id FROM members
		WHERE app_id = $1 AND conv_id = $2 AND muted AND left_seq = 0 ORDER BY user_id`, appID, convID)
	if err != nil {
		return nil, internal("postgres.MutedBy", err)
	}
	if out == nil {
		out = []string{}
	}
	return out, nil
}

// SetConvSettings applies c to the user's own settings of a conversation
// in one transaction; see parley.ConvStore. It locks the user's member
// row, then, if a setting changed, takes one change version for it.
// Hiding stores the member's LastSeq in hide_seq.
func (s *Store) SetConvSettings(ctx context.Context, appID, convID, userID string, c parley.ConvSettings) (parley.ConvState, bool, error) {
	const op = "postgres.SetConvSettings"
	var st parley.ConvState
	var changed bool
	err := s.inTx(ctx, func(tx pgx.Tx) error {
		var pinned, muted bool
		var left, hideSeq, last int64
		err := tx.QueryRow(ctx, `SELECT m.left_seq, m.pinned, m.muted, m.hide_seq, c.last_seq
			FROM members m JOIN conversations c ON c.app_id = m.app_id AND c.id = m.conv_id
			WHERE m.app_id = $1 AND m.conv_id = $2 AND m.user_id = $3 FOR NO KEY UPDATE OF m`,
			appID, convID, userID).Scan(&left, &pinned, &muted, &hideSeq, &last)
		switch {
		case errors.Is(err, pgx.ErrNoRows):
			if err := s.convExists(ctx, op, appID, convID); err != nil {
				return err
			}
			return forbidden(op, "not a member of conversation %q", convID)
		case err != nil:
			return err
		case left > 0:
			return forbidden(op, "not a member of conversation %q", convID)
		}
		hidden := hideSeq >= last
		changed = false
		set := func(p *bool, cur *bool) {
			if p != nil && *p != *cur {
				*cur, changed = *p, true
			}
		}
		set(c.Pin, &pinned)
		set(c.Mute, &muted)
		set(c.Hide, &hidden)
		b := &pgx.Batch{}
		if changed {
			hideSeq = -1
			if hidden {
				hideSeq = last
			}
			b.Queue(`WITH `+bumpOne+`
				UPDATE members SET pinned = $4, muted = $5, hide_seq = $6, ver = k.ver FROM k
				WHERE app_id = $1 AND conv_id = $2 AND user_id = $3`, appID, convID, userID, pinned, muted, hideSeq)
		}
		queueState(b, &st, appID, convID, userID)
		return tx.SendBatch(ctx, b).Close()
	})
	if err != nil {
		return parley.ConvState{}, false, internal(op, err)
	}
	return st, changed, nil
}

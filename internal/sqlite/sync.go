package sqlite

import (
	"cmp"
	"context"
	"database/sql"
	"errors"
	"math"
	"slices"

	"github.com/parley-im/parley"
)

// stateColumns select a member's ConvState from members m joined to
// conversations c. The peer of a direct conversation is read with
// correlated subqueries rather than a join so that a malformed direct
// conversation (more than two members) cannot duplicate rows.
//
// A former group member's LastSeq is the message that recorded their
// leaving (left_seq), and their Ver their own; a current group member's
// Ver is the larger of theirs and the conversation's.
const stateColumns = `m.conv_id, c.kind, ` + stateLastSeq + `,
	m.read_seq, CASE WHEN m.role <> '' AND c.ver > m.ver THEN c.ver ELSE m.ver END, m.left_seq > 0,
	m.pinned, m.muted, ` + stateHidden + `,
	COALESCE((SELECT p.user_id FROM members p WHERE c.kind = 'direct' AND p.app_id = m.app_id
		AND p.conv_id = m.conv_id AND p.user_id <> m.user_id ORDER BY p.user_id LIMIT 1), ''),
	COALESCE((SELECT p.read_seq FROM members p WHERE c.kind = 'direct' AND p.app_id = m.app_id
		AND p.conv_id = m.conv_id AND p.user_id <> m.user_id ORDER BY p.user_id LIMIT 1), 0)`

// stateLastSeq is a member's LastSeq and stateHidden whether they have
// hidden the conversation since it (see 00007_conv_settings.sql).
const (
	stateLastSeq = `CASE WHEN m.left_seq > 0 THEN m.left_seq ELSE c.last_seq END`
	stateHidden  = `m.hide_seq >= ` + stateLastSeq
)

const stateFrom = ` FROM members m
	JOIN conversations c ON c.app_id = m.app_id AND c.id = m.conv_id`

// groupsFrom is stateFrom over the user's current group memberships: the
// planner, without statistics, would rather walk every member row of the
// app by primary key.
const groupsFrom = ` FROM members m INDEXED BY members_groups_by_user
	JOIN conversations c ON c.app_id = m.app_id AND c.id = m.conv_id`

func scanState(row interface{ Scan(...any) error }, s *parley.ConvState, extra ...any) error {
	var kind string
	dst := append([]any{&s.ConvID, &kind, &s.LastSeq, &s.ReadSeq, &s.Ver, &s.Left,
		&s.Pinned, &s.Muted, &s.Hidden, &s.Peer, &s.PeerReadSeq}, extra...)
	if err := row.Scan(dst...); err != nil {
		return err
	}
	s.Kind = parley.ConvKind(kind)
	if s.LastSeq > s.ReadSeq {
		s.Unread = s.LastSeq - s.ReadSeq
	}
	return nil
}

// Changes returns the user's conversations whose Ver is greater than since,
// in ascending Ver order, at most limit of them (limit <= 0 means 50; it is
// capped at 1000). Direct conversations (and former groups) come from a
// walk of the (app_id, user_id, ver) index from since, which stops at the
// limit; groups from the user's group memberships (members_groups_by_user),
// each compared with its conversation's ver. The two are merged by Ver:
// the cost is the rows returned plus one per group the user is in.
func (db *DB) Changes(ctx context.Context, appID, userID string, since uint64, n int) ([]parley.ConvState, error) {
	const op = "sqlite.Changes"
	lim := limit(n)
	s := int64(min(since, math.MaxInt64))
	direct, err := db.states(ctx, false, db.changes[0], appID, userID, s, lim)
	if err != nil {
		return nil, internal(op, err)
	}
	groups, err := db.states(ctx, false, db.changes[1], appID, userID, s)
	if err != nil {
		return nil, internal(op, err)
	}
	out := append(direct, groups...)
	slices.SortFunc(out, func(a, b parley.ConvState) int { return cmp.Compare(a.Ver, b.Ver) })
	return out[:min(len(out), lim)], nil
}

// The two halves of Changes: (app, user, since, limit) and (app, user,
// since). TestChangesPlan checks that each walks its index.
const (
	changesDirect = `SELECT ` + stateColumns + stateFrom + `
		WHERE m.app_id = ?1 AND m.user_id = ?2 AND m.ver > ?3 AND m.role = ''
		ORDER BY m.ver LIMIT ?4`
	changesGroups = `SELECT ` + stateColumns + groupsFrom + `
		WHERE m.app_id = ?1 AND m.user_id = ?2 AND m.role <> '' AND (m.ver > ?3 OR c.ver > ?3)`
)

// states runs a query of stateColumns (and, with last, the newest
// message's columns), given as SQL or a prepared *sql.Stmt, and scans
// every row.
func (db *DB) states(ctx context.Context, last bool, query any, args ...any) ([]parley.ConvState, error) {
	var rows *sql.Rows
	var err error
	if st, ok := query.(*sql.Stmt); ok {
		rows, err = st.QueryContext(ctx, args...)
	} else {
		rows, err = db.r.QueryContext(ctx, query.(string), args...)
	}
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []parley.ConvState
	for rows.Next() {
		var s parley.ConvState
		if !last {
			if err := scanState(rows, &s); err != nil {
				return nil, err
			}
			out = append(out, s)
			continue
		}
		var seq, ts sql.NullInt64
		var id, sender, cmid, kind, body, variants sql.NullString
		if err := scanState(rows, &s, &seq, &id, &sender, &cmid, &kind, &body, &ts, &variants); err != nil {
			return nil, err
		}
		if seq.Valid {
			s.Last = &parley.Message{
				ConvID: s.ConvID, Seq: uint64(seq.Int64), ID: id.String,
				Sender: sender.String, ClientMsgID: cmid.String, Kind: parley.Kind(kind.String),
				Body: []byte(body.String), Time: ts.Int64,
			}
			if err := setVariants(s.Last, variants); err != nil {
				return nil, err
			}
		}
		out = append(out, s)
	}
	return out, rows.Err()
}

// Conversations returns the user's conversation list, most recently
// changed first, with each one's newest message in Last (nil when it has
// none; a former member's newest is the message that recorded the
// leaving): at most limit conversations (limit <= 0 means 50; it is capped
// at 1000) whose Ver is below beforeVer (0: no bound). Like Changes, it
// merges a bounded walk of the direct rows with the user's groups.
func (db *DB) Conversations(ctx context.Context, appID, userID string, beforeVer uint64, n int) ([]parley.ConvState, error) {
	const op = "sqlite.Conversations"
	before := uint64(math.MaxInt64)
	if beforeVer != 0 && beforeVer < before {
		before = beforeVer
	}
	lim := limit(n)
	const lastCols = `,
		l.seq, l.id, l.sender, l.client_msg_id, l.kind, l.body, l.ts, l.variants`
	const lastJoin = `
		LEFT JOIN messages l ON l.app_id = m.app_id AND l.conv_id = m.conv_id
			AND l.seq = CASE WHEN m.left_seq > 0 THEN m.left_seq ELSE c.last_seq END`
	direct, err := db.states(ctx, true, `SELECT `+stateColumns+lastCols+stateFrom+lastJoin+`
		WHERE m.app_id = ? AND m.user_id = ? AND m.ver < ? AND m.role = '' AND NOT (`+stateHidden+`)
		ORDER BY m.ver DESC LIMIT ?`, appID, userID, int64(before), lim)
	if err != nil {
		return nil, internal(op, err)
	}
	groups, err := db.states(ctx, true, `SELECT `+stateColumns+lastCols+groupsFrom+lastJoin+`
		WHERE m.app_id = ?1 AND m.user_id = ?2 AND m.role <> '' AND max(m.ver, c.ver) < ?3
			AND NOT (`+stateHidden+`)`,
		appID, userID, int64(before))
	if err != nil {
		return nil, internal(op, err)
	}
	out := append(direct, groups...)
	slices.SortFunc(out, func(a, b parley.ConvState) int { return cmp.Compare(b.Ver, a.Ver) })
	out = out[:min(len(out), lim)]
	for i := range out {
		if out[i].Last != nil {
			out[i].Last.AppID = appID
		}
	}
	return out, nil
}

// MarkRead moves the user's read cursor to seq, clamped to the last seq; a
// cursor never moves back. If it moved, every member of a direct
// conversation gets one new change version (so the peer's sync sees
// PeerReadSeq move); in a group only the user's row does; and an outbox
// row records the move (events.Outbox).
// It returns the user's state after the change and whether the cursor
// moved. Returns EForbidden if the user is not a member, ENotFound if the
// conversation does not exist.
func (db *DB) MarkRead(ctx context.Context, appID, convID, userID string, seq uint64) (parley.ConvState, bool, error) {
	const op = "sqlite.MarkRead"
	tx, err := db.w.BeginTx(ctx, nil)
	if err != nil {
		return parley.ConvState{}, false, internal(op, err)
	}
	defer rollback(tx)
	var last uint64
	var read sql.NullInt64
	var group bool
	err = tx.QueryRowContext(ctx, `SELECT c.last_seq, m.read_seq, c.kind = 'group' FROM conversations c
		LEFT JOIN members m ON m.app_id = c.app_id AND m.conv_id = c.id AND m.user_id = ? AND m.left_seq = 0
		WHERE c.app_id = ? AND c.id = ?`, userID, appID, convID).Scan(&last, &read, &group)
	switch {
	case errors.Is(err, sql.ErrNoRows):
		return parley.ConvState{}, false, notFound(op, "conversation %q not found", convID)
	case err != nil:
		return parley.ConvState{}, false, internal(op, err)
	case !read.Valid:
		return parley.ConvState{}, false, forbidden(op, "not a member of conversation %q", convID)
	}
	target := min(seq, last)
	moved := target > uint64(read.Int64)
	if moved {
		var vc verCounter
		ver, err := vc.next(ctx, tx)
		if err == nil {
			_, err = tx.ExecContext(ctx, `UPDATE members SET read_seq = ?
				WHERE app_id = ? AND conv_id = ? AND user_id = ?`, target, appID, convID, userID)
		}
		if err == nil {
			who := "" // every member
			if group {
				who = userID
			}
			_, err = tx.ExecContext(ctx, `UPDATE members SET ver = ?
				WHERE app_id = ? AND conv_id = ? AND (?4 = '' OR user_id = ?4)`, ver, appID, convID, who)
		}
		if err == nil {
			err = addOutbox(ctx, tx, nil, outboxRead, []any{appID, convID, userID, target})
		}
		if err == nil {
			err = vc.save(ctx, tx)
		}
		if err != nil {
			return parley.ConvState{}, false, internal(op, err)
		}
	}
	var s parley.ConvState
	err = scanState(tx.QueryRowContext(ctx, `SELECT `+stateColumns+stateFrom+`
		WHERE m.app_id = ? AND m.conv_id = ? AND m.user_id = ?`, appID, convID, userID), &s)
	if err != nil {
		return parley.ConvState{}, false, internal(op, err)
	}
	if err := tx.Commit(); err != nil {
		return parley.ConvState{}, false, internal(op, err)
	}
	return s, moved, nil
}

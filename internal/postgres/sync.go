package postgres

import (
	"context"
	"math"

	"github.com/jackc/pgx/v5"

	"github.com/parley-im/parley"
	"github.com/parley-im/parley/internal/events"
)

// stateColumns select a member's ConvState from members m joined to
// conversations c (scanState reads them). The peer of a direct
// conversation is read with correlated subqueries rather than a join so
// that a malformed direct conversation (more than two members) cannot
// duplicate rows. A former group member's LastSeq is the message that
// recorded their leaving (left_seq), and their Ver their own; a current
// group member's Ver is the larger of theirs and the conversation's.
const stateColumns = `m.conv_id, c.kind, ` + stateLastSeq + `, m.read_seq,
	CASE WHEN m.role <> '' AND c.ver > m.ver THEN c.ver ELSE m.ver END AS ver, m.left_seq > 0,
	m.pinned, m.muted, m.hide_seq >= ` + stateLastSeq + `,
	COALESCE((SELECT p.user_id FROM members p WHERE c.kind = 'direct' AND p.app_id = m.app_id
		AND p.conv_id = m.conv_id AND p.user_id <> m.user_id ORDER BY p.user_id LIMIT 1), ''),
	COALESCE((SELECT p.read_seq FROM members p WHERE c.kind = 'direct' AND p.app_id = m.app_id
		AND p.conv_id = m.conv_id AND p.user_id <> m.user_id ORDER BY p.user_id LIMIT 1), 0)`

// stateLastSeq is a member's LastSeq.
const stateLastSeq = `CASE WHEN m.left_seq > 0 THEN m.left_seq ELSE c.last_seq END`

const stateFrom = ` FROM members m JOIN conversations c ON c.app_id = m.app_id AND c.id = m.conv_id`

func scanState(row pgx.Row, s *parley.ConvState, extra ...any) error {
	var kind string
	var last, read, ver, peerRead int64
	dst := append([]any{&s.ConvID, &kind, &last, &read, &ver, &s.Left,
		&s.Pinned, &s.Muted, &s.Hidden, &s.Peer, &peerRead}, extra...)
	if err := row.Scan(dst...); err != nil {
		return err
	}
	s.Kind = parley.ConvKind(kind)
	s.LastSeq, s.ReadSeq, s.Ver, s.PeerReadSeq = uint64(last), uint64(read), uint64(ver), uint64(peerRead)
	s.Unread = 0
	if s.LastSeq > s.ReadSeq {
		s.Unread = s.LastSeq - s.ReadSeq
	}
	return nil
}

// queueState queues the query of one member's state into st.
func queueState(b *pgx.Batch, st *parley.ConvState, appID, convID, userID string) {
	b.Queue(`SELECT `+stateColumns+stateFrom+` WHERE m.app_id = $1 AND m.conv_id = $2 AND m.user_id = $3`,
		appID, convID, userID).QueryRow(func(row pgx.Row) error { return scanState(row, st) })
}

// changesQuery is Changes in one statement, so that both halves read one
// snapshot: with two, a direct change committed between them could be
// missing while a later group change is returned, and the caller's next
// since would skip it. The first half walks the user's direct rows (and
// former groups) by ver from since and stops at the limit
// (members_direct_by_user_ver); the second reads every current group
// membership (members_groups_by_user).
const changesQuery = `SELECT * FROM (
	(SELECT ` + stateColumns + stateFrom + `
		WHERE m.app_id = $1 AND m.user_id = $2 AND m.role = '' AND m.ver > $3
		ORDER BY m.ver LIMIT $4)
	UNION ALL
	(SELECT ` + stateColumns + stateFrom + `
		WHERE m.app_id = $1 AND m.user_id = $2 AND m.role <> '' AND (m.ver > $3 OR c.ver > $3))
	) AS s ORDER BY ver LIMIT $4`

// Changes returns the user's conversations whose Ver is greater than since,
// in ascending Ver order, at most limit of them (limit <= 0 means 50; it is
// capped at 1000): the user's direct rows from an index walk that stops at
// the limit, merged with all their groups, in one statement. It reads the
// primary: versions become visible there in the order they were handed
// out (decision record 0005), so paging by the last Ver never skips a
// change.
func (s *Store) Changes(ctx context.Context, appID, userID string, since uint64, n int) ([]parley.ConvState, error) {
	const op = "postgres.Changes"
	out, err := s.states(ctx, false, changesQuery, appID, userID, clamp(since), limit(n))
	if err != nil {
		return nil, internal(op, err)
	}
	return out, nil
}

// states runs a query of stateColumns (and, with last, the newest
// message's columns) on the primary and scans every row.
func (s *Store) states(ctx context.Context, last bool, query string, args ...any) ([]parley.ConvState, error) {
	rows, err := s.w.Query(ctx, query, args...)
	if err != nil {
		return nil, err
	}
	return pgx.CollectRows(rows, func(row pgx.CollectableRow) (parley.ConvState, error) {
		var st parley.ConvState
		if !last {
			return st, scanState(row, &st)
		}
		var seq, ts *int64
		var id, sender, cmid, kind, body, variants *string
		if err := scanState(row, &st, &seq, &id, &sender, &cmid, &kind, &body, &ts, &variants); err != nil {
			return st, err
		}
		if seq != nil {
			st.Last = &parley.Message{
				AppID: args[0].(string), ConvID: st.ConvID, Seq: uint64(*seq), ID: *id, Sender: *sender,
				ClientMsgID: *cmid, Kind: parley.Kind(*kind), Body: []byte(*body), Time: *ts,
			}
			if err := setVariants(st.Last, variants); err != nil {
				return st, err
			}
		}
		return st, nil
	})
}

// conversationsQuery is Conversations in one statement (see
// changesQuery), newest first, hidden conversations left out.
const conversationsQuery = `SELECT * FROM (
	(SELECT ` + stateColumns + lastColumns + stateFrom + lastJoin + `
		WHERE m.app_id = $1 AND m.user_id = $2 AND m.role = '' AND m.ver < $3
			AND NOT (m.hide_seq >= ` + stateLastSeq + `)
		ORDER BY m.ver DESC LIMIT $4)
	UNION ALL
	(SELECT ` + stateColumns + lastColumns + stateFrom + lastJoin + `
		WHERE m.app_id = $1 AND m.user_id = $2 AND m.role <> '' AND GREATEST(m.ver, c.ver) < $3
			AND NOT (m.hide_seq >= ` + stateLastSeq + `))
	) AS s ORDER BY ver DESC LIMIT $4`

const (
	lastColumns = `,
		l.seq, l.id, l.sender, l.client_msg_id, l.kind, l.body, l.ts, l.variants`
	lastJoin = `
		LEFT JOIN messages l ON l.app_id = m.app_id AND l.conv_id = m.conv_id AND l.seq = ` + stateLastSeq
)

// Conversations returns the user's conversation list, most recently
// changed first, with each one's newest message in Last (nil when it has
// none; a former member's newest is the message that recorded the
// leaving): at most limit conversations (limit <= 0 means 50; it is capped
// at 1000) whose Ver is below beforeVer (0: no bound), hidden ones left
// out. Like Changes, it merges a bounded walk of the direct rows with the
// user's groups, in one statement.
func (s *Store) Conversations(ctx context.Context, appID, userID string, beforeVer uint64, n int) ([]parley.ConvState, error) {
	const op = "postgres.Conversations"
	before := int64(math.MaxInt64)
	if beforeVer != 0 {
		before = clamp(beforeVer)
	}
	out, err := s.states(ctx, true, conversationsQuery, appID, userID, before, limit(n))
	if err != nil {
		return nil, internal(op, err)
	}
	return out, nil
}

// MarkRead moves the user's read cursor to seq, clamped to the last seq; a
// cursor never moves back. If it moved, every member of a direct
// conversation gets one new change version (so the peer's sync sees
// PeerReadSeq move); in a group only the user's row does. It locks the
// member rows it writes (in user order, as Append does) before it takes
// the version. It returns the user's state after the change and whether
// the cursor moved. Returns EForbidden if the user is not a member,
// ENotFound if the conversation does not exist.
func (s *Store) MarkRead(ctx context.Context, appID, convID, userID string, seq uint64) (parley.ConvState, bool, error) {
	const op = "postgres.MarkRead"
	var st parley.ConvState
	var moved bool
	err := s.inTx(ctx, func(tx pgx.Tx) error {
		// The rows it may write, locked: every member of a direct
		// conversation, the user alone in a group.
		rows, err := tx.Query(ctx, `SELECT m.user_id, m.read_seq, m.left_seq, c.last_seq, c.kind = 'group'
			FROM members m JOIN conversations c ON c.app_id = m.app_id AND c.id = m.conv_id
			WHERE m.app_id = $1 AND m.conv_id = $2 AND (c.kind <> 'group' OR m.user_id = $3)
			ORDER BY m.user_id FOR NO KEY UPDATE OF m`, appID, convID, userID)
		if err != nil {
			return err
		}
		var last, read int64
		var group, member bool
		for rows.Next() {
			var u string
			var r, left int64
			if err := rows.Scan(&u, &r, &left, &last, &group); err != nil {
				rows.Close()
				return err
			}
			if u == userID && left == 0 {
				member, read = true, r
			}
		}
		if rows.Close(); rows.Err() != nil {
			return rows.Err()
		}
		if !member {
			if err := s.convExists(ctx, op, appID, convID); err != nil {
				return err
			}
			return forbidden(op, "not a member of conversation %q", convID)
		}
		target := min(clamp(seq), last)
		moved = target > read
		b := &pgx.Batch{}
		if moved {
			who := "" // every member
			if group {
				who = userID
			}
			b.Queue(outboxRead, outboxJSON(events.ReadCursor{App: appID, Conv: convID, User: userID, Seq: uint64(target)}))
			b.Queue(`WITH `+bumpOne+`
				UPDATE members SET ver = k.ver, read_seq = CASE WHEN user_id = $3 THEN $4 ELSE read_seq END FROM k
				WHERE app_id = $1 AND conv_id = $2 AND ($5 = '' OR user_id = $5)`, appID, convID, userID, target, who)
		}
		queueState(b, &st, appID, convID, userID)
		return tx.SendBatch(ctx, b).Close()
	})
	if err != nil {
		return parley.ConvState{}, false, internal(op, err)
	}
	return st, moved, nil
}

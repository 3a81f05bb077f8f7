package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"math"

	"github.com/parley-im/parley"
)

// stateColumns select a member's ConvState from members m joined to
// conversations c. The peer of a direct conversation is read with
// correlated subqueries rather than a join so that a malformed direct
// conversation (more than two members) cannot duplicate rows.
const stateColumns = `m.conv_id, c.kind, c.last_seq, m.read_seq, m.ver,
	COALESCE((SELECT p.user_id FROM members p WHERE c.kind = 'direct' AND p.app_id = m.app_id
		AND p.conv_id = m.conv_id AND p.user_id <> m.user_id ORDER BY p.user_id LIMIT 1), ''),
	COALESCE((SELECT p.read_seq FROM members p WHERE c.kind = 'direct' AND p.app_id = m.app_id
		AND p.conv_id = m.conv_id AND p.user_id <> m.user_id ORDER BY p.user_id LIMIT 1), 0)`

const stateFrom = ` FROM members m
	JOIN conversations c ON c.app_id = m.app_id AND c.id = m.conv_id`

func scanState(row interface{ Scan(...any) error }, s *parley.ConvState, extra ...any) error {
	var kind string
	dst := append([]any{&s.ConvID, &kind, &s.LastSeq, &s.ReadSeq, &s.Ver, &s.Peer, &s.PeerReadSeq}, extra...)
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
// capped at 1000). It walks the (app_id, user_id, ver) index from since, so
// its cost is proportional to the rows returned.
func (db *DB) Changes(ctx context.Context, appID, userID string, since uint64, n int) ([]parley.ConvState, error) {
	const op = "sqlite.Changes"
	rows, err := db.r.QueryContext(ctx, `SELECT `+stateColumns+stateFrom+`
		WHERE m.app_id = ? AND m.user_id = ? AND m.ver > ?
		ORDER BY m.ver LIMIT ?`, appID, userID, int64(min(since, math.MaxInt64)), limit(n))
	if err != nil {
		return nil, internal(op, err)
	}
	defer rows.Close()
	var out []parley.ConvState
	for rows.Next() {
		var s parley.ConvState
		if err := scanState(rows, &s); err != nil {
			return nil, internal(op, err)
		}
		out = append(out, s)
	}
	if err := rows.Err(); err != nil {
		return nil, internal(op, err)
	}
	return out, nil
}

// Conversations returns the user's conversation list, most recently
// changed first, with each one's newest message in Last (nil when it has
// none): at most limit conversations (limit <= 0 means 50; it is capped at
// 1000) whose Ver is below beforeVer (0: no bound).
func (db *DB) Conversations(ctx context.Context, appID, userID string, beforeVer uint64, n int) ([]parley.ConvState, error) {
	const op = "sqlite.Conversations"
	before := uint64(math.MaxInt64)
	if beforeVer != 0 && beforeVer < before {
		before = beforeVer
	}
	rows, err := db.r.QueryContext(ctx, `SELECT `+stateColumns+`,
		l.seq, l.id, l.sender, l.client_msg_id, l.kind, l.body, l.ts`+stateFrom+`
		LEFT JOIN messages l ON l.app_id = m.app_id AND l.conv_id = m.conv_id AND l.seq = c.last_seq
		WHERE m.app_id = ? AND m.user_id = ? AND m.ver < ?
		ORDER BY m.ver DESC LIMIT ?`, appID, userID, int64(before), limit(n))
	if err != nil {
		return nil, internal(op, err)
	}
	defer rows.Close()
	var out []parley.ConvState
	for rows.Next() {
		var s parley.ConvState
		var seq, ts sql.NullInt64
		var id, sender, cmid, kind, body sql.NullString
		if err := scanState(rows, &s, &seq, &id, &sender, &cmid, &kind, &body, &ts); err != nil {
			return nil, internal(op, err)
		}
		if seq.Valid {
			s.Last = &parley.Message{
				AppID: appID, ConvID: s.ConvID, Seq: uint64(seq.Int64), ID: id.String,
				Sender: sender.String, ClientMsgID: cmid.String, Kind: parley.Kind(kind.String),
				Body: []byte(body.String), Time: ts.Int64,
			}
		}
		out = append(out, s)
	}
	if err := rows.Err(); err != nil {
		return nil, internal(op, err)
	}
	return out, nil
}

// MarkRead moves the user's read cursor to seq, clamped to the last seq; a
// cursor never moves back. If it moved, every member of the conversation
// gets one new change version (so the peer's sync sees PeerReadSeq move).
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
	err = tx.QueryRowContext(ctx, `SELECT c.last_seq, m.read_seq FROM conversations c
		LEFT JOIN members m ON m.app_id = c.app_id AND m.conv_id = c.id AND m.user_id = ?
		WHERE c.app_id = ? AND c.id = ?`, userID, appID, convID).Scan(&last, &read)
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
			_, err = tx.ExecContext(ctx, `UPDATE members SET ver = ?
				WHERE app_id = ? AND conv_id = ?`, ver, appID, convID)
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

package sqlite

import (
	"context"
	"database/sql"
	"errors"

	"github.com/parley-im/parley"
)

// SetConvSettings applies c to the user's own settings of a conversation
// in one write transaction; see parley.ConvStore. Hiding stores the
// member's LastSeq in hide_seq (00007_conv_settings.sql).
func (db *DB) SetConvSettings(ctx context.Context, appID, convID, userID string, c parley.ConvSettings) (parley.ConvState, bool, error) {
	const op = "sqlite.SetConvSettings"
	tx, err := db.w.BeginTx(ctx, nil)
	if err != nil {
		return parley.ConvState{}, false, internal(op, err)
	}
	defer rollback(tx)
	// The member columns are NULL when the user has no row.
	var left, pin, mute, hideSeq sql.NullInt64
	var last int64
	err = tx.QueryRowContext(ctx, `SELECT m.left_seq, m.pinned, m.muted, m.hide_seq, c.last_seq
		FROM conversations c
		LEFT JOIN members m ON m.app_id = c.app_id AND m.conv_id = c.id AND m.user_id = ?
		WHERE c.app_id = ? AND c.id = ?`, userID, appID, convID).Scan(&left, &pin, &mute, &hideSeq, &last)
	switch {
	case errors.Is(err, sql.ErrNoRows):
		return parley.ConvState{}, false, notFound(op, "conversation %q not found", convID)
	case err != nil:
		return parley.ConvState{}, false, internal(op, err)
	case !left.Valid || left.Int64 > 0:
		return parley.ConvState{}, false, forbidden(op, "not a member of conversation %q", convID)
	}
	pinned, muted, hidden := pin.Int64 == 1, mute.Int64 == 1, hideSeq.Int64 >= last
	changed := false
	set := func(p *bool, cur *bool) {
		if p != nil && *p != *cur {
			*cur, changed = *p, true
		}
	}
	set(c.Pin, &pinned)
	set(c.Mute, &muted)
	set(c.Hide, &hidden)
	if changed {
		hideSeq := int64(-1)
		if hidden {
			hideSeq = last
		}
		var vc verCounter
		ver, err := vc.next(ctx, tx)
		if err == nil {
			_, err = tx.ExecContext(ctx, `UPDATE members SET pinned = ?, muted = ?, hide_seq = ?, ver = ?
				WHERE app_id = ? AND conv_id = ? AND user_id = ?`, pinned, muted, hideSeq, ver, appID, convID, userID)
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
	return s, changed, nil
}

// MutedBy returns the current members who muted a conversation, from the
// partial index members_muted.
func (db *DB) MutedBy(ctx context.Context, appID, convID string) ([]string, error) {
	out, err := db.queryStrings(ctx, `SELECT user_id FROM members INDEXED BY members_muted
		WHERE app_id = ? AND conv_id = ? AND muted = 1 AND left_seq = 0 ORDER BY user_id`, appID, convID)
	if err != nil {
		return nil, internal("sqlite.MutedBy", err)
	}
	if out == nil {
		out = []string{}
	}
	return out, nil
}

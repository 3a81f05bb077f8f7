package sqlite

import (
	"context"

	"github.com/parley-im/parley"
)

// ReviseMessage rewrites the kind and body of a stored message (a recall
// or an edit, recorded as an event of its own in the conversation's
// sequence; see parley.KindRecall). Its seq, id, sender and time stay.
// Returns ENotFound if the conversation has no message seq.
func (db *DB) ReviseMessage(ctx context.Context, appID, convID string, seq uint64, kind parley.Kind, body []byte) error {
	const op = "sqlite.ReviseMessage"
	res, err := db.w.ExecContext(ctx, `UPDATE messages SET kind = ?, body = ? WHERE app_id = ? AND conv_id = ? AND seq = ?`,
		string(kind), string(body), appID, convID, int64(seq))
	if err != nil {
		return internal(op, err)
	}
	if n, err := res.RowsAffected(); err != nil {
		return internal(op, err)
	} else if n == 0 {
		return notFound(op, "message %d not found", seq)
	}
	return nil
}

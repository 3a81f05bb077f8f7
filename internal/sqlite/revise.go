package sqlite

import (
	"context"

	"github.com/parley-im/parley"
)

// ReviseMessage rewrites the kind and body of a stored message (a recall
// or an edit, recorded as an event of its own in the conversation's
// sequence; see parley.KindRecall) and its entry in the search index, in
// one transaction: a recalled text is no longer found, an edited one is
// found by its new words. Its seq, id, sender and time stay. Returns
// ENotFound if the conversation has no message seq.
func (db *DB) ReviseMessage(ctx context.Context, appID, convID string, seq uint64, kind parley.Kind, body []byte) error {
	const op = "sqlite.ReviseMessage"
	tx, err := db.w.BeginTx(ctx, nil)
	if err != nil {
		return internal(op, err)
	}
	defer rollback(tx)
	res, err := tx.ExecContext(ctx, `UPDATE messages SET kind = ?, body = ? WHERE app_id = ? AND conv_id = ? AND seq = ?`,
		string(kind), string(body), appID, convID, int64(seq))
	if err != nil {
		return internal(op, err)
	}
	if n, err := res.RowsAffected(); err != nil {
		return internal(op, err)
	} else if n == 0 {
		return notFound(op, "message %d not found", seq)
	}
	const doc = `(SELECT id FROM message_search_docs WHERE app_id = ? AND conv_id = ? AND seq = ?)`
	if _, err := tx.ExecContext(ctx, `DELETE FROM message_search WHERE rowid = `+doc, appID, convID, int64(seq)); err != nil {
		return internal(op, err)
	}
	if _, err := tx.ExecContext(ctx, `INSERT INTO message_search (rowid, text)
		SELECT d.id, parley_search_text(?, ?) FROM message_search_docs d
		WHERE d.app_id = ? AND d.conv_id = ? AND d.seq = ? AND ? <> 'recalled'`,
		string(kind), string(body), appID, convID, int64(seq), string(kind)); err != nil {
		return internal(op, err)
	}
	if err := tx.Commit(); err != nil {
		return internal(op, err)
	}
	return nil
}

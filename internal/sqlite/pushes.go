package sqlite

import (
	"context"

	"github.com/parley-im/parley/internal/notify"
)

// RecordPushes stores offline pushes in one write transaction and returns
// those that were new (notify.Store).
func (db *DB) RecordPushes(ctx context.Context, ps []notify.Push) ([]notify.Push, error) {
	const op = "sqlite.RecordPushes"
	out := []notify.Push{}
	if len(ps) == 0 {
		return out, nil
	}
	tx, err := db.w.BeginTx(ctx, nil)
	if err != nil {
		return nil, internal(op, err)
	}
	defer rollback(tx)
	st, err := tx.PrepareContext(ctx, `INSERT INTO offline_pushes
		(app_id, user_id, msg_id, conv_id, seq, sender, kind, title, preview, ts)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT DO NOTHING`)
	if err != nil {
		return nil, internal(op, err)
	}
	defer st.Close()
	for _, p := range ps {
		res, err := st.ExecContext(ctx, p.AppID, p.UserID, p.MsgID, p.ConvID, int64(p.Seq), p.Sender, string(p.Kind), p.Title, p.Preview, p.Time)
		if err != nil {
			return nil, internal(op, err)
		}
		if n, err := res.RowsAffected(); err != nil {
			return nil, internal(op, err)
		} else if n == 1 {
			out = append(out, p)
		}
	}
	if err := tx.Commit(); err != nil {
		return nil, internal(op, err)
	}
	return out, nil
}

// PrunePushes deletes pushes older than before (notify.Store).
func (db *DB) PrunePushes(ctx context.Context, before int64) (int64, error) {
	res, err := db.w.ExecContext(ctx, `DELETE FROM offline_pushes WHERE ts < ?`, before)
	if err != nil {
		return 0, internal("sqlite.PrunePushes", err)
	}
	n, err := res.RowsAffected()
	if err != nil {
		return 0, internal("sqlite.PrunePushes", err)
	}
	return n, nil
}

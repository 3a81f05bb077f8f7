package postgres

import (
	"context"

	"github.com/jackc/pgx/v5"

	"github.com/parley-im/parley/internal/notify"
)

var _ notify.Store = (*Store)(nil)

// RecordPushes stores offline pushes in one statement and returns, in
// input order, those that were new (notify.Store): a key already stored,
// or repeated within ps, counts once.
func (s *Store) RecordPushes(ctx context.Context, ps []notify.Push) ([]notify.Push, error) {
	const op = "postgres.RecordPushes"
	out := []notify.Push{}
	if len(ps) == 0 {
		return out, nil
	}
	type key struct{ app, user, msg string }
	var apps, users, msgs, convs, senders, kinds, titles, previews []string
	var seqs, times []int64
	for _, p := range ps {
		apps, users, msgs, convs = append(apps, p.AppID), append(users, p.UserID), append(msgs, p.MsgID), append(convs, p.ConvID)
		senders, kinds, titles, previews = append(senders, p.Sender), append(kinds, string(p.Kind)), append(titles, p.Title), append(previews, p.Preview)
		seqs, times = append(seqs, int64(p.Seq)), append(times, p.Time)
	}
	rows, err := s.w.Query(ctx, `INSERT INTO offline_pushes
		(app_id, user_id, msg_id, conv_id, seq, sender, kind, title, preview, ts)
		SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::bigint[], $6::text[],
			$7::text[], $8::text[], $9::text[], $10::bigint[])
		ON CONFLICT DO NOTHING RETURNING app_id, user_id, msg_id`,
		apps, users, msgs, convs, seqs, senders, kinds, titles, previews, times)
	if err != nil {
		return nil, internal(op, err)
	}
	added, err := pgx.CollectRows(rows, func(row pgx.CollectableRow) (key, error) {
		var k key
		return k, row.Scan(&k.app, &k.user, &k.msg)
	})
	if err != nil {
		return nil, internal(op, err)
	}
	isNew := make(map[key]bool, len(added))
	for _, k := range added {
		isNew[k] = true
	}
	for _, p := range ps {
		if k := (key{p.AppID, p.UserID, p.MsgID}); isNew[k] {
			out = append(out, p)
			delete(isNew, k) // a repeat within ps counts once
		}
	}
	return out, nil
}

// PrunePushes deletes pushes older than before (notify.Store).
func (s *Store) PrunePushes(ctx context.Context, before int64) (int64, error) {
	ct, err := s.w.Exec(ctx, `DELETE FROM offline_pushes WHERE ts < $1`, before)
	if err != nil {
		return 0, internal("postgres.PrunePushes", err)
	}
	return ct.RowsAffected(), nil
}

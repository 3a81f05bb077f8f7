package sqlite

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"

	"github.com/parley-im/parley"
)

// appendStmts are Append's statements, prepared once on the writer's only
// connection and bound to each transaction with Tx.StmtContext (which
// reuses the connection's prepared statement rather than preparing again).
// The per-conversation steps take the whole batch as one JSON array read
// through json_each, so a batch costs a handful of statements plus one
// INSERT per message rather than several statements per message.
type appendStmts struct {
	lastSeqs    *sql.Stmt // [[app, conv], ...] -> (index, last_seq) of those that exist
	insert      *sql.Stmt // a message; no row changed if (app, sender, cmid) is taken
	dup         *sql.Stmt // the stored message with (app, sender, cmid)
	setLastSeqs *sql.Stmt // [[app, conv, last_seq], ...]
	setVers     *sql.Stmt // [[app, conv, ver, user, seq], ...]: every member's ver, one sender's read cursor
	readTo      *sql.Stmt // [[app, conv, user, seq], ...]: the other senders' read cursors
	senderVers  *sql.Stmt // [[app, conv, user, seq, ver], ...]: group senders' read cursors and vers
	outbox      *sql.Stmt // the batch's one outbox row (outbox.go)

	eventInsert  *sql.Stmt // an event of the log (eventlog.go); no row if its id is taken
	eventNextPos *sql.Stmt // app -> the next offset of its log
}

func prepareAppend(ctx context.Context, w *sql.DB) (*appendStmts, error) {
	var s appendStmts
	for _, p := range []struct {
		dst **sql.Stmt
		sql string
	}{
		{&s.lastSeqs, `SELECT j.key, c.last_seq, c.kind = 'group' FROM json_each(?) AS j
			JOIN conversations c ON c.app_id = j.value ->> 0 AND c.id = j.value ->> 1`},
		{&s.insert, `INSERT INTO messages
			(app_id, conv_id, seq, id, sender, client_msg_id, kind, body, ts, variants)
			VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
			ON CONFLICT (app_id, sender, client_msg_id) WHERE client_msg_id <> '' DO NOTHING`},
		{&s.dup, `SELECT conv_id, seq, id, sender, client_msg_id, kind, body, ts, variants FROM messages
			WHERE app_id = ? AND sender = ? AND client_msg_id = ? AND client_msg_id <> ''`},
		{&s.setLastSeqs, `UPDATE conversations SET last_seq = j.value ->> 2, ver = j.value ->> 3 FROM json_each(?) AS j
			WHERE conversations.app_id = j.value ->> 0 AND conversations.id = j.value ->> 1`},
		{&s.setVers, `UPDATE members SET ver = j.value ->> 2,
				read_seq = CASE WHEN members.user_id = j.value ->> 3 AND members.read_seq < j.value ->> 4
					THEN j.value ->> 4 ELSE members.read_seq END
			FROM json_each(?) AS j
			WHERE members.app_id = j.value ->> 0 AND members.conv_id = j.value ->> 1`},
		{&s.readTo, `UPDATE members SET read_seq = j.value ->> 3 FROM json_each(?) AS j
			WHERE members.app_id = j.value ->> 0 AND members.conv_id = j.value ->> 1
				AND members.user_id = j.value ->> 2 AND members.read_seq < j.value ->> 3`},
		{&s.senderVers, `UPDATE members SET ver = j.value ->> 4,
				read_seq = max(members.read_seq, j.value ->> 3)
			FROM json_each(?) AS j
			WHERE members.app_id = j.value ->> 0 AND members.conv_id = j.value ->> 1
				AND members.user_id = j.value ->> 2 AND members.left_seq = 0`},
		{&s.outbox, outboxInsert},
		{&s.eventInsert, `INSERT INTO events (app_id, pos, id, type, ts, data) VALUES (?, ?, ?, ?, ?, ?)
			ON CONFLICT (app_id, id) DO NOTHING`},
		{&s.eventNextPos, `SELECT coalesce(max(pos), 0) + 1 FROM events WHERE app_id = ?`},
	} {
		st, err := w.PrepareContext(ctx, p.sql)
		if err != nil {
			return nil, errors.Join(err, s.close())
		}
		*p.dst = st
	}
	return &s, nil
}

func (s *appendStmts) close() error {
	var errs []error
	for _, st := range []*sql.Stmt{s.lastSeqs, s.insert, s.dup, s.setLastSeqs, s.setVers, s.readTo, s.senderVers, s.outbox, s.eventInsert, s.eventNextPos} {
		if st != nil {
			errs = append(errs, st.Close())
		}
	}
	return errors.Join(errs...)
}

// convKey names a conversation across apps.
type convKey struct{ app, conv string }

// convBatch is what one Append batch does to one conversation.
type convBatch struct {
	exists  bool
	group   bool        // kind group: only the conversation's and the senders' vers move
	first   uint64      // the first seq this batch stored, 0 if none
	last    uint64      // last_seq, including this batch's messages
	senders []senderSeq // each sender's highest seq in the batch
}

type senderSeq struct {
	user string
	seq  uint64
}

func (c *convBatch) sent(user string, seq uint64) {
	for i := range c.senders {
		if c.senders[i].user == user {
			c.senders[i].seq = seq // seqs only grow within a batch
			return
		}
	}
	c.senders = append(c.senders, senderSeq{user, seq})
}

// Append persists a batch of messages in one transaction; when it returns
// nil, every result without Err is committed (see the package comment for
// what survives what). For each message, in input order, it either finds a
// stored duplicate with the same (AppID, Sender, non-empty ClientMsgID),
// earlier in the same batch included, and overwrites the input message
// with it (Dup, no seq used), or assigns the conversation's next seq, sets
// m.Seq and stores it. A message whose conversation does not exist gets
// Err ENotFound and the others still commit. Then, once per conversation
// touched, the conversation gets one new change version, and so does every
// member of a direct conversation but only the senders of a group; each
// sender's read cursor moves to its newest message, and one outbox row
// names the messages stored (events.Outbox). Sender membership is the caller's
// check. The input messages are updated only once the batch has committed;
// on error nothing is stored and nothing is changed.
func (db *DB) Append(ctx context.Context, msgs []*parley.Message) ([]parley.AppendResult, error) {
	const op = "sqlite.Append"
	results := make([]parley.AppendResult, len(msgs))
	if len(msgs) == 0 {
		return results, nil
	}
	convs := make(map[convKey]*convBatch)
	var keys []convKey // distinct, in input order
	for _, m := range msgs {
		k := convKey{m.AppID, m.ConvID}
		if convs[k] == nil {
			convs[k] = &convBatch{}
			keys = append(keys, k)
		}
	}
	tx, err := db.w.BeginTx(ctx, nil)
	if err != nil {
		return nil, internal(op, err)
	}
	defer rollback(tx)
	if err := db.loadLastSeqs(ctx, tx, convs, keys); err != nil {
		return nil, internal(op, err)
	}
	insert := tx.StmtContext(ctx, db.st.insert)
	dup := tx.StmtContext(ctx, db.st.dup)
	seqs := make([]uint64, len(msgs))   // assigned seqs, applied after commit
	stored := map[int]*parley.Message{} // duplicates' stored messages, likewise
	for i, m := range msgs {
		c := convs[convKey{m.AppID, m.ConvID}]
		if !c.exists {
			results[i].Err = notFound(op, "conversation %q not found", m.ConvID)
			continue
		}
		seq := c.last + 1
		variants, err := variantsArg(m.Variants)
		if err != nil {
			return nil, internal(op, err)
		}
		res, err := insert.ExecContext(ctx, m.AppID, m.ConvID, seq, m.ID, m.Sender, m.ClientMsgID,
			string(m.Kind), string(m.Body), m.Time, variants)
		if err != nil {
			return nil, internal(op, err)
		}
		n, err := res.RowsAffected()
		if err != nil {
			return nil, internal(op, err)
		}
		if n == 0 { // (app, sender, cmid) is taken: a duplicate
			orig := &parley.Message{AppID: m.AppID}
			row := dup.QueryRowContext(ctx, m.AppID, m.Sender, m.ClientMsgID)
			if err := scanStored(row, orig); err != nil {
				return nil, internal(op, err)
			}
			stored[i] = orig
			results[i].Dup = true
			continue
		}
		seqs[i], c.last = seq, seq
		if c.first == 0 {
			c.first = seq
		}
		c.sent(m.Sender, seq)
	}
	if err := db.finishAppend(ctx, tx, convs, keys); err != nil {
		return nil, internal(op, err)
	}
	if err := tx.Commit(); err != nil {
		return nil, internal(op, err)
	}
	for i, m := range msgs {
		if orig := stored[i]; orig != nil {
			*m = *orig
		} else if seqs[i] != 0 {
			m.Seq = seqs[i]
		}
	}
	return results, nil
}

// loadLastSeqs reads the last_seq of every conversation of the batch in
// one query and marks those that exist.
func (db *DB) loadLastSeqs(ctx context.Context, tx *sql.Tx, convs map[convKey]*convBatch, keys []convKey) error {
	arg := make([][2]string, len(keys))
	for i, k := range keys {
		arg[i] = [2]string{k.app, k.conv}
	}
	js, err := json.Marshal(arg)
	if err != nil {
		return err
	}
	rows, err := tx.StmtContext(ctx, db.st.lastSeqs).QueryContext(ctx, string(js))
	if err != nil {
		return err
	}
	defer rows.Close()
	for rows.Next() {
		var i int
		var last uint64
		var group bool
		if err := rows.Scan(&i, &last, &group); err != nil {
			return err
		}
		c := convs[keys[i]]
		c.exists, c.last, c.group = true, last, group
	}
	return rows.Err()
}

// finishAppend writes each touched conversation's last_seq and new change
// version, gives all members of direct conversations and the senders of
// groups that version and moves the senders' read cursors, and adds the
// batch's outbox row: five statements for the whole batch.
func (db *DB) finishAppend(ctx context.Context, tx *sql.Tx, convs map[convKey]*convBatch, keys []convKey) error {
	var vc verCounter
	var lasts, vers, reads, senders, stored []any
	for _, k := range keys {
		c := convs[k]
		if len(c.senders) == 0 {
			continue // missing, or only duplicates
		}
		stored = append(stored, []any{k.app, k.conv, c.first, c.last})
		ver, err := vc.next(ctx, tx)
		if err != nil {
			return err
		}
		lasts = append(lasts, []any{k.app, k.conv, c.last, ver})
		if c.group {
			for _, s := range c.senders {
				senders = append(senders, []any{k.app, k.conv, s.user, s.seq, ver})
			}
			continue
		}
		first := c.senders[0]
		vers = append(vers, []any{k.app, k.conv, ver, first.user, first.seq})
		for _, s := range c.senders[1:] {
			reads = append(reads, []any{k.app, k.conv, s.user, s.seq})
		}
	}
	for _, u := range []struct {
		st  *sql.Stmt
		arg []any
	}{{db.st.setLastSeqs, lasts}, {db.st.setVers, vers}, {db.st.readTo, reads}, {db.st.senderVers, senders}} {
		if len(u.arg) == 0 {
			continue
		}
		js, err := json.Marshal(u.arg)
		if err != nil {
			return err
		}
		if _, err := tx.StmtContext(ctx, u.st).ExecContext(ctx, string(js)); err != nil {
			return err
		}
	}
	if len(stored) > 0 {
		if err := addOutbox(ctx, tx, db.st.outbox, outboxMsgs, stored); err != nil {
			return err
		}
	}
	return vc.save(ctx, tx)
}

// scanStored reads a full stored message row (conv_id first).
func scanStored(row *sql.Row, m *parley.Message) error {
	var kind, body string
	var variants sql.NullString
	if err := row.Scan(&m.ConvID, &m.Seq, &m.ID, &m.Sender, &m.ClientMsgID, &kind, &body, &m.Time, &variants); err != nil {
		return err
	}
	m.Kind, m.Body = parley.Kind(kind), []byte(body)
	return setVariants(m, variants)
}

// verCounter hands out change versions within one write transaction: it
// reads the counter row on first use and writes it back in save.
type verCounter struct {
	loaded bool
	ver    uint64
}

func (c *verCounter) next(ctx context.Context, tx *sql.Tx) (uint64, error) {
	if !c.loaded {
		if err := tx.QueryRowContext(ctx, `SELECT ver FROM change_ver WHERE id = 1`).Scan(&c.ver); err != nil {
			return 0, err
		}
		c.loaded = true
	}
	c.ver++
	return c.ver, nil
}

// save writes the counter back if next was called.
func (c *verCounter) save(ctx context.Context, tx *sql.Tx) error {
	if !c.loaded {
		return nil
	}
	_, err := tx.ExecContext(ctx, `UPDATE change_ver SET ver = ? WHERE id = 1`, c.ver)
	return err
}

package sqlite

import (
	"context"
	"database/sql"
	"errors"

	"github.com/parley-im/parley"
)

// appendStmts are Append's statements, prepared once on the writer's only
// connection and bound to each transaction with Tx.StmtContext (which
// reuses the connection's prepared statement rather than preparing again).
type appendStmts struct {
	lastSeq     *sql.Stmt // the conversation's last_seq; no row if it does not exist
	insert      *sql.Stmt // a message; no row changed if (app, sender, cmid) is taken
	dup         *sql.Stmt // the stored message with (app, sender, cmid)
	setLastSeq  *sql.Stmt // the conversation's new last_seq
	bumpMembers *sql.Stmt // every member's ver, and one sender's read cursor
	readTo      *sql.Stmt // another sender's read cursor
}

func prepareAppend(ctx context.Context, w *sql.DB) (*appendStmts, error) {
	var s appendStmts
	for _, p := range []struct {
		dst **sql.Stmt
		sql string
	}{
		{&s.lastSeq, `SELECT last_seq FROM conversations WHERE app_id = ? AND id = ?`},
		{&s.insert, `INSERT INTO messages
			(app_id, conv_id, seq, id, sender, client_msg_id, kind, body, ts)
			VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)
			ON CONFLICT (app_id, sender, client_msg_id) WHERE client_msg_id <> '' DO NOTHING`},
		{&s.dup, `SELECT conv_id, seq, id, sender, client_msg_id, kind, body, ts FROM messages
			WHERE app_id = ? AND sender = ? AND client_msg_id = ? AND client_msg_id <> ''`},
		{&s.setLastSeq, `UPDATE conversations SET last_seq = ? WHERE app_id = ? AND id = ?`},
		{&s.bumpMembers, `UPDATE members SET ver = ?1,
			read_seq = CASE WHEN user_id = ?2 AND read_seq < ?3 THEN ?3 ELSE read_seq END
			WHERE app_id = ?4 AND conv_id = ?5`},
		{&s.readTo, `UPDATE members SET read_seq = ?1
			WHERE app_id = ?2 AND conv_id = ?3 AND user_id = ?4 AND read_seq < ?1`},
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
	for _, st := range []*sql.Stmt{s.lastSeq, s.insert, s.dup, s.setLastSeq, s.bumpMembers, s.readTo} {
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
	missing bool
	last    uint64      // last_seq, including this batch's messages
	senders []senderSeq // each sender's highest seq in the batch, first sender first
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
// touched, every member gets one new change version and each sender's read
// cursor moves to its newest message. Sender membership is the caller's
// check. On error nothing is stored, but m.Seq of some messages may have
// been set.
func (db *DB) Append(ctx context.Context, msgs []*parley.Message) ([]parley.AppendResult, error) {
	const op = "sqlite.Append"
	results := make([]parley.AppendResult, len(msgs))
	if len(msgs) == 0 {
		return results, nil
	}
	tx, err := db.w.BeginTx(ctx, nil)
	if err != nil {
		return nil, internal(op, err)
	}
	defer rollback(tx)
	lastSeq := tx.StmtContext(ctx, db.st.lastSeq)
	insert := tx.StmtContext(ctx, db.st.insert)
	dup := tx.StmtContext(ctx, db.st.dup)

	convs := make(map[convKey]*convBatch)
	var touched []convKey // in order of first new message
	for i, m := range msgs {
		k := convKey{m.AppID, m.ConvID}
		c := convs[k]
		if c == nil {
			c = &convBatch{}
			err := lastSeq.QueryRowContext(ctx, k.app, k.conv).Scan(&c.last)
			if errors.Is(err, sql.ErrNoRows) {
				c.missing = true
			} else if err != nil {
				return nil, internal(op, err)
			}
			convs[k] = c
		}
		if c.missing {
			results[i].Err = notFound(op, "conversation %q not found", m.ConvID)
			continue
		}
		seq := c.last + 1
		res, err := insert.ExecContext(ctx, m.AppID, m.ConvID, seq, m.ID, m.Sender, m.ClientMsgID,
			string(m.Kind), string(m.Body), m.Time)
		if err != nil {
			return nil, internal(op, err)
		}
		n, err := res.RowsAffected()
		if err != nil {
			return nil, internal(op, err)
		}
		if n == 0 {
			stored := parley.Message{AppID: m.AppID}
			row := dup.QueryRowContext(ctx, m.AppID, m.Sender, m.ClientMsgID)
			if err := scanStored(row, &stored); err != nil {
				return nil, internal(op, err)
			}
			*m = stored
			results[i].Dup = true
			continue
		}
		m.Seq, c.last = seq, seq
		if len(c.senders) == 0 {
			touched = append(touched, k)
		}
		c.sent(m.Sender, seq)
	}
	if len(touched) > 0 {
		if err := db.finishAppend(ctx, tx, convs, touched); err != nil {
			return nil, internal(op, err)
		}
	}
	if err := tx.Commit(); err != nil {
		return nil, internal(op, err)
	}
	return results, nil
}

// finishAppend writes each touched conversation's last_seq, gives its
// members a new change version and moves the senders' read cursors.
func (db *DB) finishAppend(ctx context.Context, tx *sql.Tx, convs map[convKey]*convBatch, touched []convKey) error {
	setLastSeq := tx.StmtContext(ctx, db.st.setLastSeq)
	bump := tx.StmtContext(ctx, db.st.bumpMembers)
	readTo := tx.StmtContext(ctx, db.st.readTo)
	var vc verCounter
	for _, k := range touched {
		c := convs[k]
		if _, err := setLastSeq.ExecContext(ctx, c.last, k.app, k.conv); err != nil {
			return err
		}
		ver, err := vc.next(ctx, tx)
		if err != nil {
			return err
		}
		first := c.senders[0]
		if _, err := bump.ExecContext(ctx, ver, first.user, first.seq, k.app, k.conv); err != nil {
			return err
		}
		for _, s := range c.senders[1:] {
			if _, err := readTo.ExecContext(ctx, s.seq, k.app, k.conv, s.user); err != nil {
				return err
			}
		}
	}
	return vc.save(ctx, tx)
}

// scanStored reads a full stored message row (conv_id first).
func scanStored(row *sql.Row, m *parley.Message) error {
	var kind, body string
	if err := row.Scan(&m.ConvID, &m.Seq, &m.ID, &m.Sender, &m.ClientMsgID, &kind, &body, &m.Time); err != nil {
		return err
	}
	m.Kind, m.Body = parley.Kind(kind), []byte(body)
	return nil
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

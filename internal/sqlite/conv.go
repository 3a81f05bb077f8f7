package sqlite

import (
	"context"
	"database/sql"
	"math"
	"slices"
	"time"

	"github.com/parley-im/parley"
)

// EnsureConversations creates conversations and their members if they do
// not exist yet, all in one transaction. Existing conversations are left as
// they are, members included. A new conversation gives each member a new
// change version, so it shows up in the members' sync.
func (db *DB) EnsureConversations(ctx context.Context, convs []parley.Conversation) error {
	const op = "sqlite.EnsureConversations"
	if len(convs) == 0 {
		return nil
	}
	now := time.Now().UnixMilli()
	tx, err := db.w.BeginTx(ctx, nil)
	if err != nil {
		return internal(op, err)
	}
	defer rollback(tx)
	insConv, err := tx.PrepareContext(ctx, `INSERT INTO conversations (app_id, id, kind, last_seq, created_at)
		VALUES (?, ?, ?, 0, ?) ON CONFLICT (app_id, id) DO NOTHING`)
	if err != nil {
		return internal(op, err)
	}
	defer insConv.Close()
	insMember, err := tx.PrepareContext(ctx, `INSERT INTO members (app_id, conv_id, user_id, read_seq, ver, joined_at, role)
		VALUES (?, ?, ?, 0, ?, ?, ?) ON CONFLICT (app_id, conv_id, user_id) DO NOTHING`)
	if err != nil {
		return internal(op, err)
	}
	defer insMember.Close()
	var vc verCounter
	for _, c := range convs {
		res, err := insConv.ExecContext(ctx, c.AppID, c.ID, string(c.Kind), now)
		if err != nil {
			return internal(op, err)
		}
		if n, err := res.RowsAffected(); err != nil {
			return internal(op, err)
		} else if n == 0 {
			continue // exists: leave it alone
		}
		ver, err := vc.next(ctx, tx)
		if err != nil {
			return internal(op, err)
		}
		role := "" // direct conversations have no roles
		if c.Kind == parley.ConvGroup {
			role = string(parley.GroupRoleMember) // so that sync finds it (see 00004_groups.sql)
		}
		for _, u := range c.Members {
			if _, err := insMember.ExecContext(ctx, c.AppID, c.ID, u, ver, now, role); err != nil {
				return internal(op, err)
			}
		}
	}
	if err := vc.save(ctx, tx); err != nil {
		return internal(op, err)
	}
	if err := tx.Commit(); err != nil {
		return internal(op, err)
	}
	return nil
}

// IsMember returns nil if user belongs to the conversation, ENotFound if
// the conversation does not exist and EForbidden if the user is not a
// member (former group members are not).
func (db *DB) IsMember(ctx context.Context, appID, convID, userID string) error {
	const op = "sqlite.IsMember"
	var conv, member bool
	err := db.r.QueryRowContext(ctx, `SELECT
		EXISTS (SELECT 1 FROM conversations WHERE app_id = ?1 AND id = ?2),
		EXISTS (SELECT 1 FROM members WHERE app_id = ?1 AND conv_id = ?2 AND user_id = ?3 AND left_seq = 0)`,
		appID, convID, userID).Scan(&conv, &member)
	switch {
	case err != nil:
		return internal(op, err)
	case !conv:
		return notFound(op, "conversation %q not found", convID)
	case !member:
		return forbidden(op, "not a member of conversation %q", convID)
	}
	return nil
}

// Members returns the member ids of a conversation in ascending order,
// former group members left out. Returns ENotFound if the conversation
// does not exist.
func (db *DB) Members(ctx context.Context, appID, convID string) ([]string, error) {
	const op = "sqlite.Members"
	ids, err := db.queryStrings(ctx, `SELECT user_id FROM members
		WHERE app_id = ? AND conv_id = ? AND left_seq = 0 ORDER BY user_id`, appID, convID)
	if err != nil {
		return nil, internal(op, err)
	}
	if len(ids) == 0 {
		// Either no such conversation or one without members.
		var exists bool
		err := db.r.QueryRowContext(ctx, `SELECT EXISTS (SELECT 1 FROM conversations
			WHERE app_id = ? AND id = ?)`, appID, convID).Scan(&exists)
		if err != nil {
			return nil, internal(op, err)
		}
		if !exists {
			return nil, notFound(op, "conversation %q not found", convID)
		}
	}
	return ids, nil
}

// Messages returns a range of a conversation's messages in ascending Seq
// order. r.Limit <= 0 means 50; it is capped at 1000. A conversation that
// does not exist has no messages.
func (db *DB) Messages(ctx context.Context, appID, convID string, r parley.MessageRange) ([]parley.Message, error) {
	const op = "sqlite.Messages"
	before := uint64(math.MaxInt64)
	if r.Before != 0 && r.Before < before {
		before = r.Before
	}
	after := min(r.After, uint64(math.MaxInt64))
	order := "ASC"
	if r.Newest {
		order = "DESC"
	}
	// Prepared once per order (readStmt): history, pulls and the event
	// relay call this for every conversation they read.
	st, err := db.readStmt(ctx, `SELECT seq, id, sender, client_msg_id, kind, body, ts, variants
		FROM messages WHERE app_id = ? AND conv_id = ? AND seq > ? AND seq < ?
		ORDER BY seq `+order+` LIMIT ?`)
	if err != nil {
		return nil, internal(op, err)
	}
	rows, err := st.QueryContext(ctx, appID, convID, int64(after), int64(before), limit(r.Limit))
	if err != nil {
		return nil, internal(op, err)
	}
	defer rows.Close()
	var msgs []parley.Message
	for rows.Next() {
		m := parley.Message{AppID: appID, ConvID: convID}
		if err := scanMessage(rows, &m); err != nil {
			return nil, internal(op, err)
		}
		msgs = append(msgs, m)
	}
	if err := rows.Err(); err != nil {
		return nil, internal(op, err)
	}
	if r.Newest {
		slices.Reverse(msgs)
	}
	return msgs, nil
}

// scanMessage reads seq, id, sender, client_msg_id, kind, body, ts,
// variants.
func scanMessage(row interface{ Scan(...any) error }, m *parley.Message) error {
	var kind, body string
	var variants sql.NullString
	if err := row.Scan(&m.Seq, &m.ID, &m.Sender, &m.ClientMsgID, &kind, &body, &m.Time, &variants); err != nil {
		return err
	}
	m.Kind, m.Body = parley.Kind(kind), []byte(body)
	return setVariants(m, variants)
}

package sqlite

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"

	"github.com/parley-im/parley"
)

// maxMembersPage caps GroupMembers: large enough that a node loads a
// group of 10,000 in a few pages.
const maxMembersPage = 5000

const groupColumns = `g.id, g.name, g.avatar, g.notice, g.ext, g.owner, g.mute_all, g.max_members,
	g.members, g.dissolved, g.created_at, g.updated_at`

func scanGroup(row interface{ Scan(...any) error }, appID string, g *parley.Group, extra ...any) error {
	var ext string
	dst := append([]any{&g.ID, &g.Name, &g.Avatar, &g.Notice, &ext, &g.Owner, &g.MuteAll, &g.MaxMembers,
		&g.Members, &g.Dissolved, &g.CreatedAt, &g.UpdatedAt}, extra...)
	if err := row.Scan(dst...); err != nil {
		return err
	}
	g.AppID, g.Conv = appID, parley.GroupConvID(g.ID)
	if ext != "" {
		g.Ext = json.RawMessage(ext)
	}
	return nil
}

// CreateGroup creates the group, its conversation, its members and its
// first message in one transaction (see parley.GroupStore).
func (db *DB) CreateGroup(ctx context.Context, g *parley.Group, members []string, msg *parley.Message) error {
	const op = "sqlite.CreateGroup"
	conv := parley.GroupConvID(g.ID)
	all := make([]string, 0, len(members)+1)
	all = append(all, g.Owner)
	seen := map[string]bool{g.Owner: true}
	for _, u := range members {
		if !seen[u] {
			seen[u] = true
			all = append(all, u)
		}
	}
	if len(all) > g.MaxMembers {
		return &parley.Error{Code: parley.EConflict, Op: op, Message: "more members than the group's limit"}
	}
	tx, err := db.w.BeginTx(ctx, nil)
	if err != nil {
		return internal(op, err)
	}
	defer rollback(tx)
	res, err := tx.ExecContext(ctx, `INSERT INTO conversations (app_id, id, kind, last_seq, created_at)
		VALUES (?, ?, 'group', 0, ?) ON CONFLICT (app_id, id) DO NOTHING`, g.AppID, conv, msg.Time)
	if err != nil {
		return internal(op, err)
	}
	if n, err := res.RowsAffected(); err != nil {
		return internal(op, err)
	} else if n == 0 {
		return &parley.Error{Code: parley.EConflict, Op: op, Message: "group " + g.ID + " exists"}
	}
	var vc verCounter
	ver, err := vc.next(ctx, tx)
	if err != nil {
		return internal(op, err)
	}
	ext := ""
	if len(g.Ext) > 0 {
		ext = string(g.Ext)
	}
	_, err = tx.ExecContext(ctx, `INSERT INTO groups (app_id, id, name, avatar, notice, ext, owner, mute_all,
		max_members, members, dissolved, created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, 0, ?, ?)`,
		g.AppID, g.ID, g.Name, g.Avatar, g.Notice, ext, g.Owner, g.MuteAll, g.MaxMembers, len(all), msg.Time, msg.Time)
	if err != nil {
		return internal(op, err)
	}
	rows := make([][2]string, len(all))
	for i, u := range all {
		rows[i] = [2]string{u, string(parley.GroupRoleMember)}
	}
	rows[0][1] = string(parley.GroupRoleOwner)
	js, err := json.Marshal(rows)
	if err != nil {
		return internal(op, err)
	}
	_, err = tx.ExecContext(ctx, `INSERT INTO members (app_id, conv_id, user_id, read_seq, ver, joined_at, role)
		SELECT ?, ?, j.value ->> 0, 0, ?, ?, j.value ->> 1 FROM json_each(?) AS j`,
		g.AppID, conv, ver, msg.Time, string(js))
	if err != nil {
		return internal(op, err)
	}
	if err := db.storeSystem(ctx, tx, g.AppID, conv, 1, ver, msg); err != nil {
		return internal(op, err)
	}
	if err := vc.save(ctx, tx); err != nil {
		return internal(op, err)
	}
	if err := tx.Commit(); err != nil {
		return internal(op, err)
	}
	msg.AppID, msg.ConvID, msg.Seq = g.AppID, conv, 1
	g.Conv, g.Members, g.CreatedAt, g.UpdatedAt = conv, len(all), msg.Time, msg.Time
	return nil
}

// storeSystem inserts msg as message seq of conv, moves the
// conversation's last_seq (which indexes it for search) and ver, and adds
// its outbox row.
func (db *DB) storeSystem(ctx context.Context, tx *sql.Tx, appID, conv string, seq, ver uint64, msg *parley.Message) error {
	_, err := tx.ExecContext(ctx, `INSERT INTO messages (app_id, conv_id, seq, id, sender, client_msg_id, kind, body, ts)
		VALUES (?, ?, ?, ?, ?, '', ?, ?, ?)`, appID, conv, seq, msg.ID, msg.Sender, string(msg.Kind), string(msg.Body), msg.Time)
	if err != nil {
		return err
	}
	_, err = tx.ExecContext(ctx, `UPDATE conversations SET last_seq = ?, ver = ? WHERE app_id = ? AND id = ?`,
		seq, ver, appID, conv)
	if err != nil {
		return err
	}
	return addOutbox(ctx, tx, nil, outboxMsgs, [][]any{{appID, conv, seq, seq}})
}

// Group returns a group. Returns ENotFound if there is none.
func (db *DB) Group(ctx context.Context, appID, groupID string) (*parley.Group, error) {
	const op = "sqlite.Group"
	var g parley.Group
	err := scanGroup(db.r.QueryRowContext(ctx, `SELECT `+groupColumns+` FROM groups g
		WHERE g.app_id = ? AND g.id = ?`, appID, groupID), appID, &g)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, notFound(op, "group %q not found", groupID)
	}
	if err != nil {
		return nil, internal(op, err)
	}
	return &g, nil
}

// GroupMembers returns a page of the group's current members in ascending
// user id order (limit <= 0 means 50; capped at 5000).
func (db *DB) GroupMembers(ctx context.Context, appID, groupID, after string, n int) ([]parley.GroupMember, error) {
	const op = "sqlite.GroupMembers"
	if n <= 0 {
		n = defaultLimit
	}
	rows, err := db.r.QueryContext(ctx, `SELECT user_id, role, muted_until, read_seq, joined_at FROM members
		WHERE app_id = ? AND conv_id = ? AND user_id > ? AND left_seq = 0 ORDER BY user_id LIMIT ?`,
		appID, parley.GroupConvID(groupID), after, min(n, maxMembersPage))
	if err != nil {
		return nil, internal(op, err)
	}
	defer rows.Close()
	var out []parley.GroupMember
	for rows.Next() {
		var m parley.GroupMember
		var role string
		if err := rows.Scan(&m.User, &role, &m.MutedUntil, &m.ReadSeq, &m.JoinedAt); err != nil {
			return nil, internal(op, err)
		}
		m.Role = parley.GroupRole(role)
		out = append(out, m)
	}
	if err := rows.Err(); err != nil {
		return nil, internal(op, err)
	}
	if len(out) == 0 {
		if _, err := db.Group(ctx, appID, groupID); err != nil {
			return nil, err
		}
	}
	return out, nil
}

// GroupMember returns one membership, a former one included (LeftSeq).
// Returns ENotFound if the group does not exist and EForbidden if the user
// never was a member.
func (db *DB) GroupMember(ctx context.Context, appID, groupID, userID string) (parley.GroupMember, error) {
	const op = "sqlite.GroupMember"
	var m parley.GroupMember
	var role sql.NullString
	var muted, read, joined, left sql.NullInt64
	var exists bool
	err := db.r.QueryRowContext(ctx, `SELECT EXISTS (SELECT 1 FROM groups WHERE app_id = ?1 AND id = ?2),
		m.role, m.muted_until, m.read_seq, m.joined_at, m.left_seq
		FROM (SELECT 1) LEFT JOIN members m ON m.app_id = ?1 AND m.conv_id = ?3 AND m.user_id = ?4`,
		appID, groupID, parley.GroupConvID(groupID), userID).Scan(&exists, &role, &muted, &read, &joined, &left)
	switch {
	case err != nil:
		return m, internal(op, err)
	case !exists:
		return m, notFound(op, "group %q not found", groupID)
	case !role.Valid:
		return m, forbidden(op, "not a member of group %q", groupID)
	}
	m = parley.GroupMember{User: userID, Role: parley.GroupRole(role.String), MutedUntil: muted.Int64,
		ReadSeq: uint64(read.Int64), JoinedAt: joined.Int64, LeftSeq: uint64(left.Int64)}
	return m, nil
}

// ChangeGroup applies a change and stores its system message in one
// transaction (see parley.GroupStore).
func (db *DB) ChangeGroup(ctx context.Context, c parley.GroupChange, msg *parley.Message) (bool, error) {
	const op = "sqlite.ChangeGroup"
	conv := parley.GroupConvID(c.GroupID)
	tx, err := db.w.BeginTx(ctx, nil)
	if err != nil {
		return false, internal(op, err)
	}
	defer rollback(tx)
	var g parley.Group
	var last uint64
	err = scanGroup(tx.QueryRowContext(ctx, `SELECT `+groupColumns+`, c.last_seq FROM groups g
		JOIN conversations c ON c.app_id = g.app_id AND c.id = ?3
		WHERE g.app_id = ?1 AND g.id = ?2`, c.AppID, c.GroupID, conv), c.AppID, &g, &last)
	if errors.Is(err, sql.ErrNoRows) {
		return false, notFound(op, "group %q not found", c.GroupID)
	}
	if err != nil {
		return false, internal(op, err)
	}
	roles, err := memberRoles(ctx, tx, c.AppID, conv, append([]string{c.Actor}, c.Users...))
	if err != nil {
		return false, internal(op, err)
	}
	affected, changed, err := c.Authorize(&g, roles[0], roles[1:])
	if err != nil || !changed {
		return false, err
	}
	var vc verCounter
	ver, err := vc.next(ctx, tx)
	if err != nil {
		return false, internal(op, err)
	}
	seq := last + 1
	if err := applyChange(ctx, tx, &c, &g, conv, affected, seq, last, ver); err != nil {
		return false, internal(op, err)
	}
	msg.Kind, msg.Body = parley.KindSystem, c.EventBody(affected)
	if err := db.storeSystem(ctx, tx, c.AppID, conv, seq, ver, msg); err != nil {
		return false, internal(op, err)
	}
	if err := vc.save(ctx, tx); err != nil {
		return false, internal(op, err)
	}
	if err := tx.Commit(); err != nil {
		return false, internal(op, err)
	}
	msg.AppID, msg.ConvID, msg.Seq = c.AppID, conv, seq
	return true, nil
}

// memberRoles returns the current role of each user ("" for non-members,
// former members and SystemUserID), in the order given.
func memberRoles(ctx context.Context, tx *sql.Tx, appID, conv string, users []string) ([]parley.GroupRole, error) {
	js, err := json.Marshal(users)
	if err != nil {
		return nil, err
	}
	// CROSS JOIN keeps json_each outside: one primary key lookup per
	// user, where the planner would otherwise walk the group's members
	// for each user (quadratic: seconds for 1,000 users into 10,000).
	rows, err := tx.QueryContext(ctx, `SELECT j.key, m.role FROM json_each(?1) AS j
		CROSS JOIN members m ON m.app_id = ?2 AND m.conv_id = ?3 AND m.user_id = j.value AND m.left_seq = 0`,
		string(js), appID, conv)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	out := make([]parley.GroupRole, len(users))
	for rows.Next() {
		var i int
		var role string
		if err := rows.Scan(&i, &role); err != nil {
			return nil, err
		}
		out[i] = parley.GroupRole(role)
	}
	return out, rows.Err()
}

// applyChange writes what an authorized change does to members and groups.
func applyChange(ctx context.Context, tx *sql.Tx, c *parley.GroupChange, g *parley.Group, conv string, affected []string, seq, last, ver uint64) error {
	exec := func(q string, args ...any) error {
		_, err := tx.ExecContext(ctx, q, args...)
		return err
	}
	setMember := func(set string, user string, args ...any) error {
		return exec(`UPDATE members SET `+set+`, ver = ? WHERE app_id = ? AND conv_id = ? AND user_id = ?`,
			append(args, ver, c.AppID, conv, user)...)
	}
	var err error
	switch c.Event {
	case parley.EventJoined:
		js, jerr := json.Marshal(affected)
		if jerr != nil {
			return jerr
		}
		// A former member who comes back keeps their row: role, mute and
		// left_seq reset, and the read cursor moves to before the join
		// (never back).
		err = exec(`INSERT INTO members (app_id, conv_id, user_id, read_seq, ver, joined_at, role)
			SELECT ?, ?, j.value, ?, ?, ?, 'member' FROM json_each(?) AS j WHERE true
			ON CONFLICT (app_id, conv_id, user_id) DO UPDATE SET role = 'member', muted_until = 0, left_seq = 0,
				read_seq = max(members.read_seq, excluded.read_seq), ver = excluded.ver, joined_at = excluded.joined_at`,
			c.AppID, conv, last, ver, c.Now, string(js))
		if err == nil {
			err = exec(`UPDATE groups SET members = members + ? WHERE app_id = ? AND id = ?`, len(affected), c.AppID, c.GroupID)
		}
	case parley.EventLeft, parley.EventRemoved:
		err = setMember(`left_seq = ?, role = '', muted_until = 0`, affected[0], seq)
		if err == nil {
			err = exec(`UPDATE groups SET members = members - 1 WHERE app_id = ? AND id = ?`, c.AppID, c.GroupID)
		}
	case parley.EventRole:
		err = setMember(`role = ?`, affected[0], string(c.Role))
	case parley.EventMuted:
		err = setMember(`muted_until = ?`, affected[0], c.MutedUntil)
	case parley.EventTransferred:
		err = setMember(`role = 'owner', muted_until = 0`, affected[0])
		if err == nil && g.Owner != affected[0] {
			err = setMember(`role = 'admin'`, g.Owner)
		}
		if err == nil {
			err = exec(`UPDATE groups SET owner = ? WHERE app_id = ? AND id = ?`, affected[0], c.AppID, c.GroupID)
		}
	case parley.EventMuteAll:
		err = exec(`UPDATE groups SET mute_all = ? WHERE app_id = ? AND id = ?`, c.MuteAll, c.AppID, c.GroupID)
	case parley.EventProfile:
		p := c.Profile
		ext := sql.NullString{String: string(p.Ext), Valid: len(p.Ext) > 0}
		err = exec(`UPDATE groups SET name = coalesce(?, name), avatar = coalesce(?, avatar),
			notice = coalesce(?, notice), ext = coalesce(?, ext) WHERE app_id = ? AND id = ?`,
			nullable(p.Name), nullable(p.Avatar), nullable(p.Notice), ext, c.AppID, c.GroupID)
	case parley.EventDissolved:
		err = exec(`UPDATE groups SET dissolved = 1 WHERE app_id = ? AND id = ?`, c.AppID, c.GroupID)
	}
	if err != nil {
		return err
	}
	return exec(`UPDATE groups SET updated_at = ? WHERE app_id = ? AND id = ?`, c.Now, c.AppID, c.GroupID)
}

func nullable(s *string) sql.NullString {
	if s == nil {
		return sql.NullString{}
	}
	return sql.NullString{String: *s, Valid: true}
}

// ReadReceipts counts the current members who have read up to seq and,
// for conversations of at most list members, names them.
func (db *DB) ReadReceipts(ctx context.Context, appID, convID string, seq uint64, list int) (int, int, []string, error) {
	const op = "sqlite.ReadReceipts"
	var exists bool
	var read, members int
	err := db.r.QueryRowContext(ctx, `SELECT EXISTS (SELECT 1 FROM conversations WHERE app_id = ?1 AND id = ?2),
		count(*), coalesce(sum(read_seq >= ?3), 0) FROM members WHERE app_id = ?1 AND conv_id = ?2 AND left_seq = 0`,
		appID, convID, int64(min(seq, 1<<62))).Scan(&exists, &members, &read)
	if err != nil {
		return 0, 0, nil, internal(op, err)
	}
	if !exists {
		return 0, 0, nil, notFound(op, "conversation %q not found", convID)
	}
	if members > list {
		return read, members, nil, nil
	}
	readers, err := db.queryStrings(ctx, `SELECT user_id FROM members WHERE app_id = ? AND conv_id = ?
		AND left_seq = 0 AND read_seq >= ? ORDER BY user_id`, appID, convID, int64(min(seq, 1<<62)))
	if err != nil {
		return 0, 0, nil, internal(op, err)
	}
	return read, members, readers, nil
}

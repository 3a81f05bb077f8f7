package postgres

import (
	"context"
	"encoding/json"
	"errors"

	"github.com/jackc/pgx/v5"

	"github.com/parley-im/parley"
	"github.com/parley-im/parley/internal/events"
)

// maxMembersPage caps GroupMembers: large enough that a node loads a
// group of 10,000 in a few pages.
const maxMembersPage = 5000

const groupColumns = `g.id, g.name, g.avatar, g.notice, g.ext, g.owner, g.mute_all, g.max_members,
	g.members, g.dissolved, g.created_at, g.updated_at`

func scanGroup(row pgx.Row, appID string, g *parley.Group, extra ...any) error {
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

// stampGroup is the last statement of CreateGroup and ChangeGroup: it
// takes one change version of app $1 and gives it to conversation $2 and
// to the members $3 (rows the transaction has already written, so it
// waits for no lock while it holds the counter).
const stampGroup = `WITH ` + bumpOne + `,
	c AS (UPDATE conversations SET ver = k.ver FROM k WHERE app_id = $1 AND id = $2)
	UPDATE members SET ver = k.ver FROM k WHERE app_id = $1 AND conv_id = $2 AND user_id = ANY($3)`

// CreateGroup creates the group, its conversation, its members and its
// first message in one transaction (see parley.GroupStore).
func (s *Store) CreateGroup(ctx context.Context, g *parley.Group, members []string, msg *parley.Message) error {
	const op = "postgres.CreateGroup"
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
		return conflict(op, "more members than the group's limit")
	}
	roles := make([]string, len(all))
	for i := range roles {
		roles[i] = string(parley.GroupRoleMember)
	}
	roles[0] = string(parley.GroupRoleOwner)
	ext := ""
	if len(g.Ext) > 0 {
		ext = string(g.Ext)
	}
	doc := searchDoc(msg.Kind, msg.Body)
	err := s.inTx(ctx, func(tx pgx.Tx) error {
		ct, err := tx.Exec(ctx, `INSERT INTO conversations (app_id, id, kind, last_seq, created_at)
			VALUES ($1, $2, 'group', 0, $3) ON CONFLICT (app_id, id) DO NOTHING`, g.AppID, conv, msg.Time)
		if err != nil {
			return err
		}
		if ct.RowsAffected() == 0 {
			return conflict(op, "group %s exists", g.ID)
		}
		b := &pgx.Batch{}
		b.Queue(`INSERT INTO groups (app_id, id, name, avatar, notice, ext, owner, mute_all,
			max_members, members, dissolved, created_at, updated_at)
			VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, false, $11, $11)`,
			g.AppID, g.ID, g.Name, g.Avatar, g.Notice, ext, g.Owner, g.MuteAll, g.MaxMembers, len(all), msg.Time)
		b.Queue(`INSERT INTO members (app_id, conv_id, user_id, read_seq, ver, joined_at, role)
			SELECT $1, $2, u, 0, 0, $3, r FROM unnest($4::text[], $5::text[]) AS x(u, r)`,
			g.AppID, conv, msg.Time, all, roles)
		queueSystem(b, g.AppID, conv, 1, msg, doc)
		b.Queue(stampGroup, g.AppID, conv, all)
		return tx.SendBatch(ctx, b).Close()
	})
	if err != nil {
		return internal(op, err)
	}
	msg.AppID, msg.ConvID, msg.Seq = g.AppID, conv, 1
	g.Conv, g.Members, g.CreatedAt, g.UpdatedAt = conv, len(all), msg.Time, msg.Time
	return nil
}

// queueSystem queues the statements that store msg as message seq of
// conv, index it for search, add its outbox row and move the
// conversation's last_seq.
func queueSystem(b *pgx.Batch, appID, conv string, seq uint64, msg *parley.Message, doc string) {
	b.Queue(`INSERT INTO messages (app_id, conv_id, seq, id, sender, client_msg_id, kind, body, ts)
		VALUES ($1, $2, $3, $4, $5, '', $6, $7, $8)`,
		appID, conv, int64(seq), msg.ID, msg.Sender, string(msg.Kind), string(msg.Body), msg.Time)
	b.Queue(`INSERT INTO message_search (app_id, conv_id, seq, doc) VALUES ($1, $2, $3, $4::tsvector)`,
		appID, conv, int64(seq), doc)
	b.Queue(outboxMsgs, outboxJSON([]events.MsgRange{{App: appID, Conv: conv, First: seq, Last: seq}}))
	b.Queue(`UPDATE conversations SET last_seq = $3 WHERE app_id = $1 AND id = $2`, appID, conv, int64(seq))
}

// Group returns a group. Returns ENotFound if there is none.
func (s *Store) Group(ctx context.Context, appID, groupID string) (*parley.Group, error) {
	const op = "postgres.Group"
	var g parley.Group
	err := scanGroup(s.w.QueryRow(ctx, `SELECT `+groupColumns+` FROM groups g
		WHERE g.app_id = $1 AND g.id = $2`, appID, groupID), appID, &g)
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, notFound(op, "group %q not found", groupID)
	}
	if err != nil {
		return nil, internal(op, err)
	}
	return &g, nil
}

// GroupMembers returns a page of the group's current members in ascending
// user id order (limit <= 0 means 50; capped at 5000).
func (s *Store) GroupMembers(ctx context.Context, appID, groupID, after string, n int) ([]parley.GroupMember, error) {
	const op = "postgres.GroupMembers"
	if n <= 0 {
		n = defaultLimit
	}
	rows, err := s.w.Query(ctx, `SELECT user_id, role, muted_until, read_seq, joined_at FROM members
		WHERE app_id = $1 AND conv_id = $2 AND user_id > $3 AND left_seq = 0 ORDER BY user_id LIMIT $4`,
		appID, parley.GroupConvID(groupID), after, min(n, maxMembersPage))
	if err != nil {
		return nil, internal(op, err)
	}
	out, err := pgx.CollectRows(rows, func(row pgx.CollectableRow) (parley.GroupMember, error) {
		var m parley.GroupMember
		var role string
		var read int64
		err := row.Scan(&m.User, &role, &m.MutedUntil, &read, &m.JoinedAt)
		m.Role, m.ReadSeq = parley.GroupRole(role), uint64(read)
		return m, err
	})
	if err != nil {
		return nil, internal(op, err)
	}
	if len(out) == 0 {
		if _, err := s.Group(ctx, appID, groupID); err != nil {
			return nil, err
		}
	}
	return out, nil
}

// GroupMember returns one membership, a former one included (LeftSeq).
// Returns ENotFound if the group does not exist and EForbidden if the user
// never was a member.
func (s *Store) GroupMember(ctx context.Context, appID, groupID, userID string) (parley.GroupMember, error) {
	const op = "postgres.GroupMember"
	var exists bool
	var role *string
	var muted, read, joined, left *int64
	err := s.w.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM groups WHERE app_id = $1 AND id = $2),
		m.role, m.muted_until, m.read_seq, m.joined_at, m.left_seq
		FROM (SELECT 1) AS one LEFT JOIN members m ON m.app_id = $1 AND m.conv_id = $3 AND m.user_id = $4`,
		appID, groupID, parley.GroupConvID(groupID), userID).Scan(&exists, &role, &muted, &read, &joined, &left)
	switch {
	case err != nil:
		return parley.GroupMember{}, internal(op, err)
	case !exists:
		return parley.GroupMember{}, notFound(op, "group %q not found", groupID)
	case role == nil:
		return parley.GroupMember{}, forbidden(op, "not a member of group %q", groupID)
	}
	return parley.GroupMember{User: userID, Role: parley.GroupRole(*role), MutedUntil: *muted,
		ReadSeq: uint64(*read), JoinedAt: *joined, LeftSeq: uint64(*left)}, nil
}

// ChangeGroup applies a change and stores its system message in one
// transaction (see parley.GroupStore). It locks the group's conversation
// row first, as Append does, so the change and the messages around it
// take gapless seqs in one order on any number of nodes, and the rules
// (Authorize) see the group as no concurrent change can alter it.
func (s *Store) ChangeGroup(ctx context.Context, c parley.GroupChange, msg *parley.Message) (bool, error) {
	const op = "postgres.ChangeGroup"
	conv := parley.GroupConvID(c.GroupID)
	var changed bool
	var seq uint64
	err := s.inTx(ctx, func(tx pgx.Tx) error {
		var g parley.Group
		var last int64
		err := scanGroup(tx.QueryRow(ctx, `SELECT `+groupColumns+`, c.last_seq FROM groups g
			JOIN conversations c ON c.app_id = g.app_id AND c.id = $3
			WHERE g.app_id = $1 AND g.id = $2 FOR NO KEY UPDATE OF c, g`, c.AppID, c.GroupID, conv), c.AppID, &g, &last)
		if errors.Is(err, pgx.ErrNoRows) {
			return notFound(op, "group %q not found", c.GroupID)
		}
		if err != nil {
			return err
		}
		roles, err := memberRoles(ctx, tx, c.AppID, conv, append([]string{c.Actor}, c.Users...))
		if err != nil {
			return err
		}
		affected, ok, err := c.Authorize(&g, roles[0], roles[1:])
		if err != nil || !ok {
			changed = false
			return err
		}
		changed, seq = true, uint64(last)+1
		msg.Kind, msg.Body = parley.KindSystem, c.EventBody(affected)
		b := &pgx.Batch{}
		stamped := queueChange(b, &c, &g, conv, affected, seq, uint64(last))
		queueSystem(b, c.AppID, conv, seq, msg, searchDoc(msg.Kind, msg.Body))
		b.Queue(stampGroup, c.AppID, conv, stamped)
		return tx.SendBatch(ctx, b).Close()
	})
	if err != nil {
		return false, internal(op, err)
	}
	if changed {
		msg.AppID, msg.ConvID, msg.Seq = c.AppID, conv, seq
	}
	return changed, nil
}

// memberRoles returns the current role of each user ("" for non-members,
// former members and SystemUserID), in the order given.
func memberRoles(ctx context.Context, tx pgx.Tx, appID, conv string, users []string) ([]parley.GroupRole, error) {
	rows, err := tx.Query(ctx, `SELECT x.i, m.role FROM unnest($3::text[]) WITH ORDINALITY AS x(u, i)
		JOIN members m ON m.app_id = $1 AND m.conv_id = $2 AND m.user_id = x.u AND m.left_seq = 0`,
		appID, conv, users)
	if err != nil {
		return nil, err
	}
	out := make([]parley.GroupRole, len(users))
	for rows.Next() {
		var i int64
		var role string
		if err := rows.Scan(&i, &role); err != nil {
			rows.Close()
			return nil, err
		}
		out[i-1] = parley.GroupRole(role)
	}
	rows.Close()
	return out, rows.Err()
}

// queueChange queues the writes of an authorized change to members and
// groups and returns the members whose rows it wrote (stampGroup gives
// them the change's version).
func queueChange(b *pgx.Batch, c *parley.GroupChange, g *parley.Group, conv string, affected []string, seq, last uint64) []string {
	setMember := func(set string, user string, args ...any) {
		b.Queue(`UPDATE members SET `+set+` WHERE app_id = $1 AND conv_id = $2 AND user_id = $3`,
			append([]any{c.AppID, conv, user}, args...)...)
	}
	setGroup := func(set string, args ...any) {
		b.Queue(`UPDATE groups SET `+set+` WHERE app_id = $1 AND id = $2`, append([]any{c.AppID, c.GroupID}, args...)...)
	}
	stamped := affected
	switch c.Event {
	case parley.EventJoined:
		// A former member who comes back keeps their row: role, mute and
		// left_seq reset, and the read cursor moves to before the join
		// (never back).
		b.Queue(`INSERT INTO members AS m (app_id, conv_id, user_id, read_seq, ver, joined_at, role)
			SELECT $1, $2, u, $3, 0, $4, 'member' FROM unnest($5::text[]) AS x(u)
			ON CONFLICT (app_id, conv_id, user_id) DO UPDATE SET role = 'member', muted_until = 0, left_seq = 0,
				read_seq = GREATEST(m.read_seq, excluded.read_seq), joined_at = excluded.joined_at`,
			c.AppID, conv, int64(last), c.Now, affected)
		setGroup(`members = members + $3`, len(affected))
	case parley.EventLeft, parley.EventRemoved:
		setMember(`left_seq = $4, role = '', muted_until = 0`, affected[0], int64(seq))
		setGroup(`members = members - 1`)
	case parley.EventRole:
		setMember(`role = $4`, affected[0], string(c.Role))
	case parley.EventMuted:
		setMember(`muted_until = $4`, affected[0], c.MutedUntil)
	case parley.EventTransferred:
		setMember(`role = 'owner', muted_until = 0`, affected[0])
		if g.Owner != affected[0] {
			setMember(`role = 'admin'`, g.Owner)
			stamped = []string{affected[0], g.Owner}
		}
		setGroup(`owner = $3`, affected[0])
	case parley.EventMuteAll:
		setGroup(`mute_all = $3`, c.MuteAll)
	case parley.EventProfile:
		p := c.Profile
		var ext *string
		if len(p.Ext) > 0 {
			e := string(p.Ext)
			ext = &e
		}
		setGroup(`name = COALESCE($3, name), avatar = COALESCE($4, avatar),
			notice = COALESCE($5, notice), ext = COALESCE($6, ext)`, p.Name, p.Avatar, p.Notice, ext)
	case parley.EventDissolved:
		setGroup(`dissolved = true`)
	}
	setGroup(`updated_at = $3`, c.Now)
	return stamped
}

// ReadReceipts counts the current members who have read up to seq and,
// for conversations of at most list members, names them.
func (s *Store) ReadReceipts(ctx context.Context, appID, convID string, seq uint64, list int) (int, int, []string, error) {
	const op = "postgres.ReadReceipts"
	var exists bool
	var read, members int
	err := s.w.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM conversations WHERE app_id = $1 AND id = $2),
		count(*), count(*) FILTER (WHERE read_seq >= $3) FROM members WHERE app_id = $1 AND conv_id = $2 AND left_seq = 0`,
		appID, convID, clamp(seq)).Scan(&exists, &members, &read)
	if err != nil {
		return 0, 0, nil, internal(op, err)
	}
	if !exists {
		return 0, 0, nil, notFound(op, "conversation %q not found", convID)
	}
	if members > list {
		return read, members, nil, nil
	}
	readers, err := queryStrings(ctx, s.w, `SELECT user_id FROM members WHERE app_id = $1 AND conv_id = $2
		AND left_seq = 0 AND read_seq >= $3 ORDER BY user_id`, appID, convID, clamp(seq))
	if err != nil {
		return 0, 0, nil, internal(op, err)
	}
	return read, members, readers, nil
}

package sqlite

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"strings"

	"github.com/parley-im/parley"
	"github.com/parley-im/parley/internal/consult"
)

// The consult store (consult.Store): shops, queues and agents as rows,
// consultations and their event log (migration 00008), and the thread
// conversations' membership, which Open and Transition change in the
// transactions that decide it. Every write is one transaction on the
// single writer connection; the checks that matter under concurrency
// (one open consultation per thread, an agent's capacity, a
// consultation's current state) are conditions of the statements that
// write, so they hold on a database shared by several nodes as well.

var _ consult.Store = (*DB)(nil)

func conflict(op, format string, args ...any) error {
	return &parley.Error{Code: parley.EConflict, Op: op, Message: fmt.Sprintf(format, args...)}
}

// PutShop creates or replaces a shop's settings.
func (db *DB) PutShop(ctx context.Context, s *parley.Shop) error {
	const op = "sqlite.PutShop"
	js, err := json.Marshal(s)
	if err != nil {
		return internal(op, err)
	}
	_, err = db.w.ExecContext(ctx, `INSERT INTO consult_shops (app_id, id, settings) VALUES (?, ?, ?)
		ON CONFLICT (app_id, id) DO UPDATE SET settings = excluded.settings`, s.AppID, s.ID, string(js))
	if err != nil {
		return internal(op, err)
	}
	return nil
}

// Shop returns a shop. ENotFound if there is none.
func (db *DB) Shop(ctx context.Context, appID, id string) (*parley.Shop, error) {
	const op = "sqlite.Shop"
	var js string
	err := db.r.QueryRowContext(ctx, `SELECT settings FROM consult_shops WHERE app_id = ? AND id = ?`, appID, id).Scan(&js)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, notFound(op, "shop %q not found", id)
	}
	if err != nil {
		return nil, internal(op, err)
	}
	var s parley.Shop
	if err := json.Unmarshal([]byte(js), &s); err != nil {
		return nil, internal(op, err)
	}
	s.AppID = appID
	return &s, nil
}

// PutQueue creates or replaces a queue, keeping its cursor. ENotFound if
// its shop does not exist.
func (db *DB) PutQueue(ctx context.Context, q *parley.ConsultQueue) error {
	const op = "sqlite.PutQueue"
	res, err := db.w.ExecContext(ctx, `INSERT INTO consult_queues (app_id, id, shop, strategy, team, hook)
		SELECT ?1, ?2, ?3, ?4, ?5, ?6 WHERE EXISTS (SELECT 1 FROM consult_shops WHERE app_id = ?1 AND id = ?3)
		ON CONFLICT (app_id, id) DO UPDATE SET shop = excluded.shop, strategy = excluded.strategy,
			team = excluded.team, hook = excluded.hook`,
		q.AppID, q.ID, q.Shop, string(q.Strategy), q.Team, q.Hook)
	if err != nil {
		return internal(op, err)
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return notFound(op, "shop %q not found", q.Shop)
	}
	return nil
}

const queueCols = `id, shop, strategy, team, hook, cursor`

func scanQueue(row interface{ Scan(...any) error }, appID string) (parley.ConsultQueue, error) {
	q := parley.ConsultQueue{AppID: appID}
	var strategy string
	err := row.Scan(&q.ID, &q.Shop, &strategy, &q.Team, &q.Hook, &q.Cursor)
	q.Strategy = parley.AssignStrategy(strategy)
	return q, err
}

// Queue returns a queue. ENotFound if there is none.
func (db *DB) Queue(ctx context.Context, appID, id string) (*parley.ConsultQueue, error) {
	const op = "sqlite.Queue"
	q, err := scanQueue(db.r.QueryRowContext(ctx, `SELECT `+queueCols+` FROM consult_queues
		WHERE app_id = ? AND id = ?`, appID, id), appID)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, notFound(op, "queue %q not found", id)
	}
	if err != nil {
		return nil, internal(op, err)
	}
	return &q, nil
}

// Queues returns the queues of a shop ("" every shop), by id.
func (db *DB) Queues(ctx context.Context, appID, shop string) ([]parley.ConsultQueue, error) {
	const op = "sqlite.Queues"
	rows, err := db.r.QueryContext(ctx, `SELECT `+queueCols+` FROM consult_queues
		WHERE app_id = ?1 AND (?2 = '' OR shop = ?2) ORDER BY id`, appID, shop)
	if err != nil {
		return nil, internal(op, err)
	}
	defer rows.Close()
	var out []parley.ConsultQueue
	for rows.Next() {
		q, err := scanQueue(rows, appID)
		if err != nil {
			return nil, internal(op, err)
		}
		out = append(out, q)
	}
	if err := rows.Err(); err != nil {
		return nil, internal(op, err)
	}
	return out, nil
}

const agentCols = `id, shop, name, teams, weight, max_load, supervisor, status, load`

func scanAgent(row interface{ Scan(...any) error }, appID string) (parley.Agent, error) {
	a := parley.Agent{AppID: appID}
	var teams, status string
	if err := row.Scan(&a.ID, &a.Shop, &a.Name, &teams, &a.Weight, &a.MaxLoad, &a.Supervisor, &status, &a.Load); err != nil {
		return a, err
	}
	a.Status = parley.AgentStatus(status)
	return a, json.Unmarshal([]byte(teams), &a.Teams)
}

// PutAgent creates or updates an agent's profile; an existing agent keeps
// its status and load. ENotFound if the shop or the user does not exist.
func (db *DB) PutAgent(ctx context.Context, a *parley.Agent) error {
	const op = "sqlite.PutAgent"
	teams, err := json.Marshal(a.Teams)
	if err != nil {
		return internal(op, err)
	}
	if a.Teams == nil {
		teams = []byte("[]")
	}
	tx, err := db.w.BeginTx(ctx, nil)
	if err != nil {
		return internal(op, err)
	}
	defer rollback(tx)
	var shop, user bool
	err = tx.QueryRowContext(ctx, `SELECT EXISTS (SELECT 1 FROM consult_shops WHERE app_id = ?1 AND id = ?2),
		EXISTS (SELECT 1 FROM users WHERE app_id = ?1 AND id = ?3)`, a.AppID, a.Shop, a.ID).Scan(&shop, &user)
	switch {
	case err != nil:
		return internal(op, err)
	case !shop:
		return notFound(op, "shop %q not found", a.Shop)
	case !user:
		return notFound(op, "user %q not found", a.ID)
	}
	_, err = tx.ExecContext(ctx, `INSERT INTO consult_agents (app_id, id, shop, name, teams, weight, max_load, supervisor, status)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)
		ON CONFLICT (app_id, id) DO UPDATE SET shop = excluded.shop, name = excluded.name, teams = excluded.teams,
			weight = excluded.weight, max_load = excluded.max_load, supervisor = excluded.supervisor`,
		a.AppID, a.ID, a.Shop, a.Name, string(teams), a.Weight, a.MaxLoad, a.Supervisor, string(a.Status))
	if err != nil {
		return internal(op, err)
	}
	stored, err := scanAgent(tx.QueryRowContext(ctx, `SELECT `+agentCols+` FROM consult_agents
		WHERE app_id = ? AND id = ?`, a.AppID, a.ID), a.AppID)
	if err != nil {
		return internal(op, err)
	}
	if err := tx.Commit(); err != nil {
		return internal(op, err)
	}
	*a = stored
	return nil
}

// Agent returns an agent. ENotFound if there is none.
func (db *DB) Agent(ctx context.Context, appID, id string) (*parley.Agent, error) {
	const op = "sqlite.Agent"
	st, err := db.readStmt(ctx, `SELECT `+agentCols+` FROM consult_agents WHERE app_id = ? AND id = ?`)
	if err != nil {
		return nil, internal(op, err)
	}
	a, err := scanAgent(st.QueryRowContext(ctx, appID, id), appID)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, notFound(op, "agent %q not found", id)
	}
	if err != nil {
		return nil, internal(op, err)
	}
	return &a, nil
}

// Agents returns the agents of a shop ("" every shop), by id.
func (db *DB) Agents(ctx context.Context, appID, shop string) ([]parley.Agent, error) {
	const op = "sqlite.Agents"
	rows, err := db.r.QueryContext(ctx, `SELECT `+agentCols+` FROM consult_agents
		WHERE app_id = ?1 AND (?2 = '' OR shop = ?2) ORDER BY id`, appID, shop)
	if err != nil {
		return nil, internal(op, err)
	}
	defer rows.Close()
	var out []parley.Agent
	for rows.Next() {
		a, err := scanAgent(rows, appID)
		if err != nil {
			return nil, internal(op, err)
		}
		out = append(out, a)
	}
	if err := rows.Err(); err != nil {
		return nil, internal(op, err)
	}
	return out, nil
}

// SetAgentStatus sets an agent's status. ENotFound if there is no such
// agent.
func (db *DB) SetAgentStatus(ctx context.Context, appID, id string, st parley.AgentStatus) (*parley.Agent, error) {
	const op = "sqlite.SetAgentStatus"
	res, err := db.w.ExecContext(ctx, `UPDATE consult_agents SET status = ? WHERE app_id = ? AND id = ?`, string(st), appID, id)
	if err != nil {
		return nil, internal(op, err)
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return nil, notFound(op, "agent %q not found", id)
	}
	return db.Agent(ctx, appID, id)
}

const consultCols = `app_id, id, shop, user_id, conv, queue, team, state, agent, entry, context, opened_at,
	pending_at, assigned_at, first_reply_at, resolved_at, resolved_by, resolve_due, rating, comment`

func scanConsult(row interface{ Scan(...any) error }) (parley.Consultation, error) {
	var c parley.Consultation
	var state, ctxJSON string
	err := row.Scan(&c.AppID, &c.ID, &c.Shop, &c.User, &c.Conv, &c.Queue, &c.Team, &state, &c.Agent, &c.Entry, &ctxJSON,
		&c.OpenedAt, &c.PendingAt, &c.AssignedAt, &c.FirstReplyAt, &c.ResolvedAt, &c.ResolvedBy, &c.ResolveDue,
		&c.Rating, &c.Comment)
	c.State = parley.ConsultState(state)
	if ctxJSON != "" {
		c.Context = json.RawMessage(ctxJSON)
	}
	return c, err
}

func queryConsults(ctx context.Context, q interface {
	QueryContext(context.Context, string, ...any) (*sql.Rows, error)
}, query string, args ...any) ([]parley.Consultation, error) {
	rows, err := q.QueryContext(ctx, query, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []parley.Consultation
	for rows.Next() {
		c, err := scanConsult(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, c)
	}
	return out, rows.Err()
}

// Open makes sure the thread exists with its user as a member and opens a
// consultation in it unless one is open (see consult.Store).
func (db *DB) Open(ctx context.Context, c *parley.Consultation) (bool, error) {
	const op = "sqlite.Open"
	tx, err := db.w.BeginTx(ctx, nil)
	if err != nil {
		return false, internal(op, err)
	}
	defer rollback(tx)
	var vc verCounter
	res, err := tx.ExecContext(ctx, `INSERT INTO conversations (app_id, id, kind, last_seq, created_at)
		VALUES (?, ?, ?, 0, ?) ON CONFLICT (app_id, id) DO NOTHING`, c.AppID, c.Conv, string(parley.ConvConsult), c.OpenedAt)
	if err != nil {
		return false, internal(op, err)
	}
	if n, _ := res.RowsAffected(); n > 0 {
		if err := addMember(ctx, tx, &vc, c.AppID, c.Conv, c.User, c.OpenedAt); err != nil {
			return false, internal(op, err)
		}
	}
	open, err := queryConsults(ctx, tx, `SELECT `+consultCols+` FROM consultations
		WHERE app_id = ? AND conv = ? AND state <> 'resolved'`, c.AppID, c.Conv)
	if err != nil {
		return false, internal(op, err)
	}
	created := len(open) == 0
	if !created {
		*c = open[0]
	} else {
		_, err = tx.ExecContext(ctx, `INSERT INTO consultations (`+consultCols+`)
			VALUES (?, ?, ?, ?, ?, ?, ?, ?, '', ?, ?, ?, ?, 0, 0, 0, '', 0, 0, '')`,
			c.AppID, c.ID, c.Shop, c.User, c.Conv, c.Queue, c.Team, string(c.State), c.Entry, string(c.Context),
			c.OpenedAt, c.PendingAt)
		if err == nil {
			err = insertEvent(ctx, tx, c, consult.EvOpened, c.OpenedAt, "", 0, 0, c.Entry)
		}
		if err == nil && c.State == parley.ConsultPending {
			err = insertEvent(ctx, tx, c, consult.EvPending, c.PendingAt, "", 0, 0, "")
		}
		if err != nil {
			return false, internal(op, err)
		}
	}
	if err := vc.save(ctx, tx); err != nil {
		return false, internal(op, err)
	}
	if err := tx.Commit(); err != nil {
		return false, internal(op, err)
	}
	return created, nil
}

// addMember makes user a member of a consult thread with its read cursor
// at the thread's last seq and a new change version (so the thread shows
// in the user's sync).
func addMember(ctx context.Context, tx *sql.Tx, vc *verCounter, appID, conv, user string, now int64) error {
	ver, err := vc.next(ctx, tx)
	if err != nil {
		return err
	}
	_, err = tx.ExecContext(ctx, `INSERT INTO members (app_id, conv_id, user_id, read_seq, ver, joined_at, role)
		SELECT ?1, ?2, ?3, last_seq, ?4, ?5, '' FROM conversations WHERE app_id = ?1 AND id = ?2
		ON CONFLICT (app_id, conv_id, user_id) DO UPDATE SET ver = excluded.ver`, appID, conv, user, ver, now)
	return err
}

// insertEvent writes one event of c. The team is the consultation's, or
// else its queue's.
func insertEvent(ctx context.Context, tx *sql.Tx, c *parley.Consultation, kind consult.EventKind, at int64, agent string, load, value int, note string) error {
	_, err := tx.ExecContext(ctx, `INSERT INTO consult_events
		(app_id, consult_id, kind, at, shop, queue, team, agent, user_id, load, value, note)
		VALUES (?1, ?2, ?3, ?4, ?5, ?6,
			CASE WHEN ?7 <> '' THEN ?7 ELSE COALESCE((SELECT team FROM consult_queues WHERE app_id = ?1 AND id = ?6), '') END,
			?8, ?9, ?10, ?11, ?12)`,
		c.AppID, c.ID, string(kind), at, c.Shop, c.Queue, c.Team, agent, c.User, load, value, note)
	return err
}

// Consult returns a consultation. ENotFound if there is none.
func (db *DB) Consult(ctx context.Context, appID, id string) (*parley.Consultation, error) {
	return db.oneConsult(ctx, db.r, "sqlite.Consult", `SELECT `+consultCols+` FROM consultations
		WHERE app_id = ? AND id = ?`, appID, id)
}

// Current returns the thread's open consultation, or else its latest one.
func (db *DB) Current(ctx context.Context, appID, conv string) (*parley.Consultation, error) {
	return db.oneConsult(ctx, db.r, "sqlite.Current", `SELECT `+consultCols+` FROM consultations
		WHERE app_id = ? AND conv = ? ORDER BY state <> 'resolved' DESC, opened_at DESC, id DESC LIMIT 1`, appID, conv)
}

func (db *DB) oneConsult(ctx context.Context, q interface {
	QueryContext(context.Context, string, ...any) (*sql.Rows, error)
}, op, query string, args ...any) (*parley.Consultation, error) {
	cs, err := queryConsults(ctx, q, query, args...)
	if err != nil {
		return nil, internal(op, err)
	}
	if len(cs) == 0 {
		return nil, notFound(op, "consultation not found")
	}
	return &cs[0], nil
}

// Consults returns the consultations f selects, oldest opened first.
func (db *DB) Consults(ctx context.Context, appID string, f consult.Filter) ([]parley.Consultation, error) {
	const op = "sqlite.Consults"
	var where strings.Builder
	args := []any{appID}
	where.WriteString(`app_id = ?`)
	for _, c := range []struct{ col, v string }{{"shop", f.Shop}, {"user_id", f.User}, {"agent", f.Agent}} {
		if c.v != "" {
			where.WriteString(` AND ` + c.col + ` = ?`)
			args = append(args, c.v)
		}
	}
	if len(f.States) > 0 {
		where.WriteString(` AND state IN (?` + strings.Repeat(`, ?`, len(f.States)-1) + `)`)
		for _, s := range f.States {
			args = append(args, string(s))
		}
	}
	n := f.Limit
	if n <= 0 || n > parley.MaxConsultsListed {
		n = parley.MaxConsultsListed
	}
	args = append(args, n)
	cs, err := queryConsults(ctx, db.r, `SELECT `+consultCols+` FROM consultations WHERE `+where.String()+`
		ORDER BY opened_at, id LIMIT ?`, args...)
	if err != nil {
		return nil, internal(op, err)
	}
	return cs, nil
}

// Waiting returns a queue's pending consultations in serving order.
func (db *DB) Waiting(ctx context.Context, appID, queue string, n int) ([]parley.Consultation, error) {
	cs, err := queryConsults(ctx, db.r, `SELECT `+consultCols+` FROM consultations
		WHERE app_id = ? AND queue = ? AND state = 'pending' ORDER BY pending_at, id LIMIT ?`, appID, queue, limit(n))
	if err != nil {
		return nil, internal("sqlite.Waiting", err)
	}
	return cs, nil
}

// DueForResolve returns assigned consultations whose ResolveDue has come.
func (db *DB) DueForResolve(ctx context.Context, now int64, n int) ([]parley.Consultation, error) {
	cs, err := queryConsults(ctx, db.r, `SELECT `+consultCols+` FROM consultations
		WHERE resolve_due > 0 AND resolve_due <= ? AND state = 'assigned' ORDER BY resolve_due LIMIT ?`, now, limit(n))
	if err != nil {
		return nil, internal("sqlite.DueForResolve", err)
	}
	return cs, nil
}

// LastAgent returns the agent of the user's latest consultation of shop
// that had one, other than exclude.
func (db *DB) LastAgent(ctx context.Context, appID, shop, user, exclude string) (string, error) {
	ids, err := db.queryStrings(ctx, `SELECT agent FROM consultations
		WHERE app_id = ? AND conv = ? AND id <> ? AND agent <> '' ORDER BY assigned_at DESC, id DESC LIMIT 1`,
		appID, parley.ConsultConvID(shop, user), exclude)
	if err != nil {
		return "", internal("sqlite.LastAgent", err)
	}
	if len(ids) == 0 {
		return "", nil
	}
	return ids[0], nil
}

// Watchers returns the agents serving the user now and those of the
// user's recent latest resolved consultations.
func (db *DB) Watchers(ctx context.Context, appID, user string, recent int) ([]string, error) {
	ids, err := db.queryStrings(ctx, `SELECT agent FROM consultations
			WHERE app_id = ?1 AND user_id = ?2 AND state = 'assigned'
		UNION
		SELECT agent FROM (SELECT agent FROM consultations
			WHERE app_id = ?1 AND user_id = ?2 AND state = 'resolved' AND agent <> ''
			ORDER BY resolved_at DESC LIMIT ?3)`, appID, user, recent)
	if err != nil {
		return nil, internal("sqlite.Watchers", err)
	}
	return ids, nil
}

package postgres

import (
	"context"
	"encoding/json"
	"errors"

	"github.com/jackc/pgx/v5"

	"github.com/parley-im/parley"
	"github.com/parley-im/parley/internal/consult"
)

// The consult store (consult.Store): shops, queues and agents as rows,
// consultations and their event log (migration 00003), and the thread
// conversations' membership, which Open and Transition change in the
// transactions that decide it. The checks that matter under concurrency
// (one open consultation per thread, an agent's capacity, a
// consultation's current state) hold on any number of nodes: the thread's
// conversation row is locked first, the agents' rows next, and the
// statements that write are conditional.

var _ consult.Store = (*Store)(nil)

// PutShop creates or replaces a shop's settings.
func (s *Store) PutShop(ctx context.Context, sh *parley.Shop) error {
	const op = "postgres.PutShop"
	js, err := json.Marshal(sh)
	if err != nil {
		return internal(op, err)
	}
	_, err = s.w.Exec(ctx, `INSERT INTO consult_shops (app_id, id, settings) VALUES ($1, $2, $3)
		ON CONFLICT (app_id, id) DO UPDATE SET settings = excluded.settings`, sh.AppID, sh.ID, string(js))
	if err != nil {
		return internal(op, err)
	}
	return nil
}

// Shop returns a shop. ENotFound if there is none.
func (s *Store) Shop(ctx context.Context, appID, id string) (*parley.Shop, error) {
	const op = "postgres.Shop"
	var js string
	err := s.w.QueryRow(ctx, `SELECT settings FROM consult_shops WHERE app_id = $1 AND id = $2`, appID, id).Scan(&js)
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, notFound(op, "shop %q not found", id)
	}
	if err != nil {
		return nil, internal(op, err)
	}
	var sh parley.Shop
	if err := json.Unmarshal([]byte(js), &sh); err != nil {
		return nil, internal(op, err)
	}
	sh.AppID = appID
	return &sh, nil
}

// PutQueue creates or replaces a queue, keeping its cursor. ENotFound if
// its shop does not exist.
func (s *Store) PutQueue(ctx context.Context, q *parley.ConsultQueue) error {
	const op = "postgres.PutQueue"
	ct, err := s.w.Exec(ctx, `INSERT INTO consult_queues (app_id, id, shop, strategy, team, hook)
		SELECT $1, $2, $3, $4, $5, $6 WHERE EXISTS (SELECT 1 FROM consult_shops WHERE app_id = $1 AND id = $3)
		ON CONFLICT (app_id, id) DO UPDATE SET shop = excluded.shop, strategy = excluded.strategy,
			team = excluded.team, hook = excluded.hook`,
		q.AppID, q.ID, q.Shop, string(q.Strategy), q.Team, q.Hook)
	if err != nil {
		return internal(op, err)
	}
	if ct.RowsAffected() == 0 {
		return notFound(op, "shop %q not found", q.Shop)
	}
	return nil
}

const queueCols = `id, shop, strategy, team, hook, cursor`

func scanQueue(row pgx.Row, appID string) (parley.ConsultQueue, error) {
	q := parley.ConsultQueue{AppID: appID}
	var strategy string
	err := row.Scan(&q.ID, &q.Shop, &strategy, &q.Team, &q.Hook, &q.Cursor)
	q.Strategy = parley.AssignStrategy(strategy)
	return q, err
}

// Queue returns a queue. ENotFound if there is none.
func (s *Store) Queue(ctx context.Context, appID, id string) (*parley.ConsultQueue, error) {
	const op = "postgres.Queue"
	q, err := scanQueue(s.w.QueryRow(ctx, `SELECT `+queueCols+` FROM consult_queues
		WHERE app_id = $1 AND id = $2`, appID, id), appID)
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, notFound(op, "queue %q not found", id)
	}
	if err != nil {
		return nil, internal(op, err)
	}
	return &q, nil
}

// Queues returns the queues of a shop ("" every shop), by id.
func (s *Store) Queues(ctx context.Context, appID, shop string) ([]parley.ConsultQueue, error) {
	rows, err := s.w.Query(ctx, `SELECT `+queueCols+` FROM consult_queues
		WHERE app_id = $1 AND ($2 = '' OR shop = $2) ORDER BY id`, appID, shop)
	if err != nil {
		return nil, internal("postgres.Queues", err)
	}
	out, err := pgx.CollectRows(rows, func(row pgx.CollectableRow) (parley.ConsultQueue, error) { return scanQueue(row, appID) })
	if err != nil {
		return nil, internal("postgres.Queues", err)
	}
	return out, nil
}

const agentCols = `id, shop, name, teams, weight, max_load, supervisor, status, load`

func scanAgent(row pgx.Row, appID string) (parley.Agent, error) {
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
// a is updated to the stored agent.
func (s *Store) PutAgent(ctx context.Context, a *parley.Agent) error {
	const op = "postgres.PutAgent"
	teams := []byte("[]")
	if a.Teams != nil {
		var err error
		if teams, err = json.Marshal(a.Teams); err != nil {
			return internal(op, err)
		}
	}
	var stored parley.Agent
	err := s.inTx(ctx, func(tx pgx.Tx) error {
		var shop, user bool
		err := tx.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM consult_shops WHERE app_id = $1 AND id = $2),
			EXISTS (SELECT 1 FROM users WHERE app_id = $1 AND id = $3)`, a.AppID, a.Shop, a.ID).Scan(&shop, &user)
		switch {
		case err != nil:
			return err
		case !shop:
			return notFound(op, "shop %q not found", a.Shop)
		case !user:
			return notFound(op, "user %q not found", a.ID)
		}
		stored, err = scanAgent(tx.QueryRow(ctx, `INSERT INTO consult_agents AS g
			(app_id, id, shop, name, teams, weight, max_load, supervisor, status)
			VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)
			ON CONFLICT (app_id, id) DO UPDATE SET shop = excluded.shop, name = excluded.name, teams = excluded.teams,
				weight = excluded.weight, max_load = excluded.max_load, supervisor = excluded.supervisor
			RETURNING `+agentCols, a.AppID, a.ID, a.Shop, a.Name, string(teams), a.Weight, a.MaxLoad, a.Supervisor,
			string(a.Status)), a.AppID)
		return err
	})
	if err != nil {
		return internal(op, err)
	}
	*a = stored
	return nil
}

// Agent returns an agent. ENotFound if there is none.
func (s *Store) Agent(ctx context.Context, appID, id string) (*parley.Agent, error) {
	const op = "postgres.Agent"
	a, err := scanAgent(s.w.QueryRow(ctx, `SELECT `+agentCols+` FROM consult_agents
		WHERE app_id = $1 AND id = $2`, appID, id), appID)
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, notFound(op, "agent %q not found", id)
	}
	if err != nil {
		return nil, internal(op, err)
	}
	return &a, nil
}

// Agents returns the agents of a shop ("" every shop), by id.
func (s *Store) Agents(ctx context.Context, appID, shop string) ([]parley.Agent, error) {
	rows, err := s.w.Query(ctx, `SELECT `+agentCols+` FROM consult_agents
		WHERE app_id = $1 AND ($2 = '' OR shop = $2) ORDER BY id`, appID, shop)
	if err != nil {
		return nil, internal("postgres.Agents", err)
	}
	out, err := pgx.CollectRows(rows, func(row pgx.CollectableRow) (parley.Agent, error) { return scanAgent(row, appID) })
	if err != nil {
		return nil, internal("postgres.Agents", err)
	}
	return out, nil
}

// SetAgentStatus sets an agent's status and returns the agent. ENotFound
// if there is no such agent.
func (s *Store) SetAgentStatus(ctx context.Context, appID, id string, st parley.AgentStatus) (*parley.Agent, error) {
	const op = "postgres.SetAgentStatus"
	a, err := scanAgent(s.w.QueryRow(ctx, `UPDATE consult_agents SET status = $3 WHERE app_id = $1 AND id = $2
		RETURNING `+agentCols, appID, id, string(st)), appID)
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, notFound(op, "agent %q not found", id)
	}
	if err != nil {
		return nil, internal(op, err)
	}
	return &a, nil
}

const consultCols = `app_id, id, shop, user_id, conv, queue, team, state, agent, entry, context, opened_at,
	pending_at, assigned_at, first_reply_at, resolved_at, resolved_by, resolve_due, rating, comment`

func scanConsult(row pgx.Row) (parley.Consultation, error) {
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
	Query(context.Context, string, ...any) (pgx.Rows, error)
}, query string, args ...any) ([]parley.Consultation, error) {
	rows, err := q.Query(ctx, query, args...)
	if err != nil {
		return nil, err
	}
	return pgx.CollectRows(rows, func(row pgx.CollectableRow) (parley.Consultation, error) { return scanConsult(row) })
}

// oneConsult runs a query of consultCols for one consultation; ENotFound
// if it finds none.
func oneConsult(ctx context.Context, q interface {
	Query(context.Context, string, ...any) (pgx.Rows, error)
}, op, query string, args ...any) (*parley.Consultation, error) {
	cs, err := queryConsults(ctx, q, query, args...)
	if err != nil {
		return nil, err
	}
	if len(cs) == 0 {
		return nil, notFound(op, "consultation not found")
	}
	return &cs[0], nil
}

// addMember is the last statement of Open and Transition: it takes a
// change version (the counter last) and makes $3 a member of the consult
// thread $2 with its read cursor at the thread's last seq, so the thread
// shows in the member's sync with its history read.
const addMember = `WITH ` + bumpOne + `
	INSERT INTO members (app_id, conv_id, user_id, read_seq, ver, joined_at, role)
	SELECT $1, $2, $3, c.last_seq, k.ver, $4, '' FROM conversations c, k WHERE c.app_id = $1 AND c.id = $2
	ON CONFLICT (app_id, conv_id, user_id) DO UPDATE SET ver = excluded.ver`

// lockThread locks a consult thread's conversation row, as Append does
// before it writes the thread's seqs, and reports whether it exists.
func lockThread(ctx context.Context, tx pgx.Tx, appID, conv string) (bool, error) {
	var one int
	err := tx.QueryRow(ctx, `SELECT 1 FROM conversations WHERE app_id = $1 AND id = $2 FOR NO KEY UPDATE`, appID, conv).Scan(&one)
	if errors.Is(err, pgx.ErrNoRows) {
		return false, nil
	}
	return err == nil, err
}

// Open makes sure the thread exists with its user as a member and opens a
// consultation in it unless one is open (see consult.Store). The thread's
// conversation row is locked before the open consultation is looked for,
// so concurrent Opens of a thread on any node take turns.
func (s *Store) Open(ctx context.Context, c *parley.Consultation) (bool, error) {
	const op = "postgres.Open"
	in := *c
	var created bool
	err := s.inTx(ctx, func(tx pgx.Tx) error {
		*c = in
		ct, err := tx.Exec(ctx, `INSERT INTO conversations (app_id, id, kind, last_seq, created_at)
			VALUES ($1, $2, $3, 0, $4) ON CONFLICT (app_id, id) DO NOTHING`, c.AppID, c.Conv, string(parley.ConvConsult), c.OpenedAt)
		if err != nil {
			return err
		}
		newThread := ct.RowsAffected() > 0
		if _, err := lockThread(ctx, tx, c.AppID, c.Conv); err != nil {
			return err
		}
		open, err := queryConsults(ctx, tx, `SELECT `+consultCols+` FROM consultations
			WHERE app_id = $1 AND conv = $2 AND state <> 'resolved'`, c.AppID, c.Conv)
		if err != nil {
			return err
		}
		if created = len(open) == 0; !created {
			*c = open[0]
		} else {
			b := &pgx.Batch{}
			b.Queue(`INSERT INTO consultations (`+consultCols+`)
				VALUES ($1, $2, $3, $4, $5, $6, $7, $8, '', $9, $10, $11, $12, 0, 0, 0, '', 0, 0, '')`,
				c.AppID, c.ID, c.Shop, c.User, c.Conv, c.Queue, c.Team, string(c.State), c.Entry, string(c.Context),
				c.OpenedAt, c.PendingAt)
			queueEvent(b, c, consult.EvOpened, c.OpenedAt, "", 0, 0, c.Entry)
			if c.State == parley.ConsultPending {
				queueEvent(b, c, consult.EvPending, c.PendingAt, "", 0, 0, "")
			}
			if err := tx.SendBatch(ctx, b).Close(); err != nil {
				return err
			}
		}
		if newThread {
			_, err = tx.Exec(ctx, addMember, c.AppID, c.Conv, c.User, c.OpenedAt)
		}
		return err
	})
	if err != nil {
		return false, internal(op, err)
	}
	return created, nil
}

// queueEvent queues the insert of one event of c. The team is the
// consultation's, or else its queue's.
func queueEvent(b *pgx.Batch, c *parley.Consultation, kind consult.EventKind, at int64, agent string, load, value int, note string) {
	b.Queue(`INSERT INTO consult_events (app_id, consult_id, kind, at, shop, queue, team, agent, user_id, load, value, note)
		VALUES ($1, $2, $3, $4, $5, $6,
			CASE WHEN $7 <> '' THEN $7 ELSE COALESCE((SELECT team FROM consult_queues WHERE app_id = $1 AND id = $6), '') END,
			$8, $9, $10, $11, $12)`,
		c.AppID, c.ID, string(kind), at, c.Shop, c.Queue, c.Team, agent, c.User, load, value, note)
}

// Consult returns a consultation. ENotFound if there is none.
func (s *Store) Consult(ctx context.Context, appID, id string) (*parley.Consultation, error) {
	c, err := oneConsult(ctx, s.w, "postgres.Consult", `SELECT `+consultCols+` FROM consultations
		WHERE app_id = $1 AND id = $2`, appID, id)
	if err != nil {
		return nil, internal("postgres.Consult", err)
	}
	return c, nil
}

// Current returns the thread's open consultation, or else its latest one.
// ENotFound if the thread has none.
func (s *Store) Current(ctx context.Context, appID, conv string) (*parley.Consultation, error) {
	c, err := oneConsult(ctx, s.w, "postgres.Current", `SELECT `+consultCols+` FROM consultations
		WHERE app_id = $1 AND conv = $2 ORDER BY state <> 'resolved' DESC, opened_at DESC, id DESC LIMIT 1`, appID, conv)
	if err != nil {
		return nil, internal("postgres.Current", err)
	}
	return c, nil
}

// Consults returns the consultations f selects, oldest opened first.
func (s *Store) Consults(ctx context.Context, appID string, f consult.Filter) ([]parley.Consultation, error) {
	n := f.Limit
	if n <= 0 || n > parley.MaxConsultsListed {
		n = parley.MaxConsultsListed
	}
	states := make([]string, len(f.States))
	for i, st := range f.States {
		states[i] = string(st)
	}
	cs, err := queryConsults(ctx, s.w, `SELECT `+consultCols+` FROM consultations
		WHERE app_id = $1 AND ($2 = '' OR shop = $2) AND ($3 = '' OR user_id = $3) AND ($4 = '' OR agent = $4)
			AND (cardinality($5::text[]) = 0 OR state = ANY($5))
		ORDER BY opened_at, id LIMIT $6`, appID, f.Shop, f.User, f.Agent, states, n)
	if err != nil {
		return nil, internal("postgres.Consults", err)
	}
	return cs, nil
}

// Waiting returns a queue's pending consultations in serving order.
func (s *Store) Waiting(ctx context.Context, appID, queue string, n int) ([]parley.Consultation, error) {
	cs, err := queryConsults(ctx, s.w, `SELECT `+consultCols+` FROM consultations
		WHERE app_id = $1 AND queue = $2 AND state = 'pending' ORDER BY pending_at, id LIMIT $3`, appID, queue, limit(n))
	if err != nil {
		return nil, internal("postgres.Waiting", err)
	}
	return cs, nil
}

// DueForResolve returns assigned consultations, of any app, whose
// ResolveDue has come, earliest first.
func (s *Store) DueForResolve(ctx context.Context, now int64, n int) ([]parley.Consultation, error) {
	cs, err := queryConsults(ctx, s.w, `SELECT `+consultCols+` FROM consultations
		WHERE resolve_due > 0 AND resolve_due <= $1 AND state = 'assigned' ORDER BY resolve_due LIMIT $2`, now, limit(n))
	if err != nil {
		return nil, internal("postgres.DueForResolve", err)
	}
	return cs, nil
}

// LastAgent returns the agent of the user's latest consultation of shop
// that had one, other than exclude; "" if none.
func (s *Store) LastAgent(ctx context.Context, appID, shop, user, exclude string) (string, error) {
	ids, err := queryStrings(ctx, s.w, `SELECT agent FROM consultations
		WHERE app_id = $1 AND conv = $2 AND id <> $3 AND agent <> '' ORDER BY assigned_at DESC, id DESC LIMIT 1`,
		appID, parley.ConsultConvID(shop, user), exclude)
	if err != nil {
		return "", internal("postgres.LastAgent", err)
	}
	if len(ids) == 0 {
		return "", nil
	}
	return ids[0], nil
}

// Watchers returns the agents serving the user now and those of the
// user's recent latest resolved consultations, each once.
func (s *Store) Watchers(ctx context.Context, appID, user string, recent int) ([]string, error) {
	ids, err := queryStrings(ctx, s.w, `SELECT agent FROM consultations
			WHERE app_id = $1 AND user_id = $2 AND state = 'assigned'
		UNION
		SELECT agent FROM (SELECT agent FROM consultations
			WHERE app_id = $1 AND user_id = $2 AND state = 'resolved' AND agent <> ''
			ORDER BY resolved_at DESC LIMIT $3) AS r`, appID, user, recent)
	if err != nil {
		return nil, internal("postgres.Watchers", err)
	}
	return ids, nil
}

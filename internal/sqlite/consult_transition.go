package sqlite

import (
	"context"
	"database/sql"
	"slices"

	"github.com/parley-im/parley"
	"github.com/parley-im/parley/internal/consult"
)

// Transition applies one state change of a consultation in one
// transaction (see consult.Store): the state is checked inside it, the
// agent's capacity by the conditional UPDATE that takes a slot, and the
// consultation row is written only if its state is still the one read.
func (db *DB) Transition(ctx context.Context, t consult.Transition) (*parley.Consultation, error) {
	const op = "sqlite.Transition"
	if t.To == parley.ConsultInitial || (t.To == parley.ConsultAssigned && t.Agent == "") {
		return nil, &parley.Error{Code: parley.EInvalid, Op: op, Message: "a transition goes to pending, assigned (with an agent) or resolved"}
	}
	tx, err := db.w.BeginTx(ctx, nil)
	if err != nil {
		return nil, internal(op, err)
	}
	defer rollback(tx)
	c, err := db.oneConsult(ctx, tx, op, `SELECT `+consultCols+` FROM consultations WHERE app_id = ? AND id = ?`, t.AppID, t.ID)
	if err != nil {
		return nil, err
	}
	if !slices.Contains(t.From, c.State) {
		return nil, conflict(op, "consultation %s is %s", c.ID, c.State)
	}
	if t.IfDue != 0 && c.ResolveDue != t.IfDue {
		return nil, conflict(op, "consultation %s is no longer due to resolve", c.ID)
	}
	from := c.State
	holding := ""
	if c.State == parley.ConsultAssigned {
		holding = c.Agent
	}
	if t.Team != nil {
		c.Team = *t.Team
	}
	var vc verCounter
	switch t.To {
	case parley.ConsultAssigned:
		if t.Agent == holding {
			return nil, conflict(op, "consultation %s is already assigned to %s", c.ID, holding)
		}
		res, err := tx.ExecContext(ctx, `UPDATE consult_agents SET load = load + 1
			WHERE app_id = ? AND id = ? AND shop = ? AND status = 'online' AND load < max_load`, c.AppID, t.Agent, c.Shop)
		if err != nil {
			return nil, internal(op, err)
		}
		if n, _ := res.RowsAffected(); n == 0 {
			return nil, conflict(op, "agent %q is not available", t.Agent)
		}
		if holding != "" {
			if err := release(ctx, tx, c, holding, t.At); err != nil {
				return nil, internal(op, err)
			}
			if err := insertEvent(ctx, tx, c, consult.EvTransferred, t.At, t.Agent, 0, 0, t.Note); err != nil {
				return nil, internal(op, err)
			}
		}
		if err := addMember(ctx, tx, &vc, c.AppID, c.Conv, t.Agent, t.At); err != nil {
			return nil, internal(op, err)
		}
		c.State, c.Agent, c.AssignedAt = parley.ConsultAssigned, t.Agent, t.At
		if err := insertEvent(ctx, tx, c, consult.EvAssigned, t.At, t.Agent, agentLoad(ctx, tx, c.AppID, t.Agent), 0, t.By); err != nil {
			return nil, internal(op, err)
		}
	case parley.ConsultPending:
		if holding != "" {
			if err := release(ctx, tx, c, holding, t.At); err != nil {
				return nil, internal(op, err)
			}
			c.State, c.Agent = parley.ConsultPending, ""
			err = insertEvent(ctx, tx, c, consult.EvTransferred, t.At, "", 0, 0, t.Note)
			if err == nil {
				err = insertEvent(ctx, tx, c, consult.EvRequeued, t.At, "", 0, 0, "")
			}
		} else {
			c.State = parley.ConsultPending
			if c.PendingAt == 0 {
				c.PendingAt = t.At
			}
			err = insertEvent(ctx, tx, c, consult.EvPending, t.At, "", 0, 0, "")
		}
		if err != nil {
			return nil, internal(op, err)
		}
	case parley.ConsultResolved:
		if holding != "" {
			if err := release(ctx, tx, c, holding, t.At); err != nil {
				return nil, internal(op, err)
			}
		}
		c.State, c.ResolvedAt, c.ResolvedBy = parley.ConsultResolved, t.At, t.By
		if err := insertEvent(ctx, tx, c, consult.EvResolved, t.At, c.Agent, 0, 0, t.By); err != nil {
			return nil, internal(op, err)
		}
	}
	c.ResolveDue = 0
	res, err := tx.ExecContext(ctx, `UPDATE consultations SET state = ?, agent = ?, team = ?, pending_at = ?,
		assigned_at = ?, resolved_at = ?, resolved_by = ?, resolve_due = 0
		WHERE app_id = ? AND id = ? AND state = ?`,
		string(c.State), c.Agent, c.Team, c.PendingAt, c.AssignedAt, c.ResolvedAt, c.ResolvedBy, c.AppID, c.ID, string(from))
	if err != nil {
		return nil, internal(op, err)
	}
	if n, _ := res.RowsAffected(); n != 1 {
		return nil, conflict(op, "consultation %s changed meanwhile", c.ID)
	}
	if t.Cursor != "" {
		if _, err := tx.ExecContext(ctx, `UPDATE consult_queues SET cursor = ? WHERE app_id = ? AND id = ?`,
			t.Cursor, c.AppID, c.Queue); err != nil {
			return nil, internal(op, err)
		}
	}
	if err := vc.save(ctx, tx); err != nil {
		return nil, internal(op, err)
	}
	if err := tx.Commit(); err != nil {
		return nil, internal(op, err)
	}
	return c, nil
}

// release ends agent's hold of c: one slot back, out of the thread's
// members, an EvReleased event with the load after.
func release(ctx context.Context, tx *sql.Tx, c *parley.Consultation, agent string, at int64) error {
	if _, err := tx.ExecContext(ctx, `UPDATE consult_agents SET load = load - 1
		WHERE app_id = ? AND id = ? AND load > 0`, c.AppID, agent); err != nil {
		return err
	}
	if _, err := tx.ExecContext(ctx, `DELETE FROM members WHERE app_id = ? AND conv_id = ? AND user_id = ? AND user_id <> ?`,
		c.AppID, c.Conv, agent, c.User); err != nil {
		return err
	}
	return insertEvent(ctx, tx, c, consult.EvReleased, at, agent, agentLoad(ctx, tx, c.AppID, agent), 0, "")
}

// agentLoad reads an agent's load inside a transaction (0 if the agent
// is gone; the event then says so).
func agentLoad(ctx context.Context, tx *sql.Tx, appID, agent string) int {
	var n int
	_ = tx.QueryRowContext(ctx, `SELECT load FROM consult_agents WHERE app_id = ? AND id = ?`, appID, agent).Scan(&n)
	return n
}

// RecordMessage records a user's or an agent's message of an open
// consultation (see consult.Store).
func (db *DB) RecordMessage(ctx context.Context, m consult.MessageEvent) (*parley.Consultation, error) {
	const op = "sqlite.RecordMessage"
	tx, err := db.w.BeginTx(ctx, nil)
	if err != nil {
		return nil, internal(op, err)
	}
	defer rollback(tx)
	c, err := db.oneConsult(ctx, tx, op, `SELECT `+consultCols+` FROM consultations WHERE app_id = ? AND id = ?`, m.AppID, m.Consult)
	if err != nil {
		return nil, err
	}
	if c.State == parley.ConsultResolved {
		return nil, conflict(op, "consultation %s is resolved", c.ID)
	}
	kind, agent := consult.EvUserMsg, ""
	if m.FromAgent {
		kind, agent = consult.EvAgentMsg, m.Sender
		if c.FirstReplyAt == 0 && c.PendingAt > 0 {
			c.FirstReplyAt = m.At
		}
		if c.State == parley.ConsultAssigned && m.ResolveAfter > 0 {
			c.ResolveDue = m.At + m.ResolveAfter
		}
	} else {
		c.ResolveDue = 0
	}
	_, err = tx.ExecContext(ctx, `UPDATE consultations SET first_reply_at = ?, resolve_due = ? WHERE app_id = ? AND id = ?`,
		c.FirstReplyAt, c.ResolveDue, c.AppID, c.ID)
	if err == nil {
		err = insertEvent(ctx, tx, c, kind, m.At, agent, 0, 0, "")
	}
	if err == nil {
		err = tx.Commit()
	}
	if err != nil {
		return nil, internal(op, err)
	}
	return c, nil
}

// Rate stores the user's rating of a resolved consultation.
func (db *DB) Rate(ctx context.Context, appID, id, user string, score int, comment string, at int64) (*parley.Consultation, error) {
	const op = "sqlite.Rate"
	tx, err := db.w.BeginTx(ctx, nil)
	if err != nil {
		return nil, internal(op, err)
	}
	defer rollback(tx)
	c, err := db.oneConsult(ctx, tx, op, `SELECT `+consultCols+` FROM consultations WHERE app_id = ? AND id = ?`, appID, id)
	switch {
	case err != nil:
		return nil, err
	case c.User != user:
		return nil, forbidden(op, "only the consultation's user rates it")
	case c.State != parley.ConsultResolved:
		return nil, conflict(op, "consultation %s is not resolved yet", id)
	case c.Rating != 0:
		return nil, conflict(op, "consultation %s was rated already", id)
	}
	c.Rating, c.Comment = score, comment
	_, err = tx.ExecContext(ctx, `UPDATE consultations SET rating = ?, comment = ? WHERE app_id = ? AND id = ? AND rating = 0`,
		score, comment, appID, id)
	if err == nil {
		err = insertEvent(ctx, tx, c, consult.EvRated, at, c.Agent, 0, score, comment)
	}
	if err == nil {
		err = tx.Commit()
	}
	if err != nil {
		return nil, internal(op, err)
	}
	return c, nil
}

// Events returns an app's events with from <= At < to, by At then ID.
func (db *DB) Events(ctx context.Context, appID string, from, to int64) ([]consult.Event, error) {
	const op = "sqlite.Events"
	rows, err := db.r.QueryContext(ctx, `SELECT id, consult_id, kind, at, shop, queue, team, agent, user_id, load, value, note
		FROM consult_events WHERE app_id = ? AND at >= ? AND at < ? ORDER BY at, id`, appID, from, to)
	if err != nil {
		return nil, internal(op, err)
	}
	defer rows.Close()
	var out []consult.Event
	for rows.Next() {
		e := consult.Event{AppID: appID}
		var kind string
		if err := rows.Scan(&e.ID, &e.Consult, &kind, &e.At, &e.Shop, &e.Queue, &e.Team, &e.Agent, &e.User,
			&e.Load, &e.Value, &e.Note); err != nil {
			return nil, internal(op, err)
		}
		e.Kind = consult.EventKind(kind)
		out = append(out, e)
	}
	if err := rows.Err(); err != nil {
		return nil, internal(op, err)
	}
	return out, nil
}

// AgentLoadsAt returns each agent's load after its last assignment or
// release event before t.
func (db *DB) AgentLoadsAt(ctx context.Context, appID string, t int64) (map[string]int, error) {
	const op = "sqlite.AgentLoadsAt"
	rows, err := db.r.QueryContext(ctx, `SELECT agent, load FROM consult_events WHERE id IN (
		SELECT max(id) FROM consult_events WHERE app_id = ? AND kind IN ('assigned', 'released') AND at < ?
		GROUP BY agent)`, appID, t)
	if err != nil {
		return nil, internal(op, err)
	}
	defer rows.Close()
	out := map[string]int{}
	for rows.Next() {
		var a string
		var n int
		if err := rows.Scan(&a, &n); err != nil {
			return nil, internal(op, err)
		}
		out[a] = n
	}
	if err := rows.Err(); err != nil {
		return nil, internal(op, err)
	}
	return out, nil
}

package postgres

import (
	"context"
	"errors"
	"slices"

	"github.com/jackc/pgx/v5"

	"github.com/parley-im/parley"
	"github.com/parley-im/parley/internal/consult"
)

// Transition applies one state change of a consultation in one
// transaction (see consult.Store). Locks, in the store's order: the
// thread's conversation row, then the consultation's row (read FOR
// UPDATE, so its state is checked as no concurrent transition can change
// it), then the agents whose load changes (in id order), then the member
// rows, and the change counter last (the new agent's membership). The
// agent's capacity is the condition of the UPDATE that takes a slot.
func (s *Store) Transition(ctx context.Context, t consult.Transition) (*parley.Consultation, error) {
	const op = "postgres.Transition"
	if t.To == parley.ConsultInitial || (t.To == parley.ConsultAssigned && t.Agent == "") {
		return nil, &parley.Error{Code: parley.EInvalid, Op: op, Message: "a transition goes to pending, assigned (with an agent) or resolved"}
	}
	var out *parley.Consultation
	err := s.inTx(ctx, func(tx pgx.Tx) error {
		c, err := oneConsult(ctx, tx, op, `SELECT `+consultCols+` FROM consultations WHERE app_id = $1 AND id = $2`, t.AppID, t.ID)
		if err != nil {
			return err
		}
		if _, err := lockThread(ctx, tx, c.AppID, c.Conv); err != nil {
			return err
		}
		// Read again under the locks: a transition that committed while
		// this one waited is now visible.
		if c, err = oneConsult(ctx, tx, op, `SELECT `+consultCols+` FROM consultations
			WHERE app_id = $1 AND id = $2 FOR UPDATE`, t.AppID, t.ID); err != nil {
			return err
		}
		if out, err = transition(ctx, tx, c, &t); err != nil {
			return err
		}
		return nil
	})
	if err != nil {
		return nil, internal(op, err)
	}
	return out, nil
}

func transition(ctx context.Context, tx pgx.Tx, c *parley.Consultation, t *consult.Transition) (*parley.Consultation, error) {
	const op = "postgres.Transition"
	if !slices.Contains(t.From, c.State) {
		return nil, conflict(op, "consultation %s is %s", c.ID, c.State)
	}
	if t.IfDue != 0 && c.ResolveDue != t.IfDue {
		return nil, conflict(op, "consultation %s is no longer due to resolve", c.ID)
	}
	holding := ""
	if c.State == parley.ConsultAssigned {
		holding = c.Agent
	}
	if t.Team != nil {
		c.Team = *t.Team
	}
	if t.To == parley.ConsultAssigned && t.Agent == holding {
		return nil, conflict(op, "consultation %s is already assigned to %s", c.ID, holding)
	}
	var agents []string
	for _, a := range []string{holding, t.Agent} {
		if a != "" {
			agents = append(agents, a)
		}
	}
	slices.Sort(agents)
	if _, err := tx.Exec(ctx, `SELECT count(*) FROM (SELECT 1 FROM consult_agents WHERE app_id = $1 AND id = ANY($2)
		ORDER BY id FOR NO KEY UPDATE) AS l`, c.AppID, agents); err != nil {
		return nil, err
	}
	newAgent := ""
	switch t.To {
	case parley.ConsultAssigned:
		var load int
		err := tx.QueryRow(ctx, `UPDATE consult_agents SET load = load + 1
			WHERE app_id = $1 AND id = $2 AND shop = $3 AND status = 'online' AND load < max_load RETURNING load`,
			c.AppID, t.Agent, c.Shop).Scan(&load)
		if errors.Is(err, pgx.ErrNoRows) {
			return nil, conflict(op, "agent %q is not available", t.Agent)
		}
		if err != nil {
			return nil, err
		}
		b := &pgx.Batch{}
		if holding != "" {
			queueRelease(b, c, holding, t.At)
			queueEvent(b, c, consult.EvTransferred, t.At, t.Agent, 0, 0, t.Note)
		}
		c.State, c.Agent, c.AssignedAt = parley.ConsultAssigned, t.Agent, t.At
		queueEvent(b, c, consult.EvAssigned, t.At, t.Agent, load, 0, t.By)
		if err := tx.SendBatch(ctx, b).Close(); err != nil {
			return nil, err
		}
		newAgent = t.Agent
	case parley.ConsultPending:
		b := &pgx.Batch{}
		if holding != "" {
			queueRelease(b, c, holding, t.At)
			c.State, c.Agent = parley.ConsultPending, ""
			queueEvent(b, c, consult.EvTransferred, t.At, "", 0, 0, t.Note)
			queueEvent(b, c, consult.EvRequeued, t.At, "", 0, 0, "")
		} else {
			c.State = parley.ConsultPending
			if c.PendingAt == 0 {
				c.PendingAt = t.At
			}
			queueEvent(b, c, consult.EvPending, t.At, "", 0, 0, "")
		}
		if err := tx.SendBatch(ctx, b).Close(); err != nil {
			return nil, err
		}
	case parley.ConsultResolved:
		b := &pgx.Batch{}
		if holding != "" {
			queueRelease(b, c, holding, t.At)
		}
		c.State, c.ResolvedAt, c.ResolvedBy = parley.ConsultResolved, t.At, t.By
		queueEvent(b, c, consult.EvResolved, t.At, c.Agent, 0, 0, t.By)
		if err := tx.SendBatch(ctx, b).Close(); err != nil {
			return nil, err
		}
	}
	c.ResolveDue = 0
	b := &pgx.Batch{}
	b.Queue(`UPDATE consultations SET state = $3, agent = $4, team = $5, pending_at = $6,
		assigned_at = $7, resolved_at = $8, resolved_by = $9, resolve_due = 0
		WHERE app_id = $1 AND id = $2`,
		c.AppID, c.ID, string(c.State), c.Agent, c.Team, c.PendingAt, c.AssignedAt, c.ResolvedAt, c.ResolvedBy)
	if t.Cursor != "" {
		b.Queue(`UPDATE consult_queues SET cursor = $3 WHERE app_id = $1 AND id = $2`, c.AppID, c.Queue, t.Cursor)
	}
	if newAgent != "" {
		b.Queue(addMember, c.AppID, c.Conv, newAgent, t.At)
	}
	if err := tx.SendBatch(ctx, b).Close(); err != nil {
		return nil, err
	}
	return c, nil
}

// queueRelease queues the end of agent's hold of c: one slot back, out of
// the thread's members, an EvReleased event with the load after (the
// event reads it in the same statement).
func queueRelease(b *pgx.Batch, c *parley.Consultation, agent string, at int64) {
	b.Queue(`UPDATE consult_agents SET load = load - 1 WHERE app_id = $1 AND id = $2 AND load > 0`, c.AppID, agent)
	b.Queue(`DELETE FROM members WHERE app_id = $1 AND conv_id = $2 AND user_id = $3 AND user_id <> $4`,
		c.AppID, c.Conv, agent, c.User)
	b.Queue(`INSERT INTO consult_events (app_id, consult_id, kind, at, shop, queue, team, agent, user_id, load, value, note)
		VALUES ($1, $2, $3, $4, $5, $6,
			CASE WHEN $7 <> '' THEN $7 ELSE COALESCE((SELECT team FROM consult_queues WHERE app_id = $1 AND id = $6), '') END,
			$8, $9, COALESCE((SELECT load FROM consult_agents WHERE app_id = $1 AND id = $8), 0), 0, '')`,
		c.AppID, c.ID, string(consult.EvReleased), at, c.Shop, c.Queue, c.Team, agent, c.User)
}

// RecordMessage records a user's or an agent's message of an open
// consultation (see consult.Store), with the consultation's row locked.
func (s *Store) RecordMessage(ctx context.Context, m consult.MessageEvent) (*parley.Consultation, error) {
	const op = "postgres.RecordMessage"
	var out *parley.Consultation
	err := s.inTx(ctx, func(tx pgx.Tx) error {
		c, err := oneConsult(ctx, tx, op, `SELECT `+consultCols+` FROM consultations
			WHERE app_id = $1 AND id = $2 FOR UPDATE`, m.AppID, m.Consult)
		if err != nil {
			return err
		}
		if c.State == parley.ConsultResolved {
			return conflict(op, "consultation %s is resolved", c.ID)
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
		b := &pgx.Batch{}
		b.Queue(`UPDATE consultations SET first_reply_at = $3, resolve_due = $4 WHERE app_id = $1 AND id = $2`,
			c.AppID, c.ID, c.FirstReplyAt, c.ResolveDue)
		queueEvent(b, c, kind, m.At, agent, 0, 0, "")
		out = c
		return tx.SendBatch(ctx, b).Close()
	})
	if err != nil {
		return nil, internal(op, err)
	}
	return out, nil
}

// Rate stores the user's rating of a resolved consultation, with its row
// locked.
func (s *Store) Rate(ctx context.Context, appID, id, user string, score int, comment string, at int64) (*parley.Consultation, error) {
	const op = "postgres.Rate"
	var out *parley.Consultation
	err := s.inTx(ctx, func(tx pgx.Tx) error {
		c, err := oneConsult(ctx, tx, op, `SELECT `+consultCols+` FROM consultations
			WHERE app_id = $1 AND id = $2 FOR UPDATE`, appID, id)
		switch {
		case err != nil:
			return err
		case c.User != user:
			return forbidden(op, "only the consultation's user rates it")
		case c.State != parley.ConsultResolved:
			return conflict(op, "consultation %s is not resolved yet", id)
		case c.Rating != 0:
			return conflict(op, "consultation %s was rated already", id)
		}
		c.Rating, c.Comment = score, comment
		b := &pgx.Batch{}
		b.Queue(`UPDATE consultations SET rating = $3, comment = $4 WHERE app_id = $1 AND id = $2`, appID, id, score, comment)
		queueEvent(b, c, consult.EvRated, at, c.Agent, 0, score, comment)
		out = c
		return tx.SendBatch(ctx, b).Close()
	})
	if err != nil {
		return nil, internal(op, err)
	}
	return out, nil
}

// Events returns an app's events with from <= At < to, by At then ID.
func (s *Store) Events(ctx context.Context, appID string, from, to int64) ([]consult.Event, error) {
	rows, err := s.w.Query(ctx, `SELECT id, consult_id, kind, at, shop, queue, team, agent, user_id, load, value, note
		FROM consult_events WHERE app_id = $1 AND at >= $2 AND at < $3 ORDER BY at, id`, appID, from, to)
	if err != nil {
		return nil, internal("postgres.Events", err)
	}
	out, err := pgx.CollectRows(rows, func(row pgx.CollectableRow) (consult.Event, error) {
		e := consult.Event{AppID: appID}
		var kind string
		err := row.Scan(&e.ID, &e.Consult, &kind, &e.At, &e.Shop, &e.Queue, &e.Team, &e.Agent, &e.User, &e.Load, &e.Value, &e.Note)
		e.Kind = consult.EventKind(kind)
		return e, err
	})
	if err != nil {
		return nil, internal("postgres.Events", err)
	}
	return out, nil
}

// AgentLoadsAt returns each agent's load after its last assignment or
// release event before t (an agent's events are written under its row
// lock, so their ids are in commit order).
func (s *Store) AgentLoadsAt(ctx context.Context, appID string, t int64) (map[string]int, error) {
	rows, err := s.w.Query(ctx, `SELECT DISTINCT ON (agent) agent, load FROM consult_events
		WHERE app_id = $1 AND kind IN ('assigned', 'released') AND at < $2 ORDER BY agent, id DESC`, appID, t)
	if err != nil {
		return nil, internal("postgres.AgentLoadsAt", err)
	}
	defer rows.Close()
	out := map[string]int{}
	for rows.Next() {
		var a string
		var n int
		if err := rows.Scan(&a, &n); err != nil {
			return nil, internal("postgres.AgentLoadsAt", err)
		}
		out[a] = n
	}
	if err := rows.Err(); err != nil {
		return nil, internal("postgres.AgentLoadsAt", err)
	}
	return out, nil
}

package client

import (
	"context"
	"encoding/json"

	"github.com/parley-im/parley"
	"github.com/parley-im/parley/wire"
)

// Customer service (docs/protocol.md §15). A consultation's messages are
// sent with SendConv(ctx, parley.ConsultConvID(shop, user), ...) and
// arrive through OnMessage like any message; its transitions are system
// messages of the thread and, live, consult pushes to OnConsult (with a
// waiting user's place in the line). A supervisor reads a thread with
// WatchConsult and follows it live with WatchConsultLive (OnConsultMsg).

// OpenConsult opens (or returns the open) consultation of this user with
// shop; queue "" is the shop's own, entry and context describe where the
// user clicked "consult".
func (c *Client) OpenConsult(ctx context.Context, shop, queue, entry string, ctxJSON json.RawMessage) (*parley.Consultation, error) {
	return c.consultCall(ctx, wire.In{Type: wire.TConsultOpen, ConsultFields: wire.ConsultFields{Shop: shop, Queue: queue, Entry: entry, Context: ctxJSON}})
}

// ConsultInfo returns a consultation and, while it waits, its position.
func (c *Client) ConsultInfo(ctx context.Context, id string) (wire.ConsultRes, error) {
	var res wire.ConsultRes
	err := c.call(ctx, wire.In{Type: wire.TConsultInfo, ConsultFields: wire.ConsultFields{Consult: id}}, &res)
	return res, err
}

// SetAgentStatus sets this agent's status.
func (c *Client) SetAgentStatus(ctx context.Context, st parley.AgentStatus) (*parley.Agent, error) {
	var res wire.AgentRes
	err := c.call(ctx, wire.In{Type: wire.TConsultStatus, ConsultFields: wire.ConsultFields{Status: string(st)}}, &res)
	return res.Agent, err
}

// ResolveConsult resolves a consultation this agent serves (or, for a
// supervisor, any of the shop's).
func (c *Client) ResolveConsult(ctx context.Context, id string) (*parley.Consultation, error) {
	return c.consultCall(ctx, wire.In{Type: wire.TConsultResolve, ConsultFields: wire.ConsultFields{Consult: id}})
}

// TransferConsult moves a consultation to agent, or back to the line for
// team (exactly one of them), with a note.
func (c *Client) TransferConsult(ctx context.Context, id, agent, team, note string) (*parley.Consultation, error) {
	return c.consultCall(ctx, wire.In{Type: wire.TConsultTransfer, ConsultFields: wire.ConsultFields{Consult: id, Agent: agent, Team: team, Note: note}})
}

// RateConsult rates a resolved consultation of this user (score 1-5).
func (c *Client) RateConsult(ctx context.Context, id string, score int, comment string) (*parley.Consultation, error) {
	return c.consultCall(ctx, wire.In{Type: wire.TConsultRate, ConsultFields: wire.ConsultFields{Consult: id, Score: score, Comment: comment}})
}

// CannedReplies returns the canned replies of this agent's shop.
func (c *Client) CannedReplies(ctx context.Context) ([]parley.CannedReply, error) {
	var res wire.CannedRes
	err := c.call(ctx, wire.In{Type: wire.TConsultCanned}, &res)
	return res.Canned, err
}

// ConsultView returns a supervisor's live view of their shop.
func (c *Client) ConsultView(ctx context.Context) (wire.ConsultViewRes, error) {
	var res wire.ConsultViewRes
	err := c.call(ctx, wire.In{Type: wire.TConsultView}, &res)
	return res, err
}

// WatchConsult returns a page of a consultation's thread to a
// supervisor (limit 0: wire.DefaultLimit).
func (c *Client) WatchConsult(ctx context.Context, id string, after uint64, limit int) (wire.PullRes, error) {
	var res wire.PullRes
	err := c.call(ctx, wire.In{Type: wire.TConsultWatch, After: after, Limit: limit, ConsultFields: wire.ConsultFields{Consult: id}}, &res)
	return res, err
}

// WatchConsultLive is WatchConsult that also subscribes this connection
// to the thread: its new messages go to Options.OnConsultMsg until
// UnwatchConsult or the connection ends. Errors as WatchConsult, and
// EConflict past the limits of docs/protocol.md §15.3.
//
// The watch outlives the connection: after a reconnection the client
// watches again from the last seq it handed over (this answer's or
// OnConsultMsg's) and hands what it missed to OnConsultMsg, in seq order.
// OnConsultMsg never gets a seq of the thread twice; a push that raced
// this answer (docs/protocol.md §15.4) may also be in the answer.
func (c *Client) WatchConsultLive(ctx context.Context, id string, after uint64, limit int) (wire.PullRes, error) {
	var res wire.PullRes
	before := c.current()
	err := c.call(ctx, wire.In{Type: wire.TConsultWatch, After: after, Limit: limit, ConsultFields: wire.ConsultFields{Consult: id, Live: true}}, &res)
	if err != nil {
		return res, err
	}
	last := after
	for _, m := range res.Msgs {
		last = max(last, m.Seq)
	}
	on := c.current()
	if on != before {
		on = nil // asked on a connection that may be gone: watch again
	}
	c.watches.add(id, res.Conv, last, on)
	if on == nil {
		c.q.push(event{kind: evResync})
	}
	return res, nil
}

// UnwatchConsult stops the live watch of a consultation's thread and
// reports whether there was one.
func (c *Client) UnwatchConsult(ctx context.Context, id string) (bool, error) {
	var res wire.UnwatchRes
	c.watches.remove(id)
	err := c.call(ctx, wire.In{Type: wire.TConsultUnwatch, ConsultFields: wire.ConsultFields{Consult: id}}, &res)
	return res.Stopped, err
}

func (c *Client) consultCall(ctx context.Context, in wire.In) (*parley.Consultation, error) {
	var res wire.ConsultRes
	if err := c.call(ctx, in, &res); err != nil {
		return nil, err
	}
	return res.Consult, nil
}

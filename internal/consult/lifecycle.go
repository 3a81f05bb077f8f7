package consult

import (
	"context"
	"encoding/json"
	"slices"
	"strings"

	"github.com/oklog/ulid/v2"

	"github.com/parley-im/parley"
	"github.com/parley-im/parley/internal/chat"
	"github.com/parley-im/parley/wire"
)

// OpenRequest is a user's click on "consult": the shop, optionally the
// queue (default: the shop's own), and where the click came from.
type OpenRequest struct {
	AppID, User, Shop, Queue string
	Entry                    string
	Context                  json.RawMessage
}

// Open opens a consultation between a user and a shop in state initial
// (the thread is created on first use), or returns the thread's open
// one. The user's first message in the thread then makes it pending.
// Errors: EInvalid or ETooLarge for a bad request, ENotFound for an
// unknown shop or queue (or a queue of another shop), EForbidden for an
// agent of the shop consulting it.
func (s *Service) Open(ctx context.Context, req OpenRequest) (*parley.Consultation, error) {
	if !parley.ValidID(req.Shop) || !parley.ValidID(req.User) {
		return nil, parley.Errorf(parley.EInvalid, "a consultation needs a shop and a user")
	}
	if err := parley.ValidateConsultContext(req.Entry, req.Context); err != nil {
		return nil, err
	}
	q, err := s.queueFor(ctx, req.AppID, req.Shop, req.Queue)
	if err != nil {
		return nil, err
	}
	if a, err := s.store.Agent(ctx, req.AppID, req.User); err == nil && a.Shop == req.Shop {
		return nil, parley.Errorf(parley.EForbidden, "agents do not consult their own shop")
	}
	c := &parley.Consultation{
		AppID: req.AppID, ID: strings.ToLower(ulid.Make().String()), Shop: req.Shop, User: req.User,
		Conv: parley.ConsultConvID(req.Shop, req.User), Queue: q.ID, State: parley.ConsultInitial,
		Entry: req.Entry, Context: req.Context, OpenedAt: s.now(),
	}
	created, err := s.store.Open(ctx, c)
	if err != nil {
		return nil, err
	}
	if created {
		s.announce(ctx, c, "opened", "", "", "")
	}
	return c, nil
}

// queueFor returns the queue a consultation of shop goes to: the named
// one, or the shop's own (id = shop id), which need not be stored.
func (s *Service) queueFor(ctx context.Context, appID, shop, queue string) (*parley.ConsultQueue, error) {
	if _, err := s.store.Shop(ctx, appID, shop); err != nil {
		return nil, err
	}
	id := queue
	if id == "" {
		id = shop
	}
	q, err := s.store.Queue(ctx, appID, id)
	switch {
	case parley.ErrorCode(err) == parley.ENotFound && id == shop:
		return &parley.ConsultQueue{AppID: appID, ID: shop, Shop: shop, Strategy: parley.StrategyLeastLoaded}, nil
	case err != nil:
		return nil, err
	case q.Shop != shop:
		return nil, parley.Errorf(parley.ENotFound, "queue %q not found in shop %q", queue, shop)
	}
	return q, nil
}

// onMessage records one stored message of a thread (a worker's step):
// the user's first message makes the consultation pending (opening a new
// one in the thread when the last is resolved) and runs the automations
// and the assignment; an agent's message counts as a reply.
func (s *Service) onMessage(ev msgEvent) {
	ctx, cancel := s.bg()
	defer cancel()
	m := &ev.msg
	shop, user, _ := parley.ConsultPeers(m.ConvID)
	cur, err := s.store.Current(ctx, m.AppID, m.ConvID)
	if err != nil && parley.ErrorCode(err) != parley.ENotFound {
		s.log.Error("consult: reading the thread failed", "err", err, "app_id", m.AppID, "conv_id", m.ConvID)
		return
	}
	if m.Sender != user {
		if cur == nil || cur.State != parley.ConsultAssigned || cur.Agent != m.Sender {
			return // a former agent's late message: not this consultation's
		}
		sh, err := s.store.Shop(ctx, m.AppID, shop)
		var after int64
		if err == nil {
			after = sh.AutoResolveSeconds * 1000
		}
		if c, err := s.store.RecordMessage(ctx, MessageEvent{AppID: m.AppID, Consult: cur.ID, Sender: m.Sender,
			FromAgent: true, At: ev.at, ResolveAfter: after}); err == nil && c.FirstReplyAt == ev.at && c.PendingAt > 0 {
			s.m.firstReplyMs(ev.at - c.PendingAt)
		}
		return
	}
	first := false
	switch {
	case cur == nil || cur.State == parley.ConsultResolved:
		// The user writes again: a new consultation in the same thread,
		// in the queue and with the context of the last one.
		c := &parley.Consultation{
			AppID: m.AppID, ID: strings.ToLower(ulid.Make().String()), Shop: shop, User: user, Conv: m.ConvID,
			State: parley.ConsultPending, OpenedAt: ev.at, PendingAt: ev.at, Queue: shop,
		}
		if cur != nil {
			c.Queue, c.Entry, c.Context = cur.Queue, cur.Entry, cur.Context
		}
		created, err := s.store.Open(ctx, c)
		if err != nil {
			s.log.Error("consult: opening failed", "err", err, "app_id", m.AppID, "conv_id", m.ConvID)
			return
		}
		cur, first = c, created
		if created {
			s.m.transition(parley.ConsultPending)
			s.announce(ctx, c, "pending", "", "", "")
		}
	case cur.State == parley.ConsultInitial:
		c, err := s.store.Transition(ctx, Transition{AppID: m.AppID, ID: cur.ID, From: []parley.ConsultState{parley.ConsultInitial},
			To: parley.ConsultPending, By: user, At: ev.at})
		if err == nil {
			cur, first = c, true
			s.m.transition(parley.ConsultPending)
			s.announce(ctx, c, "pending", "", "", "")
		} else if parley.ErrorCode(err) != parley.EConflict {
			s.log.Error("consult: pending failed", "err", err, "app_id", m.AppID, "conv_id", m.ConvID)
			return
		}
	}
	if c, err := s.store.RecordMessage(ctx, MessageEvent{AppID: m.AppID, Consult: cur.ID, Sender: user, At: ev.at}); err == nil {
		cur = c
	}
	s.automate(ctx, cur, m, ev.at, first)
	if first {
		s.assign(ctx, cur.AppID, cur.Queue)
	}
}

// Info returns a consultation and, while it waits, its position, to its
// user, an agent of its shop, or the backend (viewer
// parley.SystemUserID). ENotFound otherwise, as for no consultation.
func (s *Service) Info(ctx context.Context, appID, viewer, id string) (wire.ConsultRes, error) {
	c, err := s.store.Consult(ctx, appID, id)
	if err != nil {
		return wire.ConsultRes{}, err
	}
	if viewer != parley.SystemUserID && viewer != c.User {
		if a, err := s.store.Agent(ctx, appID, viewer); err != nil || a.Shop != c.Shop {
			return wire.ConsultRes{}, parley.Errorf(parley.ENotFound, "consultation %q not found", id)
		}
	}
	res := wire.ConsultRes{Consult: c}
	if c.State == parley.ConsultPending {
		res.Position, _ = s.position(ctx, c)
	}
	return res, nil
}

// position returns c's place in its queue's line (1: next).
func (s *Service) position(ctx context.Context, c *parley.Consultation) (int, error) {
	ws, err := s.store.Waiting(ctx, c.AppID, c.Queue, parley.MaxConsultsListed)
	if err != nil {
		return 0, err
	}
	return slices.IndexFunc(ws, func(w parley.Consultation) bool { return w.ID == c.ID }) + 1, nil
}

// Resolve resolves a consultation. by is the agent serving it, a
// supervisor of its shop, or parley.SystemUserID (the backend). Errors:
// ENotFound, EForbidden for anyone else, EConflict if it is resolved.
func (s *Service) Resolve(ctx context.Context, appID, by, id string) (*parley.Consultation, error) {
	c, err := s.store.Consult(ctx, appID, id)
	if err != nil {
		return nil, err
	}
	if err := s.mayAct(ctx, c, by, true); err != nil {
		return nil, err
	}
	return s.resolve(ctx, c, by, 0)
}

func (s *Service) resolve(ctx context.Context, c *parley.Consultation, by string, ifDue int64) (*parley.Consultation, error) {
	r, err := s.store.Transition(ctx, Transition{AppID: c.AppID, ID: c.ID, To: parley.ConsultResolved, By: by, At: s.now(), IfDue: ifDue,
		From: []parley.ConsultState{parley.ConsultInitial, parley.ConsultPending, parley.ConsultAssigned}})
	if err != nil {
		return nil, err
	}
	s.m.transition(parley.ConsultResolved)
	s.forget(c.ID)
	s.announce(ctx, r, "resolved", by, "", "", c.Agent)
	s.assign(ctx, r.AppID, r.Queue) // a slot is free
	return r, nil
}

// mayAct checks that actor may change c: the backend, a supervisor of
// its shop, or (holder) the agent serving it.
func (s *Service) mayAct(ctx context.Context, c *parley.Consultation, actor string, holder bool) error {
	if actor == parley.SystemUserID {
		return nil
	}
	a, err := s.store.Agent(ctx, c.AppID, actor)
	if err != nil || a.Shop != c.Shop {
		return parley.Errorf(parley.EForbidden, "not an agent of shop %q", c.Shop)
	}
	if a.Supervisor || holder && c.State == parley.ConsultAssigned && c.Agent == actor {
		return nil
	}
	return parley.Errorf(parley.EForbidden, "only the agent serving it or a supervisor may do this")
}

// TransferRequest moves a consultation to an agent (a transfer, a manual
// assignment of a waiting one, or a supervisor's take-over with Agent =
// the supervisor) or back to the line for a team.
type TransferRequest struct {
	AppID, By, ID string
	Agent, Team   string // exactly one
	Note          string
}

// Transfer applies req. By is the agent serving it, a supervisor of the
// shop, or parley.SystemUserID. The thread, with its history, goes to
// the new agent, who becomes a member; the old one stops being one.
// Errors: EInvalid, ETooLarge (note), ENotFound, EForbidden, and
// EConflict when it is resolved or the agent is not available (offline,
// away or at capacity: nobody is ever taken past it).
func (s *Service) Transfer(ctx context.Context, req TransferRequest) (*parley.Consultation, error) {
	if (req.Agent == "") == (req.Team == "") {
		return nil, parley.Errorf(parley.EInvalid, "a transfer needs exactly one of agent and team")
	}
	if req.Agent != "" && !parley.ValidID(req.Agent) || req.Team != "" && !parley.ValidID(req.Team) {
		return nil, parley.Errorf(parley.EInvalid, "agent and team must be ids")
	}
	if err := parley.ValidateNote(req.Note); err != nil {
		return nil, err
	}
	c, err := s.store.Consult(ctx, req.AppID, req.ID)
	if err != nil {
		return nil, err
	}
	if err := s.mayAct(ctx, c, req.By, true); err != nil {
		return nil, err
	}
	t := Transition{AppID: c.AppID, ID: c.ID, By: req.By, Note: req.Note, At: s.now()}
	if req.Agent != "" {
		t.To, t.Agent = parley.ConsultAssigned, req.Agent
		t.From = []parley.ConsultState{parley.ConsultPending, parley.ConsultAssigned}
	} else {
		team := req.Team
		t.To, t.Team = parley.ConsultPending, &team
		t.From = []parley.ConsultState{parley.ConsultAssigned}
	}
	r, err := s.store.Transition(ctx, t)
	if err != nil {
		return nil, err
	}
	if r.State == parley.ConsultAssigned {
		s.m.transition(r.State) // a requeue is no new pending consultation
	}
	event := "transferred"
	if c.State == parley.ConsultPending {
		event = "assigned"
		s.forget(c.ID)
	}
	s.announce(ctx, r, event, req.By, req.Note, c.Agent, c.Agent)
	if r.State == parley.ConsultAssigned {
		s.greet(ctx, r)
	}
	s.assign(ctx, r.AppID, r.Queue)
	return r, nil
}

// Rate stores the user's satisfaction rating of a resolved consultation.
// Errors: EInvalid, ETooLarge, ENotFound, EForbidden (not the user's),
// EConflict (not resolved, or rated already).
func (s *Service) Rate(ctx context.Context, appID, user, id string, score int, comment string) (*parley.Consultation, error) {
	if err := parley.ValidateRating(score, comment); err != nil {
		return nil, err
	}
	c, err := s.store.Rate(ctx, appID, id, user, score, comment, s.now())
	if err != nil {
		return nil, err
	}
	s.m.rated(score)
	s.pushTo(ctx, c.AppID, append([]string{c.User, c.Agent}, s.supervisors(ctx, c.AppID, c.Shop)...),
		wire.ConsultPush{Event: "rated", Consult: c})
	return c, nil
}

// announce records a transition in the thread (a system message) and
// pushes it as a consult frame to the user, the agents concerned (also
// to others, such as the agent a transfer took it from) and the shop's
// supervisors, whose live view it keeps current.
func (s *Service) announce(ctx context.Context, c *parley.Consultation, event, by, note, from string, others ...string) {
	body, _ := json.Marshal(parley.ConsultEventBody{
		Event: event, Consult: c.ID, State: c.State, Shop: c.Shop, Agent: c.Agent, From: from, Team: c.Team,
		By: by, Note: note, Entry: c.Entry, Context: c.Context,
	})
	r := s.chat.Send(ctx, chat.SendRequest{AppID: c.AppID, Sender: parley.SystemUserID, ConvID: c.Conv,
		Kind: parley.KindSystem, Body: body})
	if r.Err != nil {
		s.log.Warn("consult: system message not stored", "err", r.Err, "app_id", c.AppID, "conv_id", c.Conv)
	}
	to := append(append([]string{c.User, c.Agent}, others...), s.supervisors(ctx, c.AppID, c.Shop)...)
	s.pushTo(ctx, c.AppID, to, wire.ConsultPush{Event: event, Consult: c})
}

// supervisors returns the supervisors of a shop (none if the store
// fails: a live view misses a push, consult_view still tells).
func (s *Service) supervisors(ctx context.Context, appID, shop string) []string {
	as, err := s.store.Agents(ctx, appID, shop)
	if err != nil {
		s.log.Warn("consult: reading the supervisors failed", "err", err, "app_id", appID)
		return nil
	}
	var ids []string
	for _, a := range as {
		if a.Supervisor {
			ids = append(ids, a.ID)
		}
	}
	return ids
}

// pushTo pushes a consult frame to users' online devices ("" and repeats
// skipped).
func (s *Service) pushTo(ctx context.Context, appID string, users []string, p wire.ConsultPush) {
	var to []string
	for _, u := range users {
		if u != "" && !slices.Contains(to, u) {
			to = append(to, u)
		}
	}
	if len(to) == 0 {
		return
	}
	d := parley.Delivery{AppID: appID, Users: to, Kind: chat.DeliverFrame, Payload: wire.ConsultFrame(p)}
	if err := s.push.Push(ctx, []parley.Delivery{d}); err != nil {
		s.log.Warn("consult: push failed", "err", err, "app_id", appID)
	}
}

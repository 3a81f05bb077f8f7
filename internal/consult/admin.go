package consult

import (
	"context"

	"github.com/parley-im/parley"
	"github.com/parley-im/parley/wire"
)

// PutShop creates or replaces a shop's settings (the business backend).
// Errors: EInvalid, ETooLarge.
func (s *Service) PutShop(ctx context.Context, sh *parley.Shop) error {
	if err := sh.Validate(); err != nil {
		return err
	}
	return s.store.PutShop(ctx, sh)
}

// Shop returns a shop's settings. ENotFound if there is none.
func (s *Service) Shop(ctx context.Context, appID, id string) (*parley.Shop, error) {
	return s.store.Shop(ctx, appID, id)
}

// PutQueue creates or replaces a queue of a shop. Errors: EInvalid,
// ETooLarge, ENotFound (no such shop).
func (s *Service) PutQueue(ctx context.Context, q *parley.ConsultQueue) error {
	if err := q.Validate(); err != nil {
		return err
	}
	if err := s.store.PutQueue(ctx, q); err != nil {
		return err
	}
	s.assign(ctx, q.AppID, q.ID)
	return nil
}

// PutAgent creates or updates an agent's profile; a new agent starts
// with a.Status (offline by default). Errors: EInvalid, ETooLarge,
// ENotFound (no such shop or user). More capacity serves the waiting
// lines at once.
func (s *Service) PutAgent(ctx context.Context, a *parley.Agent) error {
	if err := a.Validate(); err != nil {
		return err
	}
	if err := s.store.PutAgent(ctx, a); err != nil {
		return err
	}
	s.m.load(a.AppID, a.ID, a.Load)
	if a.Available() {
		s.assignShop(ctx, a.AppID, a.Shop)
	}
	return nil
}

// Agents returns a shop's agents with status and load.
func (s *Service) Agents(ctx context.Context, appID, shop string) ([]parley.Agent, error) {
	return s.store.Agents(ctx, appID, shop)
}

// Consults returns the consultations f selects, oldest first.
func (s *Service) Consults(ctx context.Context, appID string, f Filter) ([]parley.Consultation, error) {
	return s.store.Consults(ctx, appID, f)
}

// Canned returns the canned replies of an agent's shop. EForbidden if
// the user is not an agent.
func (s *Service) Canned(ctx context.Context, appID, agent string) (wire.CannedRes, error) {
	a, err := s.store.Agent(ctx, appID, agent)
	if err != nil {
		return wire.CannedRes{}, parley.Errorf(parley.EForbidden, "only agents have canned replies")
	}
	sh, err := s.store.Shop(ctx, appID, a.Shop)
	if err != nil {
		return wire.CannedRes{}, err
	}
	res := wire.CannedRes{Canned: sh.Canned}
	if res.Canned == nil {
		res.Canned = []parley.CannedReply{}
	}
	return res, nil
}

// supervisor returns the shop a viewer supervises: any shop for the
// backend (shop must then be named), the viewer's own for a supervisor
// agent. EForbidden for anyone else.
func (s *Service) supervisor(ctx context.Context, appID, viewer, shop string) (string, error) {
	if viewer == parley.SystemUserID {
		if shop == "" {
			return "", parley.Errorf(parley.EInvalid, "name a shop")
		}
		return shop, nil
	}
	a, err := s.store.Agent(ctx, appID, viewer)
	if err != nil || !a.Supervisor || (shop != "" && shop != a.Shop) {
		return "", parley.Errorf(parley.EForbidden, "only the shop's supervisors may do this")
	}
	return a.Shop, nil
}

// View is the supervisor's live view of a shop: its queues with how many
// wait in each, its agents with status and load, and its open
// consultations. viewer is a supervisor agent of the shop or
// parley.SystemUserID. Errors: EForbidden, EInvalid.
func (s *Service) View(ctx context.Context, appID, viewer, shop string) (wire.ConsultViewRes, error) {
	shop, err := s.supervisor(ctx, appID, viewer, shop)
	if err != nil {
		return wire.ConsultViewRes{}, err
	}
	if _, err := s.store.Shop(ctx, appID, shop); err != nil {
		return wire.ConsultViewRes{}, err
	}
	res := wire.ConsultViewRes{Queues: []wire.QueueView{}}
	if res.Agents, err = s.store.Agents(ctx, appID, shop); err != nil {
		return wire.ConsultViewRes{}, err
	}
	if res.Consults, err = s.store.Consults(ctx, appID, Filter{Shop: shop,
		States: []parley.ConsultState{parley.ConsultInitial, parley.ConsultPending, parley.ConsultAssigned}}); err != nil {
		return wire.ConsultViewRes{}, err
	}
	qs, err := s.store.Queues(ctx, appID, shop)
	if err != nil {
		return wire.ConsultViewRes{}, err
	}
	if !containsQueue(qs, shop) {
		def, _ := s.queueFor(ctx, appID, shop, "")
		qs = append([]parley.ConsultQueue{*def}, qs...)
	}
	for _, q := range qs {
		n := 0
		for _, c := range res.Consults {
			if c.Queue == q.ID && c.State == parley.ConsultPending {
				n++
			}
		}
		res.Queues = append(res.Queues, wire.QueueView{Queue: q, Waiting: n})
	}
	if res.Agents == nil {
		res.Agents = []parley.Agent{}
	}
	if res.Consults == nil {
		res.Consults = []parley.Consultation{}
	}
	return res, nil
}

func containsQueue(qs []parley.ConsultQueue, id string) bool {
	for _, q := range qs {
		if q.ID == id {
			return true
		}
	}
	return false
}

// Watch returns a page of a consultation's thread to a supervisor of its
// shop (quality inspection), without making them a member. Errors:
// ENotFound, EForbidden.
func (s *Service) Watch(ctx context.Context, appID, viewer, id string, r parley.MessageRange) (wire.PullRes, error) {
	conv, err := s.WatchConv(ctx, appID, viewer, id)
	if err != nil {
		return wire.PullRes{}, err
	}
	return s.chat.History(ctx, appID, conv, r)
}

// WatchConv returns the thread of consultation id if viewer may watch it
// (a supervisor of its shop, or the backend): what a live watch
// subscribes to. Errors: ENotFound, EForbidden.
func (s *Service) WatchConv(ctx context.Context, appID, viewer, id string) (string, error) {
	c, err := s.store.Consult(ctx, appID, id)
	if err != nil {
		return "", err
	}
	if _, err := s.supervisor(ctx, appID, viewer, c.Shop); err != nil {
		return "", err
	}
	return c.Conv, nil
}

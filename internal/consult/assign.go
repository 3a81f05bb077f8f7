package consult

import (
	"context"
	"slices"

	"github.com/parley-im/parley"
	"github.com/parley-im/parley/wire"
)

// maxAssignRounds bounds how often one assign call starts over after
// losing a race (another node or goroutine took the agent or the
// consultation first); whatever it leaves is picked up by the next event
// that frees or adds capacity.
const maxAssignRounds = 20

// assign serves a queue's waiting line, first come first served: for
// each waiting consultation in order (PendingAt, then id) it picks an
// agent by the queue's strategy among the available ones (online, under
// capacity, in the consultation's team or else the queue's) and asks the
// store to assign it. The store's conditional Transition is what makes it
// safe to run anywhere at any time: a lost race (EConflict) only makes
// it read the line and the agents again. Finally every consultation
// still waiting is told its position if it changed.
//
// On one node, calls for the same queue are coalesced: while one serves
// the line, others only ask it to go round once more, so no call is lost
// and the line is not read by many goroutines at once. Other nodes race
// through the store's conditions.
func (s *Service) assign(_ context.Context, appID, queueID string) {
	if queueID == "" {
		return
	}
	k := agentKey{appID, queueID}
	s.mu.Lock()
	if d, busy := s.drains[k]; busy {
		*d = true // the one serving it goes round again
		s.mu.Unlock()
		return
	}
	again := new(bool)
	s.drains[k] = again
	s.mu.Unlock()
	for {
		// Each pass has its own deadline: a pass may be asked for again
		// and again while the caller's context runs out.
		pass, cancel := s.bg()
		s.serve(pass, appID, queueID)
		cancel()
		s.mu.Lock()
		if !*again {
			delete(s.drains, k)
			s.mu.Unlock()
			return
		}
		*again = false
		s.mu.Unlock()
	}
}

// serve is one pass of assign over a queue's line. Finally it tells the
// consultations it found waiting and could not assign their positions;
// one that started waiting during the pass is left to the pass its own
// arrival asks for, so that nobody is told "waiting" while an agent is
// free for them (a pass that read the line before they joined it would
// otherwise tell them so, just before the next pass assigns them).
func (s *Service) serve(ctx context.Context, appID, queueID string) {
	seen := map[string]bool{}
	defer func() { s.tellPositions(ctx, appID, queueID, seen) }()
	for range maxAssignRounds {
		waiting, err := s.store.Waiting(ctx, appID, queueID, parley.MaxConsultsListed)
		if err != nil || len(waiting) == 0 {
			return
		}
		clear(seen)
		for i := range waiting {
			seen[waiting[i].ID] = true
		}
		q, err := s.queueFor(ctx, appID, waiting[0].Shop, queueID)
		if err != nil {
			return
		}
		agents, err := s.store.Agents(ctx, appID, q.Shop)
		if err != nil {
			return
		}
		lost := false
		for i := range waiting {
			c := &waiting[i]
			team := c.Team
			if team == "" {
				team = q.Team
			}
			var cands []*parley.Agent
			for j := range agents {
				if a := &agents[j]; a.Available() && a.InTeam(team) && a.ID != c.User {
					cands = append(cands, a)
				}
			}
			if len(cands) == 0 {
				continue // the next one may need another team
			}
			a := s.pick(ctx, q, c, cands)
			t := Transition{AppID: appID, ID: c.ID, From: []parley.ConsultState{parley.ConsultPending},
				To: parley.ConsultAssigned, Agent: a.ID, By: parley.SystemUserID, At: s.now()}
			if q.Strategy == parley.StrategyEven {
				t.Cursor = a.ID
			}
			r, err := s.store.Transition(ctx, t)
			if err != nil {
				if parley.ErrorCode(err) == parley.EConflict {
					lost = true
					break
				}
				s.log.Error("consult: assignment failed", "err", err, "app_id", appID)
				return
			}
			delete(seen, c.ID)
			a.Load++
			q.Cursor = a.ID
			s.m.transition(parley.ConsultAssigned)
			s.m.load(appID, a.ID, a.Load)
			s.forget(c.ID)
			s.announce(ctx, r, "assigned", parley.SystemUserID, "", "")
			s.greet(ctx, r)
		}
		if !lost {
			return
		}
	}
}

// pick chooses among available agents (cands, in id order) by the
// queue's strategy; a routing hook, if the queue has one, is asked first.
//
//   - even: the first agent after the queue's Cursor in id order,
//     wrapping around (round-robin over whoever is available).
//   - least_loaded: the lowest Load; ties go to the lowest Load/MaxLoad,
//     then to the lowest id.
//   - weighted: the highest Weight x (MaxLoad - Load); ties go to the
//     lowest Load, then to the lowest id.
//   - sticky: the agent who served the user's previous consultation of
//     the shop, if available; otherwise least_loaded.
func (s *Service) pick(ctx context.Context, q *parley.ConsultQueue, c *parley.Consultation, cands []*parley.Agent) *parley.Agent {
	if q.Hook != "" {
		if a := s.askHook(ctx, q, c, cands); a != nil {
			return a
		}
	}
	switch q.Strategy {
	case parley.StrategyEven:
		for _, a := range cands {
			if a.ID > q.Cursor {
				return a
			}
		}
		return cands[0]
	case parley.StrategyWeighted:
		return slices.MinFunc(cands, func(a, b *parley.Agent) int {
			sa, sb := a.Weight*(a.MaxLoad-a.Load), b.Weight*(b.MaxLoad-b.Load)
			if sa != sb {
				return sb - sa
			}
			return a.Load - b.Load
		})
	case parley.StrategySticky:
		if last, err := s.store.LastAgent(ctx, c.AppID, c.Shop, c.User, c.ID); err == nil && last != "" {
			for _, a := range cands {
				if a.ID == last {
					return a
				}
			}
		}
	}
	return slices.MinFunc(cands, func(a, b *parley.Agent) int {
		if a.Load != b.Load {
			return a.Load - b.Load
		}
		return a.Load*b.MaxLoad - b.Load*a.MaxLoad
	})
}

// greet sends the shop's greeting into the thread after an assignment.
func (s *Service) greet(ctx context.Context, c *parley.Consultation) {
	sh, err := s.store.Shop(ctx, c.AppID, c.Shop)
	if err != nil || sh.Greeting == "" {
		return
	}
	s.autoReply(ctx, c, "greeting", sh.Greeting)
}

// tellPositions pushes to each consultation waiting in a queue that is
// in only its position, if it is not the one it was last told.
func (s *Service) tellPositions(ctx context.Context, appID, queueID string, only map[string]bool) {
	waiting, err := s.store.Waiting(ctx, appID, queueID, parley.MaxConsultsListed)
	if err != nil {
		return
	}
	s.m.waiting(appID, queueID, len(waiting))
	for i := range waiting {
		c := &waiting[i]
		if !only[c.ID] {
			continue
		}
		s.mu.Lock()
		changed := s.told[c.ID] != i+1
		s.told[c.ID] = i + 1
		s.mu.Unlock()
		if changed {
			s.pushTo(ctx, appID, []string{c.User}, wire.ConsultPush{Event: "waiting", Consult: c, Position: i + 1})
		}
	}
}

// forget drops what was last told of a consultation that stopped
// waiting.
func (s *Service) forget(id string) {
	s.mu.Lock()
	delete(s.told, id)
	s.mu.Unlock()
}

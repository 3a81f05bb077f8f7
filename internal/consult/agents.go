package consult

import (
	"context"

	"github.com/parley-im/parley"
	"github.com/parley-im/parley/wire"
)

// recentResolved is how many of a user's latest resolved consultations
// have their agents told of the user's presence (besides the agents
// serving the user now).
const recentResolved = 3

// resolveDue resolves the consultations whose user stayed silent for the
// shop's AutoResolveSeconds after an agent's message (a timers step).
func (s *Service) resolveDue() {
	ctx, cancel := s.bg()
	defer cancel()
	due, err := s.store.DueForResolve(ctx, s.now(), 100)
	if err != nil {
		s.log.Error("consult: reading due resolutions failed", "err", err)
		return
	}
	for i := range due {
		c := &due[i]
		if _, err := s.resolve(ctx, c, parley.SystemUserID, c.ResolveDue); err != nil && parley.ErrorCode(err) != parley.EConflict {
			s.log.Error("consult: automatic resolution failed", "err", err, "app_id", c.AppID)
		}
	}
}

// SetStatus sets an agent's own status (the consult_status frame, or
// the backend), told to the agent's devices and the shop's supervisors.
// Going online serves the shop's waiting lines at once.
// ENotFound if the user is not an agent.
func (s *Service) SetStatus(ctx context.Context, appID, agent string, st parley.AgentStatus) (*parley.Agent, error) {
	if !st.Valid() {
		return nil, parley.Errorf(parley.EInvalid, "status must be online, away or offline")
	}
	a, err := s.store.SetAgentStatus(ctx, appID, agent, st)
	if err != nil {
		return nil, err
	}
	s.m.load(appID, a.ID, a.Load)
	s.pushTo(ctx, appID, append([]string{agent}, s.supervisors(ctx, appID, a.Shop)...), wire.ConsultPush{Event: "status", Agent: a})
	if st == parley.AgentOnline {
		s.assignShop(ctx, appID, a.Shop)
	}
	return a, nil
}

// assignShop serves every waiting line of a shop (capacity was added).
func (s *Service) assignShop(ctx context.Context, appID, shop string) {
	qs, err := s.store.Queues(ctx, appID, shop)
	if err != nil {
		return
	}
	ids := []string{shop} // the default queue, stored or not
	for _, q := range qs {
		if q.ID != shop {
			ids = append(ids, q.ID)
		}
	}
	for _, id := range ids {
		s.assign(ctx, appID, id)
	}
}

// PresenceChanged is social's presence observer: it is told when a
// user comes online or goes offline (after social's debounce) and
// returns the agents to tell besides the users who care: those serving
// the user now and those of the user's latest resolved consultations.
// An agent going offline starts the offline grace (Config.OfflineGrace):
// if none of the agent's devices is back by its end, the agent's status
// becomes offline; coming back online cancels it.
func (s *Service) PresenceChanged(ctx context.Context, appID, user string, online bool) ([]string, error) {
	k := agentKey{appID, user}
	s.mu.Lock()
	if online {
		delete(s.leftAt, k)
	}
	s.mu.Unlock()
	if !online {
		if a, err := s.store.Agent(ctx, appID, user); err == nil && a.Status != parley.AgentOffline {
			s.mu.Lock()
			s.leftAt[k] = s.cfg.Clock.Now()
			s.mu.Unlock()
		}
	}
	return s.store.Watchers(ctx, appID, user, recentResolved)
}

// offlineDue sets offline the agents whose grace has passed with no
// device back (a timers step). Without a Locator it trusts the presence
// change alone.
func (s *Service) offlineDue() {
	now := s.cfg.Clock.Now()
	var due []agentKey
	s.mu.Lock()
	for k, t := range s.leftAt {
		if now.Sub(t) >= s.cfg.OfflineGrace {
			due = append(due, k)
			delete(s.leftAt, k)
		}
	}
	s.mu.Unlock()
	if len(due) == 0 {
		return
	}
	ctx, cancel := s.bg()
	defer cancel()
	for _, k := range due {
		if s.reg != nil {
			if conns, err := s.reg.Locate(ctx, k.app, []string{k.agent}); err != nil || len(conns) > 0 {
				continue
			}
		}
		if _, err := s.SetStatus(ctx, k.app, k.agent, parley.AgentOffline); err != nil {
			s.log.Warn("consult: setting an agent offline failed", "err", err, "app_id", k.app, "user_id", k.agent)
		}
	}
}

package consult

import (
	"context"

	"github.com/parley-im/parley"
	"github.com/parley-im/parley/wire"
)

// DeliverWatch is the delivery kind of a thread message copied to the
// shop's supervisors for live watching: Payload is a consult_msg frame
// (wire.ConsultMsgFrame). It goes to every connection of the shop's
// supervisors, on whatever node; the gateway writes it only to the
// sessions that watch the thread (consult_watch with live), so watching
// works whichever node commits the message.
const DeliverWatch = "consult_msg"

// supervisorTTL is how long a shop's supervisor list is reused for the
// copies of its threads' messages: a supervisor added or removed gets,
// or stops getting, the copies within this time.
const supervisorTTL = 5_000 // ms of the clock

// maxSupervisorCache bounds the shops whose supervisors are remembered;
// past it the memory is emptied (and refilled as messages come).
const maxSupervisorCache = 4096

// supervisorList is a shop's supervisors as read at (Unix ms).
type supervisorList struct {
	ids []string
	at  int64
}

// relay copies a stored thread message to the shop's supervisors as a
// consult_msg push of kind DeliverWatch. It runs on the thread's worker,
// so a thread's copies leave in message order. A failed read of the
// supervisors or a failed push loses the copy (logged): consult_watch
// with after tells the same.
func (s *Service) relay(m *parley.Message) {
	shop, _, ok := parley.ConsultPeers(m.ConvID)
	if !ok {
		return
	}
	ctx, cancel := s.bg()
	defer cancel()
	sups := s.cachedSupervisors(ctx, m.AppID, shop)
	if len(sups) == 0 {
		return
	}
	d := parley.Delivery{AppID: m.AppID, Users: sups, Kind: DeliverWatch, Payload: wire.ConsultMsgFrame(m)}
	if err := s.push.Push(ctx, []parley.Delivery{d}); err != nil {
		s.log.Warn("consult: copy to watchers failed", "err", err, "app_id", m.AppID, "conv_id", m.ConvID, "msg_id", m.ID)
	}
}

// cachedSupervisors is supervisors, remembered for supervisorTTL so that
// a busy shop's messages do not each read its agents.
func (s *Service) cachedSupervisors(ctx context.Context, appID, shop string) []string {
	k, now := agentKey{appID, shop}, s.now()
	s.mu.Lock()
	l, ok := s.sups[k]
	s.mu.Unlock()
	if ok && now-l.at < supervisorTTL && now >= l.at {
		return l.ids
	}
	ids := s.supervisors(ctx, appID, shop)
	s.mu.Lock()
	if len(s.sups) >= maxSupervisorCache {
		clear(s.sups)
	}
	s.sups[k] = supervisorList{ids: ids, at: now}
	s.mu.Unlock()
	return ids
}

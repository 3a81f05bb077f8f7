package gateway

import (
	"context"

	"github.com/parley-im/parley"
	"github.com/parley-im/parley/internal/consult"
	"github.com/parley-im/parley/wire"
)

// Consult is the customer service sessions call; *consult.Service
// implements it. Users open, rate and follow their consultations; agents
// set their status, resolve and transfer theirs and read canned replies;
// supervisors view, watch (live: watch.go), take over and reassign.
type Consult interface {
	Open(ctx context.Context, req consult.OpenRequest) (*parley.Consultation, error)
	Info(ctx context.Context, appID, viewer, id string) (wire.ConsultRes, error)
	SetStatus(ctx context.Context, appID, agent string, st parley.AgentStatus) (*parley.Agent, error)
	Resolve(ctx context.Context, appID, by, id string) (*parley.Consultation, error)
	Transfer(ctx context.Context, req consult.TransferRequest) (*parley.Consultation, error)
	Rate(ctx context.Context, appID, user, id string, score int, comment string) (*parley.Consultation, error)
	Canned(ctx context.Context, appID, agent string) (wire.CannedRes, error)
	View(ctx context.Context, appID, viewer, shop string) (wire.ConsultViewRes, error)
	Watch(ctx context.Context, appID, viewer, id string, r parley.MessageRange) (wire.PullRes, error)
	WatchConv(ctx context.Context, appID, viewer, id string) (string, error)
}

// consult serves the consult_* frames (wire/consult.go).
func (s *Session) consult(ctx context.Context, in *wire.In) (any, error) {
	cs := s.g.cfg.Consult
	if cs == nil {
		return nil, parley.Errorf(parley.EUnavailable, "customer service is not served here")
	}
	one := func(c *parley.Consultation, err error) (any, error) {
		if err != nil {
			return nil, err
		}
		return wire.ConsultRes{Consult: c}, nil
	}
	switch in.Type {
	case wire.TConsultOpen:
		return one(cs.Open(ctx, consult.OpenRequest{AppID: s.app, User: s.user, Shop: in.Shop, Queue: in.Queue,
			Entry: in.Entry, Context: in.Context}))
	case wire.TConsultInfo:
		return cs.Info(ctx, s.app, s.user, in.Consult)
	case wire.TConsultStatus:
		a, err := cs.SetStatus(ctx, s.app, s.user, parley.AgentStatus(in.Status))
		if err != nil {
			return nil, err
		}
		return wire.AgentRes{Agent: a}, nil
	case wire.TConsultResolve:
		return one(cs.Resolve(ctx, s.app, s.user, in.Consult))
	case wire.TConsultTransfer:
		return one(cs.Transfer(ctx, consult.TransferRequest{AppID: s.app, By: s.user, ID: in.Consult,
			Agent: in.Agent, Team: in.Team, Note: in.Note}))
	case wire.TConsultRate:
		return one(cs.Rate(ctx, s.app, s.user, in.Consult, in.Score, in.Comment))
	case wire.TConsultCanned:
		return cs.Canned(ctx, s.app, s.user)
	case wire.TConsultView:
		return cs.View(ctx, s.app, s.user, in.Shop)
	case wire.TConsultWatch:
		added := false
		if in.Live {
			// Subscribed before the page is read, so that no message
			// falls between the two (one may be in both).
			conv, err := cs.WatchConv(ctx, s.app, s.user, in.Consult)
			if err != nil {
				return nil, err
			}
			if added, err = s.g.watch.watch(s, in.Consult, conv); err != nil {
				return nil, err
			}
		}
		res, err := cs.Watch(ctx, s.app, s.user, in.Consult, parley.MessageRange{After: in.After, Limit: in.LimitOr(wire.DefaultLimit)})
		if err != nil && added {
			s.g.watch.unwatch(s, in.Consult)
		}
		return res, err
	case wire.TConsultUnwatch:
		return wire.UnwatchRes{Stopped: s.g.watch.unwatch(s, in.Consult)}, nil
	}
	return nil, parley.Errorf(parley.EBadFrame, "unknown frame type")
}

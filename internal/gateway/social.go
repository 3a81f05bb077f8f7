package gateway

import (
	"context"

	"github.com/parley-im/parley"
	"github.com/parley-im/parley/wire"
)

// social serves the contacts, profiles and presence frames.
func (s *Session) social(ctx context.Context, in *wire.In) (any, error) {
	soc := s.g.cfg.Social
	if soc == nil {
		return nil, parley.Errorf(parley.EUnavailable, "contacts, profiles and presence are not served here")
	}
	switch in.Type {
	case wire.TContactsAdd:
		return soc.AddContacts(ctx, s.app, s.user, in.Users, in.Alias, s.connID)
	case wire.TContactsRemove:
		return soc.RemoveContacts(ctx, s.app, s.user, in.Users, s.connID)
	case wire.TContacts:
		return soc.Contacts(ctx, s.app, s.user, in.Since, in.LimitOr(wire.DefaultLimit))
	case wire.TProfiles:
		return soc.Profiles(ctx, s.app, s.user, in.Since, in.LimitOr(wire.DefaultLimit))
	case wire.TPresence:
		return soc.PresenceOf(ctx, s.app, s.user, in.Users)
	}
	return nil, parley.Errorf(parley.EBadFrame, "unknown frame type")
}

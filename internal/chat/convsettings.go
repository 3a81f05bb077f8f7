package chat

import (
	"context"

	"github.com/parley-im/parley"
	"github.com/parley-im/parley/wire"
)

// SetConvSettings changes userID's own settings of a conversation (see
// parley.ConvSettings) and, if anything changed, tells the user's other
// devices (every connection but skipConn) with a conv push. A direct
// conversation with no message yet is created first, so that a user can
// mute a peer before either has written. Errors: EInvalid for settings
// that change nothing, EForbidden for a non-member, ENotFound for an
// unknown conversation or peer.
func (s *Service) SetConvSettings(ctx context.Context, appID, userID, convID string, c parley.ConvSettings, skipConn string) (parley.ConvState, error) {
	if err := c.Validate(); err != nil {
		return parley.ConvState{}, err
	}
	if _, _, direct := parley.DirectPeers(convID); direct {
		if _, err := s.resolveConv(ctx, appID, userID, "", convID); err != nil {
			return parley.ConvState{}, err
		}
	}
	st, changed, err := s.store.SetConvSettings(ctx, appID, convID, userID, c)
	if err != nil || !changed {
		return st, err
	}
	d := parley.Delivery{AppID: appID, Users: []string{userID}, SkipConn: skipConn, Kind: DeliverFrame, Payload: wire.ConvChanged(st)}
	if err := s.push.Push(ctx, []parley.Delivery{d}); err != nil {
		s.log.Debug("conv settings push failed", "err", err, "conv_id", convID)
	}
	return st, nil
}

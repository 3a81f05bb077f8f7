package chat

import (
	"context"

	"github.com/parley-im/parley"
	"github.com/parley-im/parley/wire"
)

// DeliverFrame is the delivery kind of a ready-made frame that the gateway
// writes as it is (no push number, no ack): typing indicators.
const DeliverFrame = "chat_frame"

// MaxTypingGroup is the largest group whose typing indicators are relayed;
// in bigger groups they would be noise to thousands of devices, and the
// call succeeds without telling anyone.
const MaxTypingGroup = 500

// Typing tells the other members' online devices, and the user's other
// devices (all but skipConn), that userID is typing in convID. Nothing is
// stored. Errors: EDisabled if the app has typing indicators off,
// EForbidden if the user is not a member (and, for a system
// conversation, always), ENotFound if the conversation does not exist.
// The caller rate-limits.
func (s *Service) Typing(ctx context.Context, appID, userID, convID, skipConn string) error {
	if set, err := s.settings(ctx, appID); err != nil {
		return err
	} else if !set.Typing {
		return parley.Errorf(parley.EDisabled, "typing indicators are switched off for this app")
	}
	if a, _, ok := parley.DirectPeers(convID); ok && a == parley.SystemUserID {
		return parley.Errorf(parley.EForbidden, "system conversations are read-only for clients")
	}
	if err := s.checkMember(ctx, appID, convID, userID); err != nil {
		return err
	}
	if gid, ok := parley.GroupOf(convID); ok {
		g, err := s.store.Group(ctx, appID, gid)
		if err != nil {
			return err
		}
		if g.Members > MaxTypingGroup {
			return nil
		}
	}
	members, err := s.members(ctx, appID, convID)
	if err != nil {
		return err
	}
	d := parley.Delivery{AppID: appID, Users: members, SkipConn: skipConn, Kind: DeliverFrame, Payload: wire.Typing(convID, userID)}
	if err := s.push.Push(ctx, []parley.Delivery{d}); err != nil {
		s.log.Debug("typing push failed", "err", err, "conv_id", convID)
	}
	return nil
}

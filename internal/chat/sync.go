package chat

import (
	"context"
	"encoding/json"

	"github.com/parley-im/parley"
	"github.com/parley-im/parley/wire"
)

// Sync returns the user's conversations changed since the change version
// since, oldest change first, and the version to sync from next time. A
// device that keeps that version and each conversation's seq learns, at a
// cost proportional to what changed, exactly which messages it misses.
func (s *Service) Sync(ctx context.Context, appID, userID string, since uint64, limit int) (wire.SyncRes, error) {
	convs, err := s.store.Changes(ctx, appID, userID, since, limit+1)
	if err != nil {
		return wire.SyncRes{}, err
	}
	res := wire.SyncRes{Convs: convs, Ver: since}
	if len(convs) > limit {
		res.More = true
		convs = convs[:limit]
		res.Convs = convs
	}
	if res.Convs == nil {
		res.Convs = []parley.ConvState{}
	}
	for _, c := range convs {
		res.Ver = max(res.Ver, c.Ver)
	}
	s.hideReceipts(ctx, appID, res.Convs)
	return res, nil
}

// Pull returns a range of a conversation's messages, if the user belongs
// to it (EForbidden otherwise). More is true when the range holds more
// messages than were returned.
//
// A former group member may pull up to the message that recorded their
// leaving or removal, and nothing after it.
func (s *Service) Pull(ctx context.Context, appID, userID, convID string, r parley.MessageRange) (wire.PullRes, error) {
	if gid, ok := parley.GroupOf(convID); ok {
		m, err := s.store.GroupMember(ctx, appID, gid, userID)
		if err != nil {
			return wire.PullRes{}, err
		}
		if m.LeftSeq > 0 && (r.Before == 0 || r.Before > m.LeftSeq+1) {
			r.Before = m.LeftSeq + 1
		}
		return s.History(ctx, appID, convID, r)
	}
	if err := s.checkMember(ctx, appID, convID, userID); err != nil {
		return wire.PullRes{}, err
	}
	return s.History(ctx, appID, convID, r)
}

// History is Pull for business backends: no membership check.
func (s *Service) History(ctx context.Context, appID, convID string, r parley.MessageRange) (wire.PullRes, error) {
	limit := r.Limit
	r.Limit++ // one more to learn whether there is more
	msgs, err := s.store.Messages(ctx, appID, convID, r)
	if err != nil {
		return wire.PullRes{}, err
	}
	res := wire.PullRes{Conv: convID, Msgs: msgs}
	if len(msgs) > limit {
		res.More = true
		if r.Newest {
			res.Msgs = msgs[1:]
		} else {
			res.Msgs = msgs[:limit]
		}
	}
	if res.Msgs == nil {
		res.Msgs = []parley.Message{}
	}
	return res, nil
}

// Conversations returns the user's conversation list, most recent first.
func (s *Service) Conversations(ctx context.Context, appID, userID string, beforeVer uint64, limit int) (wire.ConvsRes, error) {
	convs, err := s.store.Conversations(ctx, appID, userID, beforeVer, limit+1)
	if err != nil {
		return wire.ConvsRes{}, err
	}
	res := wire.ConvsRes{Convs: convs, More: len(convs) > limit}
	if res.More {
		res.Convs = convs[:limit]
	}
	if res.Convs == nil {
		res.Convs = []parley.ConvState{}
	}
	s.hideReceipts(ctx, appID, res.Convs)
	return res, nil
}

// Read moves the user's read cursor in a conversation to seq. If it moved,
// the user's other devices (all but skipConn) and, in a direct
// conversation, the peer learn it by a read push: unread counts converge
// on every device, and the peer gets a read receipt. In a group only the
// user's own devices are told (members ask with ReadReceipts instead), so
// that reading costs the same in a group of any size. When the app has
// read receipts off, only the user's own devices are told in a direct
// conversation too, and the answer holds no peer cursor.
func (s *Service) Read(ctx context.Context, appID, userID, convID string, seq uint64, skipConn string) (parley.ConvState, error) {
	if err := s.checkMember(ctx, appID, convID, userID); err != nil {
		return parley.ConvState{}, err
	}
	st, moved, err := s.store.MarkRead(ctx, appID, convID, userID, seq)
	if err != nil {
		return st, err
	}
	receipts := s.receiptsOn(ctx, appID)
	if !receipts {
		st.PeerReadSeq = 0
	}
	if !moved {
		return st, nil
	}
	members := []string{userID}
	if _, group := parley.GroupOf(convID); !group && receipts {
		if members, err = s.members(ctx, appID, convID); err != nil {
			return st, nil // the cursor moved; the push is only an optimisation
		}
	}
	payload, _ := json.Marshal(wire.ReadEvent{Conv: convID, User: userID, Seq: st.ReadSeq})
	d := parley.Delivery{AppID: appID, Users: members, SkipConn: skipConn, Kind: DeliverRead, Payload: payload}
	if err := s.push.Push(ctx, []parley.Delivery{d}); err != nil {
		s.log.Debug("read push failed", "err", err, "conv_id", convID)
	}
	return st, nil
}

func (s *Service) checkMember(ctx context.Context, appID, convID, userID string) error {
	if a, b, ok := parley.DirectPeers(convID); ok {
		if userID != a && userID != b {
			return parley.Errorf(parley.EForbidden, "not a member of this conversation")
		}
		// A direct conversation with no message yet does not exist in
		// the store; reading it is allowed and finds nothing.
		return nil
	}
	return s.store.IsMember(ctx, appID, convID, userID)
}

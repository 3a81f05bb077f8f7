package gateway

import (
	"context"

	"github.com/parley-im/parley"
	"github.com/parley-im/parley/internal/chat"
	"github.com/parley-im/parley/wire"
)

// Groups is the group logic sessions call; *chat.Service implements it.
type Groups interface {
	CreateGroup(ctx context.Context, req chat.CreateGroupRequest) (chat.GroupResult, error)
	ChangeGroup(ctx context.Context, c parley.GroupChange, skipConn string) (chat.GroupResult, error)
	GroupInfo(ctx context.Context, appID, userID, groupID string) (*parley.Group, error)
	GroupMembers(ctx context.Context, appID, userID, groupID, after string, limit int) (wire.GroupMembersRes, error)
	ReadReceipts(ctx context.Context, appID, userID, convID string, seq uint64) (wire.ReadReceiptsRes, error)
}

// group serves the group frames and read_receipts (wire/group.go).
func (s *Session) group(ctx context.Context, in *wire.In) (any, error) {
	switch in.Type {
	case wire.TGroupCreate:
		req := chat.CreateGroupRequest{AppID: s.app, Actor: s.user, ID: in.Group, Members: in.Members, SkipConn: s.connID}
		if in.Profile != nil {
			req.Profile = *in.Profile
		}
		r, err := s.g.chat.CreateGroup(ctx, req)
		if err != nil {
			return nil, err
		}
		return wire.GroupRes{Group: r.Group, Msg: r.Msg}, nil
	case wire.TGroupInfo:
		g, err := s.g.chat.GroupInfo(ctx, s.app, s.user, in.Group)
		if err != nil {
			return nil, err
		}
		return wire.GroupRes{Group: g}, nil
	case wire.TGroupMembers:
		return s.g.chat.GroupMembers(ctx, s.app, s.user, in.Group, in.AfterUser, in.LimitOr(wire.DefaultLimit))
	case wire.TReadReceipts:
		return s.g.chat.ReadReceipts(ctx, s.app, s.user, in.Conv, in.Seq)
	}
	c := parley.GroupChange{AppID: s.app, GroupID: in.Group, Actor: s.user}
	if in.User != "" {
		c.Users = []string{in.User}
	}
	switch in.Type {
	case wire.TGroupUpdate:
		c.Event, c.Profile = parley.EventProfile, *in.Profile
	case wire.TGroupAdd:
		c.Event, c.Users = parley.EventJoined, in.Members
	case wire.TGroupRemove:
		c.Event = parley.EventRemoved
	case wire.TGroupLeave:
		c.Event = parley.EventLeft
	case wire.TGroupRole:
		c.Event, c.Role = parley.EventRole, parley.GroupRole(in.Role)
	case wire.TGroupTransfer:
		c.Event = parley.EventTransferred
	case wire.TGroupMute:
		c.Event = parley.EventMuted
		if in.Seconds > 0 {
			c.MutedUntil = s.g.cfg.Now().UnixMilli() + in.Seconds*1000
		}
	case wire.TGroupMuteAll:
		c.Event, c.MuteAll = parley.EventMuteAll, in.Mute
	case wire.TGroupDissolve:
		c.Event = parley.EventDissolved
	default:
		return nil, parley.Errorf(parley.EBadFrame, "unknown frame type")
	}
	r, err := s.g.chat.ChangeGroup(ctx, c, s.connID)
	if err != nil {
		return nil, err
	}
	return wire.GroupChangeRes{Changed: r.Changed, Msg: r.Msg}, nil
}

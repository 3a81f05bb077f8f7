package client

import (
	"context"
	"time"

	"github.com/parley-im/parley"
	"github.com/parley-im/parley/wire"
)

// Groups. Every change is answered with the system message that records
// it (nil when nothing changed); the group's members, this user's other
// devices included, receive the same message through OnMessage. Messages
// to a group are sent with SendConv(ctx, parley.GroupConvID(id), ...).
// docs/protocol.md lists the rules and every error.

// CreateGroup creates a group this user owns, with members (at most
// parley.MaxGroupUsersPerChange). id "" lets the server choose one.
func (c *Client) CreateGroup(ctx context.Context, id string, p parley.GroupProfile, members []string) (wire.GroupRes, error) {
	var res wire.GroupRes
	err := c.call(ctx, wire.In{Type: wire.TGroupCreate, GroupFields: wire.GroupFields{Group: id, Members: members, Profile: &p}}, &res)
	return res, err
}

// GroupInfo returns a group's profile and state.
func (c *Client) GroupInfo(ctx context.Context, id string) (*parley.Group, error) {
	var res wire.GroupRes
	if err := c.call(ctx, wire.In{Type: wire.TGroupInfo, GroupFields: wire.GroupFields{Group: id}}, &res); err != nil {
		return nil, err
	}
	return res.Group, nil
}

// GroupMembers returns a page of a group's members with user ids after
// after (limit 0 means wire.DefaultLimit).
func (c *Client) GroupMembers(ctx context.Context, id, after string, limit int) (wire.GroupMembersRes, error) {
	var res wire.GroupMembersRes
	err := c.call(ctx, wire.In{Type: wire.TGroupMembers, Limit: limit, GroupFields: wire.GroupFields{Group: id, AfterUser: after}}, &res)
	return res, err
}

// GroupChange sends one of the frames that change a group: typ is one of
// wire.TGroupUpdate, TGroupAdd, TGroupRemove, TGroupLeave, TGroupRole,
// TGroupTransfer, TGroupMute, TGroupMuteAll and TGroupDissolve, and f
// carries its fields (Group is set from id).
func (c *Client) GroupChange(ctx context.Context, typ, id string, f wire.GroupFields) (wire.GroupChangeRes, error) {
	f.Group = id
	var res wire.GroupChangeRes
	err := c.call(ctx, wire.In{Type: typ, GroupFields: f}, &res)
	return res, err
}

// AddGroupMembers invites users to a group (owner and admins).
func (c *Client) AddGroupMembers(ctx context.Context, id string, users ...string) (wire.GroupChangeRes, error) {
	return c.GroupChange(ctx, wire.TGroupAdd, id, wire.GroupFields{Members: users})
}

// LeaveGroup leaves a group (an owner transfers ownership first).
func (c *Client) LeaveGroup(ctx context.Context, id string) (wire.GroupChangeRes, error) {
	return c.GroupChange(ctx, wire.TGroupLeave, id, wire.GroupFields{})
}

// MuteGroupMember mutes user in a group for d (0 unmutes).
func (c *Client) MuteGroupMember(ctx context.Context, id, user string, d time.Duration) (wire.GroupChangeRes, error) {
	return c.GroupChange(ctx, wire.TGroupMute, id, wire.GroupFields{User: user, Seconds: int64(d / time.Second)})
}

// ReadReceipts asks how many members of conv have read up to seq, and who
// in conversations of at most the server's list limit (500 by default).
func (c *Client) ReadReceipts(ctx context.Context, conv string, seq uint64) (wire.ReadReceiptsRes, error) {
	var res wire.ReadReceiptsRes
	err := c.call(ctx, wire.In{Type: wire.TReadReceipts, Conv: conv, Seq: seq}, &res)
	return res, err
}

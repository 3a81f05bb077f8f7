package chat

import (
	"context"
	"encoding/json"
	"fmt"
	"runtime/debug"
	"slices"
	"strings"

	"github.com/oklog/ulid/v2"
	"github.com/parley-im/parley"
	"github.com/parley-im/parley/wire"
)

// GroupStore is what chat needs to keep groups; parley.GroupStore
// satisfies it.
type GroupStore interface {
	CreateGroup(ctx context.Context, g *parley.Group, members []string, msg *parley.Message) error
	Group(ctx context.Context, appID, groupID string) (*parley.Group, error)
	GroupMembers(ctx context.Context, appID, groupID, after string, limit int) ([]parley.GroupMember, error)
	GroupMember(ctx context.Context, appID, groupID, userID string) (parley.GroupMember, error)
	ChangeGroup(ctx context.Context, c parley.GroupChange, msg *parley.Message) (bool, error)
	ReadReceipts(ctx context.Context, appID, convID string, seq uint64, list int) (read, members int, readers []string, err error)
}

// CreateGroupRequest creates a group.
type CreateGroupRequest struct {
	AppID string
	// Actor is the user who creates the group, and its owner; or
	// parley.SystemUserID for the business backend, which names Owner.
	Actor string
	// ID is the group id; "" lets the server choose one.
	ID      string
	Owner   string
	Profile parley.GroupProfile
	// Members are added with the owner (at most
	// parley.MaxGroupUsersPerChange); every one must be a user.
	Members []string
	// MaxMembers is the group's member limit: 0 for the server's
	// default; only the business backend may set it.
	MaxMembers int
	// SkipConn is the creator's connection (it gets the answer instead).
	SkipConn string
}

// GroupResult is the outcome of a group change: the system message that
// recorded it (nil when nothing changed) and, for a create, the group.
type GroupResult struct {
	Group   *parley.Group
	Msg     *parley.Message
	Changed bool
}

// groupOp is a group change waiting for the committer.
type groupOp struct {
	// forgetApp and forget: drop the cached view of this group, changed
	// on another node (ForgetGroup); nothing else is set.
	forgetApp, forget string

	create  *parley.Group
	members []string // create: the members besides the owner
	change  *parley.GroupChange
	msg     *parley.Message
	skip    string // the connection that asked: it gets the answer, not a push
	done    func(GroupResult, error)
}

// CreateGroup creates a group with its owner and members and records it
// as the group's first message (a system message, event "created"),
// pushed to every member. Errors: EInvalid or ETooLarge for a bad
// request, ENotFound for a user who does not exist, EConflict for a taken
// group id or more members than the limit, EForbidden when a client sets
// the member limit, EUnavailable when the node is overloaded or closing.
// The limit defaults to the app's group_max_members, which also bounds
// the one a business backend sets.
func (s *Service) CreateGroup(ctx context.Context, req CreateGroupRequest) (GroupResult, error) {
	if req.ID == "" {
		req.ID = strings.ToLower(ulid.Make().String())
	}
	if !parley.ValidID(req.ID) {
		return GroupResult{}, parley.Errorf(parley.EInvalid, "group id must be 1-%d characters of [A-Za-z0-9_.@-] not starting with '_'", parley.MaxIDLen)
	}
	if req.Actor != parley.SystemUserID {
		if req.Owner != "" && req.Owner != req.Actor {
			return GroupResult{}, parley.Errorf(parley.EForbidden, "a client creates groups it owns")
		}
		if req.MaxMembers != 0 {
			return GroupResult{}, parley.Errorf(parley.EForbidden, "only the business backend sets a group's member limit")
		}
		req.Owner = req.Actor
	}
	if !parley.ValidID(req.Owner) {
		return GroupResult{}, parley.Errorf(parley.EInvalid, "a group needs a valid owner")
	}
	set, err := s.settings(ctx, req.AppID)
	if err != nil {
		return GroupResult{}, err
	}
	if req.MaxMembers == 0 {
		req.MaxMembers = set.GroupMaxMembers
	}
	if req.MaxMembers < 1 || req.MaxMembers > set.GroupMaxMembers {
		return GroupResult{}, parley.Errorf(parley.EInvalid, "max_members must be 1-%d (the app's group_max_members)", set.GroupMaxMembers)
	}
	if len(req.Members) > parley.MaxGroupUsersPerChange {
		return GroupResult{}, parley.Errorf(parley.ETooLarge, "at most %d members per call; add more afterwards", parley.MaxGroupUsersPerChange)
	}
	if err := req.Profile.Validate(); err != nil {
		return GroupResult{}, err
	}
	members := dedupe(req.Members, req.Owner)
	if err := s.checkUsers(ctx, req.AppID, append([]string{req.Owner}, members...)); err != nil {
		return GroupResult{}, err
	}
	g := &parley.Group{AppID: req.AppID, ID: req.ID, Owner: req.Owner, MaxMembers: req.MaxMembers}
	p := req.Profile
	g.Name, g.Avatar, g.Notice, g.Ext = deref(p.Name), deref(p.Avatar), deref(p.Notice), p.Ext
	msg := s.systemMsg(req.AppID, parley.GroupConvID(req.ID))
	msg.Body = parley.CreatedBody(g, req.Actor, append([]string{req.Owner}, members...))
	return s.runGroupOp(ctx, &groupOp{create: g, members: members, msg: msg, skip: req.SkipConn})
}

// ChangeGroup applies a change to a group (parley.GroupChange says which,
// and GroupChange.Authorize the rules) and records it as a system message
// in the group's sequence, pushed to every member, those who leave or are
// removed by it included. c.Now is set here. Errors: those of Validate
// and Authorize, ENotFound for a group or an added user that does not
// exist, EUnavailable when the node is overloaded or closing. skipConn is
// the connection that asked, which gets the answer instead of a push.
func (s *Service) ChangeGroup(ctx context.Context, c parley.GroupChange, skipConn string) (GroupResult, error) {
	c.Now = s.cfg.Now().UnixMilli()
	if err := c.Validate(); err != nil {
		return GroupResult{}, err
	}
	if c.Event == parley.EventJoined {
		c.Users = dedupe(c.Users, "")
		if err := s.checkUsers(ctx, c.AppID, c.Users); err != nil {
			return GroupResult{}, err
		}
	}
	return s.runGroupOp(ctx, &groupOp{change: &c, msg: s.systemMsg(c.AppID, parley.GroupConvID(c.GroupID)), skip: skipConn})
}

// runGroupOp hands op to the committer and waits for its result.
func (s *Service) runGroupOp(ctx context.Context, op *groupOp) (GroupResult, error) {
	type result struct {
		r   GroupResult
		err error
	}
	ch := make(chan result, 1)
	op.done = func(r GroupResult, err error) { ch <- result{r, err} }
	s.enqueue(&pending{op: op, done: func(r SendResult) { op.done(GroupResult{}, r.Err) }})
	select {
	case r := <-ch:
		return r.r, r.err
	case <-ctx.Done():
		// The committer may still apply it; the system message tells.
		return GroupResult{}, &parley.Error{Code: parley.EUnavailable, Message: "group change timed out", Err: ctx.Err()}
	}
}

func (s *Service) systemMsg(appID, conv string) *parley.Message {
	return &parley.Message{
		AppID: appID, ConvID: conv, ID: ulid.Make().String(), Sender: parley.SystemUserID,
		Kind: parley.KindSystem, Time: s.cfg.Now().UnixMilli(),
	}
}

// commitOp applies one group change on the committer goroutine, answers
// it, and pushes its system message to the group's members as they were
// before the change plus those it names (so a removed member learns of
// the removal, and new members of their joining).
func (s *Service) commitOp(op *groupOp) {
	if op.forget != "" {
		s.groups.drop(groupKey(op.forgetApp, op.forget))
		return
	}
	answered := false
	defer func() {
		if v := recover(); v != nil {
			s.log.Error("group change panicked", "err", fmt.Errorf("panic: %v", v), "stack", string(debug.Stack()))
			if !answered {
				op.done(GroupResult{}, parley.Errorf(parley.EInternal, "internal error"))
			}
		}
	}()
	ctx := context.Background()
	var (
		res     GroupResult
		err     error
		users   []string
		groupID string
	)
	if g := op.create; g != nil {
		groupID = g.ID
		err = s.store.CreateGroup(ctx, g, op.members, op.msg)
		res = GroupResult{Group: g, Msg: op.msg, Changed: err == nil}
		users = append([]string{g.Owner}, op.members...)
	} else {
		c := op.change
		groupID = c.GroupID
		e, gerr := s.group(ctx, c.AppID, c.GroupID)
		var before []string
		if gerr == nil {
			before = e.ids
		}
		var changed bool
		changed, err = s.store.ChangeGroup(ctx, *c, op.msg)
		if changed {
			res = GroupResult{Msg: op.msg, Changed: true}
			users = dedupe(append(slices.Clone(before), c.Users...), "")
			if gerr == nil && err == nil {
				// Keep the committer's view current without a reload
				// (the whole group, on the next message).
				s.groups.put(groupKey(c.AppID, c.GroupID), e.applied(c))
				groupID = ""
			}
		}
	}
	if groupID != "" {
		s.groups.drop(groupKey(op.msg.AppID, groupID))
	}
	answered = true
	op.done(res, err)
	if err != nil || !res.Changed {
		return
	}
	if s.cfg.GroupChanged != nil {
		s.cfg.GroupChanged(op.msg.AppID, groupIDOf(op))
	}
	payload, merr := json.Marshal(op.msg)
	if merr != nil {
		return
	}
	d := parley.Delivery{AppID: op.msg.AppID, Users: users, SkipConn: op.skip, Kind: DeliverMsg, Payload: payload}
	if err := s.push.Push(ctx, []parley.Delivery{d}); err != nil {
		s.log.Debug("group push failed", "err", err, "conv_id", op.msg.ConvID)
	}
}

// checkUsers returns ENotFound for the first of users that does not exist.
func (s *Service) checkUsers(ctx context.Context, appID string, users []string) error {
	for _, u := range users {
		if _, err := s.store.User(ctx, appID, u); err != nil {
			if parley.ErrorCode(err) == parley.ENotFound {
				return parley.Errorf(parley.ENotFound, "no user %q", u)
			}
			return err
		}
	}
	return nil
}

// dedupe returns users without repeats and without skip, in first-seen
// order.
func dedupe(users []string, skip string) []string {
	seen := make(map[string]bool, len(users))
	out := make([]string, 0, len(users))
	for _, u := range users {
		if u != skip && !seen[u] {
			seen[u] = true
			out = append(out, u)
		}
	}
	return out
}

func deref(p *string) string {
	if p == nil {
		return ""
	}
	return *p
}

// GroupInfo returns a group's profile and state to one of its members, or
// to the business backend (userID parley.SystemUserID). Errors: ENotFound
// for no such group, EForbidden for a user who is not a member.
func (s *Service) GroupInfo(ctx context.Context, appID, userID, groupID string) (*parley.Group, error) {
	if err := s.groupReader(ctx, appID, userID, groupID); err != nil {
		return nil, err
	}
	return s.store.Group(ctx, appID, groupID)
}

// GroupMembers returns a page of a group's current members (ascending user
// id, after the given one) to one of its members or the business backend.
// Errors as GroupInfo.
func (s *Service) GroupMembers(ctx context.Context, appID, userID, groupID, after string, limit int) (wire.GroupMembersRes, error) {
	if err := s.groupReader(ctx, appID, userID, groupID); err != nil {
		return wire.GroupMembersRes{}, err
	}
	ms, err := s.store.GroupMembers(ctx, appID, groupID, after, limit+1)
	if err != nil {
		return wire.GroupMembersRes{}, err
	}
	res := wire.GroupMembersRes{Members: ms}
	if len(ms) > limit {
		res.Members, res.More = ms[:limit], true
	}
	if n := len(res.Members); n > 0 && res.More {
		res.Next = res.Members[n-1].User
	}
	if res.Members == nil {
		res.Members = []parley.GroupMember{}
	}
	return res, nil
}

// groupReader checks that userID may read the group: a current member, or
// the business backend (after checking that the group exists).
func (s *Service) groupReader(ctx context.Context, appID, userID, groupID string) error {
	if !parley.ValidID(groupID) {
		return parley.Errorf(parley.EInvalid, "invalid group id")
	}
	if userID == parley.SystemUserID {
		return nil
	}
	m, err := s.store.GroupMember(ctx, appID, groupID, userID)
	if err != nil {
		return err
	}
	if !m.Active() {
		return parley.Errorf(parley.EForbidden, "not a member of group %q", groupID)
	}
	return nil
}

// ReadReceipts answers who has read a conversation up to seq: how many of
// its current members, and, when it has at most Config.ReceiptsList
// members, which ones. userID must be a member (parley.SystemUserID: the
// business backend, which is answered whatever the app's settings).
// Errors: EDisabled when the app has read receipts off, ENotFound,
// EForbidden as for a pull.
func (s *Service) ReadReceipts(ctx context.Context, appID, userID, convID string, seq uint64) (wire.ReadReceiptsRes, error) {
	if userID != parley.SystemUserID {
		if set, err := s.settings(ctx, appID); err != nil {
			return wire.ReadReceiptsRes{}, err
		} else if !set.Receipts {
			return wire.ReadReceiptsRes{}, parley.Errorf(parley.EDisabled, "read receipts are switched off for this app")
		}
		if err := s.checkMember(ctx, appID, convID, userID); err != nil {
			return wire.ReadReceiptsRes{}, err
		}
	}
	read, members, readers, err := s.store.ReadReceipts(ctx, appID, convID, seq, s.cfg.ReceiptsList)
	if err != nil {
		if _, _, direct := parley.DirectPeers(convID); direct && parley.ErrorCode(err) == parley.ENotFound {
			return wire.ReadReceiptsRes{Conv: convID, Seq: seq}, nil // no message yet
		}
		return wire.ReadReceiptsRes{}, err
	}
	res := wire.ReadReceiptsRes{Conv: convID, Seq: seq, Read: read, Members: members}
	if members <= s.cfg.ReceiptsList {
		res.Readers = readers
		if res.Readers == nil {
			res.Readers = []string{}
		}
	}
	return res, nil
}

// groupIDOf returns the group an op creates or changes.
func groupIDOf(op *groupOp) string {
	if op.create != nil {
		return op.create.ID
	}
	return op.change.GroupID
}

package parley

import (
	"encoding/json"
	"slices"
	"strings"
	"unicode/utf8"
)

// ConvGroup is the kind of a group conversation: many members with roles,
// id from GroupConvID.
const ConvGroup ConvKind = "group"

// GroupConvID returns the conversation id of group id: "g:" + id.
func GroupConvID(id string) string { return "g:" + id }

// GroupOf returns the group id of a group conversation id, and false when
// convID is not "g:" followed by a valid id.
func GroupOf(convID string) (string, bool) {
	id, ok := strings.CutPrefix(convID, "g:")
	if !ok || !ValidID(id) {
		return "", false
	}
	return id, true
}

// GroupRole is a member's role in a group: owner > admin > member.
type GroupRole string

// Group roles.
const (
	GroupRoleOwner  GroupRole = "owner"
	GroupRoleAdmin  GroupRole = "admin"
	GroupRoleMember GroupRole = "member"
)

// rank orders roles; a non-member ("") ranks 0.
func (r GroupRole) rank() int {
	switch r {
	case GroupRoleOwner:
		return 3
	case GroupRoleAdmin:
		return 2
	case GroupRoleMember:
		return 1
	}
	return 0
}

// Limits on groups.
const (
	MaxGroupNameLen   = 128
	MaxGroupAvatarLen = 1024
	MaxGroupNoticeLen = 4096
	MaxGroupExtLen    = 4096
	// DefaultMaxGroupMembers is a new group's member limit unless the
	// server's configuration or the business backend says otherwise.
	DefaultMaxGroupMembers = 10_000
	// MaxGroupMembersLimit is the largest member limit a group may have.
	MaxGroupMembersLimit = 100_000
	// MaxGroupUsersPerChange is the most users one create or add names.
	MaxGroupUsersPerChange = 1000
	// MaxMuteMillis is the longest a member can be muted for (366 days).
	MaxMuteMillis = 366 * 24 * 3600 * 1000
	// MaxEventUsers is the most user ids a system message of a group
	// event lists; Count always says how many there were.
	MaxEventUsers = 100
)

// GroupProfile is the part of a group that owners and admins edit. In an
// update, nil fields (and an empty Ext) are left as they are.
type GroupProfile struct {
	Name   *string         `json:"name,omitempty"`
	Avatar *string         `json:"avatar,omitempty"`
	Notice *string         `json:"notice,omitempty"`
	Ext    json.RawMessage `json:"ext,omitempty"`
}

// Empty reports whether p changes nothing.
func (p *GroupProfile) Empty() bool {
	return p.Name == nil && p.Avatar == nil && p.Notice == nil && len(p.Ext) == 0
}

// Validate checks a profile from a client or a business backend. Errors
// are ETooLarge for a field over its limit and EInvalid for text that is
// not UTF-8 or holds control characters (name), or an Ext that is not a
// JSON object.
func (p *GroupProfile) Validate() error {
	for _, f := range []struct {
		name string
		v    *string
		max  int
	}{{"name", p.Name, MaxGroupNameLen}, {"avatar", p.Avatar, MaxGroupAvatarLen}, {"notice", p.Notice, MaxGroupNoticeLen}} {
		if f.v == nil {
			continue
		}
		if len(*f.v) > f.max {
			return Errorf(ETooLarge, "group %s longer than %d bytes", f.name, f.max)
		}
		if !utf8.ValidString(*f.v) {
			return Errorf(EInvalid, "group %s is not valid UTF-8", f.name)
		}
	}
	if p.Name != nil && hasControl(*p.Name) {
		return Errorf(EInvalid, "group name must not hold control characters")
	}
	if len(p.Ext) > MaxGroupExtLen {
		return Errorf(ETooLarge, "group ext larger than %d bytes", MaxGroupExtLen)
	}
	if len(p.Ext) > 0 && (!utf8.Valid(p.Ext) || !isJSONObject(p.Ext)) {
		return Errorf(EInvalid, "group ext must be a JSON object")
	}
	return nil
}

// Group is a group conversation's profile and state. Times are Unix
// milliseconds.
type Group struct {
	AppID      string          `json:"-"`
	ID         string          `json:"id"`
	Conv       string          `json:"conv"` // GroupConvID(ID)
	Name       string          `json:"name"`
	Avatar     string          `json:"avatar,omitempty"`
	Notice     string          `json:"notice,omitempty"`
	Ext        json.RawMessage `json:"ext,omitempty"`
	Owner      string          `json:"owner"`
	MuteAll    bool            `json:"mute_all"`
	MaxMembers int             `json:"max_members"`
	Members    int             `json:"members"` // how many members it has now
	Dissolved  bool            `json:"dissolved"`
	CreatedAt  int64           `json:"created_at"`
	UpdatedAt  int64           `json:"updated_at"`
}

// GroupMember is one user's membership of a group. A former member (who
// left or was removed) keeps a row with LeftSeq, the seq of the system
// message that recorded it: it is the last message they may read.
type GroupMember struct {
	User       string    `json:"user"`
	Role       GroupRole `json:"role"`
	MutedUntil int64     `json:"muted_until,omitempty"` // Unix ms; 0 or past: not muted
	ReadSeq    uint64    `json:"read_seq"`
	JoinedAt   int64     `json:"joined_at"`
	LeftSeq    uint64    `json:"left_seq,omitempty"`
}

// Active reports whether m is a current member.
func (m *GroupMember) Active() bool { return m.Role != "" && m.LeftSeq == 0 }

// GroupEvent names a change of a group. Each is recorded as a system
// message in the group's sequence whose body is a GroupEventBody.
type GroupEvent string

// Group events.
const (
	EventCreated     GroupEvent = "created"
	EventJoined      GroupEvent = "joined"      // Users were added (invited by By, or by the business backend)
	EventLeft        GroupEvent = "left"        // By left
	EventRemoved     GroupEvent = "removed"     // By removed Users[0]
	EventRole        GroupEvent = "role"        // Users[0] now has Role
	EventTransferred GroupEvent = "transferred" // Users[0] is the owner; By (the old owner) is an admin
	EventMuted       GroupEvent = "muted"       // Users[0] muted until MutedUntil (0: unmuted)
	EventMuteAll     GroupEvent = "mute_all"    // MuteAll says whether members (not admins) may send
	EventProfile     GroupEvent = "profile"     // Profile holds the fields that changed
	EventDissolved   GroupEvent = "dissolved"   // the last message: the group takes no more
)

// GroupEventBody is the body of the system message of a group event.
type GroupEventBody struct {
	Event      GroupEvent    `json:"event"`
	Group      string        `json:"group"`
	By         string        `json:"by"`
	Users      []string      `json:"users,omitempty"` // at most MaxEventUsers
	Count      int           `json:"count,omitempty"` // users affected (joined, created)
	Role       GroupRole     `json:"role,omitempty"`
	MutedUntil int64         `json:"muted_until,omitempty"`
	MuteAll    *bool         `json:"mute_all,omitempty"`
	Name       string        `json:"name,omitempty"` // created
	Profile    *GroupProfile `json:"profile,omitempty"`
}

// GroupChange is one change to a group, asked by Actor: a user, or
// SystemUserID for the business backend, which stands above every role
// but not above the group's structure (the owner cannot be removed, a
// dissolved group stays dissolved, the member limit holds).
type GroupChange struct {
	AppID   string
	GroupID string
	Actor   string
	Event   GroupEvent // any but EventCreated
	// Users: EventJoined 1..MaxGroupUsersPerChange users; EventRemoved,
	// EventRole, EventTransferred and EventMuted exactly one; others none.
	Users      []string
	Role       GroupRole    // EventRole: admin or member
	MutedUntil int64        // EventMuted: Unix ms; 0 unmutes
	MuteAll    bool         // EventMuteAll
	Profile    GroupProfile // EventProfile
	// Now is the time of the change in Unix ms (updated_at, joined_at).
	Now int64
}

// Validate checks the shape of c. Errors are EInvalid, or ETooLarge for
// too many users or a profile field over its limit.
func (c *GroupChange) Validate() error {
	if !ValidID(c.GroupID) {
		return Errorf(EInvalid, "group id must be 1-%d characters of [A-Za-z0-9_.@-] not starting with '_'", MaxIDLen)
	}
	if c.Actor != SystemUserID && !ValidID(c.Actor) {
		return Errorf(EInvalid, "invalid actor")
	}
	one := func() error {
		if len(c.Users) != 1 || !ValidID(c.Users[0]) {
			return Errorf(EInvalid, "%s needs one valid user id", c.Event)
		}
		return nil
	}
	switch c.Event {
	case EventJoined:
		if len(c.Users) == 0 {
			return Errorf(EInvalid, "name at least one user to add")
		}
		if len(c.Users) > MaxGroupUsersPerChange {
			return Errorf(ETooLarge, "at most %d users per call", MaxGroupUsersPerChange)
		}
		for _, u := range c.Users {
			if !ValidID(u) {
				return Errorf(EInvalid, "%q is not a valid user id", truncate(u, MaxIDLen))
			}
		}
	case EventRemoved, EventTransferred:
		return one()
	case EventRole:
		if c.Role != GroupRoleAdmin && c.Role != GroupRoleMember {
			return Errorf(EInvalid, "role must be admin or member (ownership moves by transfer)")
		}
		return one()
	case EventMuted:
		if c.MutedUntil < 0 || (c.MutedUntil != 0 && c.MutedUntil > c.Now+MaxMuteMillis) {
			return Errorf(EInvalid, "a mute lasts at most %d seconds", MaxMuteMillis/1000)
		}
		return one()
	case EventLeft, EventMuteAll, EventDissolved:
		if len(c.Users) != 0 {
			return Errorf(EInvalid, "%s names no users", c.Event)
		}
	case EventProfile:
		if c.Profile.Empty() {
			return Errorf(EInvalid, "a profile update needs at least one of name, avatar, notice and ext")
		}
		return c.Profile.Validate()
	default:
		return Errorf(EInvalid, "unknown group change %q", truncate(string(c.Event), 32))
	}
	return nil
}

// Authorize applies the group rules to c, given the group as it is, the
// actor's current role ("" if not a member; ignored for SystemUserID) and
// each of c.Users' current role ("" if not a member). Stores call it
// inside the transaction that applies c, so rules hold under concurrent
// changes. It returns the users the change affects (for EventJoined,
// those not yet members; otherwise c.Users, or the actor for EventLeft)
// and whether anything changes at all (adding members only, giving the
// role a member already has, muting all when all are muted: no).
//
// Errors: EConflict for a dissolved group, a full group (the limit counts
// members after the change), an owner who leaves without transferring
// first, a change to the owner's role or mute, or removing the owner;
// EForbidden for an actor who is not a member or whose role does not
// allow the change (owner: everything; admin: add, remove and mute
// members, mute all, profile; member: leave); ENotFound for a target who
// is not a member; EInvalid for acting on oneself where that makes no
// sense (removing, muting, transferring to oneself).
func (c *GroupChange) Authorize(g *Group, actorRole GroupRole, targetRoles []GroupRole) ([]string, bool, error) {
	if err := c.Validate(); err != nil {
		return nil, false, err
	}
	if len(targetRoles) != len(c.Users) {
		return nil, false, Errorf(EInternal, "group change: %d roles for %d users", len(targetRoles), len(c.Users))
	}
	if g.Dissolved {
		return nil, false, Errorf(EConflict, "group %q is dissolved", g.ID)
	}
	system := c.Actor == SystemUserID
	if !system && actorRole.rank() == 0 {
		return nil, false, Errorf(EForbidden, "not a member of group %q", g.ID)
	}
	atLeast := func(r GroupRole) bool { return system || actorRole.rank() >= r.rank() }
	// outranks: the actor may act on a target of role t (owners act on
	// admins and members, admins on members, the system on anyone but
	// the owner).
	outranks := func(t GroupRole) bool {
		if t == GroupRoleOwner {
			return false
		}
		return system || actorRole.rank() > t.rank()
	}
	target := func() (GroupRole, error) {
		if c.Actor == c.Users[0] {
			return "", Errorf(EInvalid, "cannot %s yourself", verb(c.Event))
		}
		t := targetRoles[0]
		if t == "" {
			return "", Errorf(ENotFound, "%s is not a member of group %q", c.Users[0], g.ID)
		}
		return t, nil
	}
	switch c.Event {
	case EventJoined:
		if !atLeast(GroupRoleAdmin) {
			return nil, false, Errorf(EForbidden, "only the owner and admins can add members")
		}
		var added []string
		seen := make(map[string]bool, len(c.Users))
		for i, u := range c.Users {
			if targetRoles[i] == "" && !seen[u] {
				seen[u] = true
				added = append(added, u)
			}
		}
		if g.Members+len(added) > g.MaxMembers {
			return nil, false, Errorf(EConflict, "group %q is full: at most %d members", g.ID, g.MaxMembers)
		}
		return added, len(added) > 0, nil
	case EventLeft:
		if system {
			return nil, false, Errorf(EInvalid, "the business backend removes members, it does not leave")
		}
		if actorRole == GroupRoleOwner {
			return nil, false, Errorf(EConflict, "the owner must transfer ownership before leaving")
		}
		return []string{c.Actor}, true, nil
	case EventRemoved, EventMuted:
		t, err := target()
		if err != nil {
			return nil, false, err
		}
		if t == GroupRoleOwner {
			return nil, false, Errorf(EConflict, "the owner cannot be %s", map[GroupEvent]string{EventRemoved: "removed", EventMuted: "muted"}[c.Event])
		}
		if !atLeast(GroupRoleAdmin) || !outranks(t) {
			return nil, false, Errorf(EForbidden, "only a higher role can %s %s", verb(c.Event), c.Users[0])
		}
		return c.Users, true, nil
	case EventRole:
		t, err := target()
		if err != nil {
			return nil, false, err
		}
		if t == GroupRoleOwner {
			return nil, false, Errorf(EConflict, "the owner's role changes only by transfer")
		}
		if !atLeast(GroupRoleOwner) {
			return nil, false, Errorf(EForbidden, "only the owner sets roles")
		}
		return c.Users, t != c.Role, nil
	case EventTransferred:
		if _, err := target(); err != nil {
			return nil, false, err
		}
		if !atLeast(GroupRoleOwner) {
			return nil, false, Errorf(EForbidden, "only the owner transfers ownership")
		}
		return c.Users, true, nil
	case EventMuteAll, EventProfile:
		if !atLeast(GroupRoleAdmin) {
			return nil, false, Errorf(EForbidden, "only the owner and admins can do this")
		}
		if c.Event == EventMuteAll {
			return nil, g.MuteAll != c.MuteAll, nil
		}
		return nil, true, nil
	case EventDissolved:
		if !atLeast(GroupRoleOwner) {
			return nil, false, Errorf(EForbidden, "only the owner dissolves the group")
		}
		return nil, true, nil
	}
	return nil, false, Errorf(EInvalid, "unknown group change %q", truncate(string(c.Event), 32))
}

func verb(e GroupEvent) string {
	switch e {
	case EventRemoved:
		return "remove"
	case EventMuted:
		return "mute"
	case EventTransferred:
		return "transfer to"
	}
	return "change the role of"
}

// EventBody returns the system message body that records c, given the
// users it affected (from Authorize) and the group before the change.
func (c *GroupChange) EventBody(affected []string) json.RawMessage {
	b := GroupEventBody{Event: c.Event, Group: c.GroupID, By: c.Actor}
	if c.Event != EventLeft && len(affected) > 0 {
		b.Users = slices.Clone(affected[:min(len(affected), MaxEventUsers)])
		b.Count = len(affected)
	}
	switch c.Event {
	case EventRole:
		b.Role = c.Role
	case EventMuted:
		b.MutedUntil = c.MutedUntil
	case EventMuteAll:
		v := c.MuteAll
		b.MuteAll = &v
	case EventProfile:
		p := c.Profile
		b.Profile = &p
	}
	out, _ := json.Marshal(b)
	return out
}

// CreatedBody returns the body of a group's first message.
func CreatedBody(g *Group, by string, members []string) json.RawMessage {
	b := GroupEventBody{Event: EventCreated, Group: g.ID, By: by, Name: g.Name, Count: len(members),
		Users: slices.Clone(members[:min(len(members), MaxEventUsers)])}
	out, _ := json.Marshal(b)
	return out
}

// SendAllowed reports whether member m may send to group g at now (Unix
// ms): EConflict if the group is dissolved; EForbidden if m is not a
// member, is muted, or is a plain member while all are muted.
// SystemUserID (m nil) may send unless the group is dissolved.
func SendAllowed(g *Group, sender string, m *GroupMember, now int64) error {
	if g.Dissolved {
		return Errorf(EConflict, "group %q is dissolved", g.ID)
	}
	if sender == SystemUserID {
		return nil
	}
	if m == nil || !m.Active() {
		return Errorf(EForbidden, "not a member of group %q", g.ID)
	}
	if m.MutedUntil > now {
		return Errorf(EForbidden, "you are muted in group %q", g.ID)
	}
	if g.MuteAll && m.Role == GroupRoleMember {
		return Errorf(EForbidden, "group %q is muted: only the owner and admins can send", g.ID)
	}
	return nil
}

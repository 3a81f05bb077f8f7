package wire

import (
	"github.com/parley-im/parley"
)

// Group frame types (docs/protocol.md, "Groups"). Each is a request
// answered by res or err.
const (
	TGroupCreate   = "group_create"   // Group (optional), Profile, Members: create a group you own
	TGroupInfo     = "group_info"     // Group: the group's profile and state
	TGroupUpdate   = "group_update"   // Group, Profile: change name, avatar, notice, ext
	TGroupMembers  = "group_members"  // Group, AfterUser, Limit: a page of members
	TGroupAdd      = "group_add"      // Group, Members: invite users (owner, admins)
	TGroupRemove   = "group_remove"   // Group, User
	TGroupLeave    = "group_leave"    // Group
	TGroupRole     = "group_role"     // Group, User, Role (admin or member)
	TGroupTransfer = "group_transfer" // Group, User: the new owner
	TGroupMute     = "group_mute"     // Group, User, Seconds (0 unmutes)
	TGroupMuteAll  = "group_mute_all" // Group, Mute
	TGroupDissolve = "group_dissolve" // Group
	TReadReceipts  = "read_receipts"  // Conv, Seq: how many members (and who) have read up to seq
)

// MaxMuteSeconds is the longest mute a group_mute frame may ask for.
const MaxMuteSeconds = parley.MaxMuteMillis / 1000

// GroupFields are the fields of the group frames, embedded in In.
type GroupFields struct {
	Group     string               `json:"group,omitempty"`
	Members   []string             `json:"members,omitempty"`
	User      string               `json:"user,omitempty"`
	Role      string               `json:"role,omitempty"`
	Seconds   int64                `json:"seconds,omitempty"`
	Mute      bool                 `json:"mute,omitempty"`
	AfterUser string               `json:"after_user,omitempty"`
	Profile   *parley.GroupProfile `json:"profile,omitempty"`
}

// validateGroup checks a group frame. Errors are EInvalid, or ETooLarge
// for too many members or a profile field over its limit.
func (in *In) validateGroup() error {
	if in.Type == TReadReceipts {
		if in.Conv == "" || len(in.Conv) > parley.MaxConvIDLen {
			return parley.Errorf(parley.EInvalid, "read_receipts needs a conv of at most %d bytes", parley.MaxConvIDLen)
		}
		if in.Seq == 0 {
			return parley.Errorf(parley.EInvalid, "read_receipts needs a seq")
		}
		return nil
	}
	if in.Type != TGroupCreate || in.Group != "" {
		if !parley.ValidID(in.Group) {
			return parley.Errorf(parley.EInvalid, "group must be a group id of 1-%d characters of [A-Za-z0-9_.@-]", parley.MaxIDLen)
		}
	}
	if len(in.Members) > parley.MaxGroupUsersPerChange {
		return parley.Errorf(parley.ETooLarge, "at most %d members per frame", parley.MaxGroupUsersPerChange)
	}
	for _, u := range in.Members {
		if !parley.ValidID(u) {
			return parley.Errorf(parley.EInvalid, "members must be user ids")
		}
	}
	if in.Profile != nil {
		if err := in.Profile.Validate(); err != nil {
			return err
		}
	}
	needUser := func() error {
		if !parley.ValidID(in.User) {
			return parley.Errorf(parley.EInvalid, "%s needs a user", in.Type)
		}
		return nil
	}
	switch in.Type {
	case TGroupAdd:
		if len(in.Members) == 0 {
			return parley.Errorf(parley.EInvalid, "group_add needs members")
		}
	case TGroupUpdate:
		if in.Profile == nil || in.Profile.Empty() {
			return parley.Errorf(parley.EInvalid, "group_update needs a profile with at least one field")
		}
	case TGroupMembers:
		if in.AfterUser != "" && !parley.ValidID(in.AfterUser) {
			return parley.Errorf(parley.EInvalid, "after_user must be a user id")
		}
	case TGroupRemove, TGroupTransfer:
		return needUser()
	case TGroupRole:
		if in.Role != string(parley.GroupRoleAdmin) && in.Role != string(parley.GroupRoleMember) {
			return parley.Errorf(parley.EInvalid, "role must be admin or member")
		}
		return needUser()
	case TGroupMute:
		if in.Seconds < 0 || in.Seconds > MaxMuteSeconds {
			return parley.Errorf(parley.EInvalid, "seconds must be 0-%d", MaxMuteSeconds)
		}
		return needUser()
	}
	return nil
}

// GroupRes answers group_create and group_info: the group and, for a
// create, the system message that recorded it.
type GroupRes struct {
	Group *parley.Group   `json:"group"`
	Msg   *parley.Message `json:"msg,omitempty"`
}

// GroupChangeRes answers the frames that change a group: the system
// message that recorded the change, or changed false and no message when
// there was nothing to change (adding members who all belong already).
type GroupChangeRes struct {
	Changed bool            `json:"changed"`
	Msg     *parley.Message `json:"msg,omitempty"`
}

// GroupMembersRes answers group_members: members in ascending user id
// order. More means there are further ones: ask again with after_user set
// to Next.
type GroupMembersRes struct {
	Members []parley.GroupMember `json:"members"`
	More    bool                 `json:"more"`
	Next    string               `json:"next,omitempty"`
}

// ReadReceiptsRes answers read_receipts: of the conversation's Members
// current members, Read have read up to Seq; Readers names them when the
// conversation has at most the server's list limit of members (500 by
// default), and is absent otherwise.
type ReadReceiptsRes struct {
	Conv    string   `json:"conv"`
	Seq     uint64   `json:"seq"`
	Read    int      `json:"read"`
	Members int      `json:"members"`
	Readers []string `json:"readers,omitempty"`
}

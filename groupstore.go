package parley

import "context"

// GroupStore keeps groups: their profile, their members with roles and
// mutes, and the system messages that record every change, which take
// seqs in the group conversation's sequence like any message. Every
// implementation must pass parleytest.RunGroupStoreTests.
//
// Sync contract for group conversations (see ConvStore.Changes): a message
// gives the conversation (one row) a new change version and the sender's
// membership one; the other members' versions move only for changes of
// their own (their read cursor, joining, leaving, role or mute). A
// member's ConvState.Ver is the larger of the two.
type GroupStore interface {
	// CreateGroup creates group g (conversation GroupConvID(g.ID), kind
	// ConvGroup) with g.Owner as owner and members as members (the owner
	// may be among them; duplicates count once), and stores msg as its
	// message 1, all in one transaction. msg must have ID, Sender, Kind,
	// Body and Time set; AppID, ConvID and Seq are set by CreateGroup,
	// and so are g.Conv, g.Members, g.CreatedAt and g.UpdatedAt (from
	// msg.Time). Every member's read cursor starts at 0. Returns
	// EConflict if a group or conversation with that id exists, or if
	// the members (owner included) are more than g.MaxMembers.
	CreateGroup(ctx context.Context, g *Group, members []string, msg *Message) error
	// Group returns a group, dissolved ones included. Returns ENotFound
	// if there is none.
	Group(ctx context.Context, appID, groupID string) (*Group, error)
	// GroupMembers returns up to limit current members with user ids
	// greater than after, in ascending order (limit <= 0 means 50; a
	// store may cap it, at no less than 1000). Returns ENotFound if the
	// group does not exist.
	GroupMembers(ctx context.Context, appID, groupID, after string, limit int) ([]GroupMember, error)
	// GroupMember returns one user's membership, a former member's too
	// (LeftSeq set). Returns ENotFound if the group does not exist and
	// EForbidden if the user never was a member.
	GroupMember(ctx context.Context, appID, groupID, userID string) (GroupMember, error)
	// ChangeGroup applies c in one transaction: it reads the group and
	// the roles of c.Actor and c.Users, calls c.Authorize (returning its
	// error, or ENotFound if there is no such group), applies the change,
	// and stores msg as the conversation's next message with Kind
	// KindSystem and Body c.EventBody(affected). msg must have ID,
	// Sender and Time set; AppID, ConvID, Seq, Kind and Body are set by
	// ChangeGroup. It returns whether anything changed; when nothing
	// did, no message is stored. Members who join get read cursors at
	// the seq before msg; members who leave or are removed keep their
	// row with LeftSeq = msg.Seq; the new owner of a transfer becomes
	// owner and the old one admin. The conversation and every affected
	// member get a new change version.
	ChangeGroup(ctx context.Context, c GroupChange, msg *Message) (bool, error)
	// ReadReceipts returns how many current members of the conversation
	// have read up to seq (read cursor >= seq) and how many current
	// members it has; when it has at most list members, also who has
	// read, in ascending order. Returns ENotFound if the conversation does
	// not exist.
	ReadReceipts(ctx context.Context, appID, convID string, seq uint64, list int) (read, members int, readers []string, err error)
}

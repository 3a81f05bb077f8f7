package parley

import (
	"context"
	"time"
)

// Store is Parley's persistent state. The sqlite package implements it for
// the embedded default. Every implementation must pass the contract suite in
// parleytest (RunStoreTests), which is the executable form of the comments
// below.
type Store interface {
	AppStore
	UserStore
	ConvStore
	ContactStore
	GroupStore
	// Close releases the store's resources.
	Close() error
}

// AppStore keeps apps.
type AppStore interface {
	// CreateApp stores a new app. Returns EConflict if the id is taken.
	CreateApp(ctx context.Context, app *App) error
	// App returns an app. Returns ENotFound if there is none with that id.
	App(ctx context.Context, id string) (*App, error)
	// AppSettings returns the app's own settings: none set (the zero
	// value) until UpdateAppSettings stores some. Returns ENotFound if
	// there is no app with that id.
	AppSettings(ctx context.Context, appID string) (AppSettings, error)
	// UpdateAppSettings applies p (AppSettingsPatch.Apply) to the app's
	// settings and stores the result, read and written in one
	// transaction so that concurrent updates of different fields all
	// hold, and returns it. It does not validate p. Returns ENotFound if
	// there is no app with that id.
	UpdateAppSettings(ctx context.Context, appID string, p AppSettingsPatch) (AppSettings, error)
}

// UserStore keeps users and their session revocations.
type UserStore interface {
	// UpsertUsers creates or replaces the profiles of users of one app in
	// one transaction. CreatedAt is kept for existing users.
	UpsertUsers(ctx context.Context, appID string, users []User) error
	// User returns a user. Returns ENotFound if there is none.
	User(ctx context.Context, appID, userID string) (*User, error)
	// UserIDs returns up to limit user ids of an app greater than after, in
	// ascending order: a page of a scan over every user.
	UserIDs(ctx context.Context, appID, after string, limit int) ([]string, error)
	// RevokeSessions records that tokens issued before t are no longer
	// valid for the user on device, or on every device if device is "".
	RevokeSessions(ctx context.Context, appID, userID, device string, t time.Time) error
	// RevokedBefore returns the time before which tokens of the user on
	// device are invalid: the later of the user-wide and the device's
	// revocation, or the zero time if there is none.
	RevokedBefore(ctx context.Context, appID, userID, device string) (time.Time, error)
}

// MessageRange selects messages of one conversation: After < Seq, and
// Seq < Before when Before is not 0. At most Limit messages come back, in
// ascending Seq order; Newest picks the newest Limit of the range instead
// of the oldest.
type MessageRange struct {
	After, Before uint64
	Limit         int
	Newest        bool
}

// AppendResult is the outcome of one message of an Append batch.
type AppendResult struct {
	// Dup is true when a message with the same (AppID, Sender,
	// ClientMsgID) was already stored; the input message was then
	// overwritten with the stored one and no sequence number was used.
	Dup bool
	// Err is a per-message error: ENotFound if the conversation does
	// not exist.
	Err error
}

// ConvStore keeps conversations, their members and messages.
type ConvStore interface {
	// EnsureConversations creates conversations and their members if they
	// do not exist yet. Existing conversations are left as they are.
	EnsureConversations(ctx context.Context, convs []Conversation) error
	// IsMember returns nil if user belongs to the conversation, ENotFound if
	// the conversation does not exist and EForbidden if the user is not a
	// member (a former group member is not one).
	IsMember(ctx context.Context, appID, convID, userID string) error
	// Members returns the member ids of a conversation in ascending order,
	// former group members left out. Returns ENotFound if the
	// conversation does not exist.
	Members(ctx context.Context, appID, convID string) ([]string, error)
	// Append persists a batch of messages durably in one transaction. For
	// each message, in input order, it either finds a stored duplicate
	// (same AppID, Sender and non-empty ClientMsgID; see AppendResult.Dup)
	// or assigns the conversation's next sequence number, stores it, moves
	// the sender's read cursor to it and gives new change versions: to
	// every member of a direct conversation; for a group (ConvGroup), to
	// the conversation itself and the sender only, so that a message
	// costs the same in a group of 10,000 as in a group of 2 (the other
	// members see it through the conversation's version, see Changes).
	// ID, Time, Kind and Body must be set by the caller; Variants are
	// stored with the message, and every read that returns the message
	// (Messages, Conversations' Last, SearchMessages, a duplicate)
	// returns them. When Append returns a nil error every result
	// without Err is durable.
	Append(ctx context.Context, msgs []*Message) ([]AppendResult, error)
	// Messages returns a range of a conversation's messages.
	Messages(ctx context.Context, appID, convID string, r MessageRange) ([]Message, error)
	// ReviseMessage rewrites the kind and body of message seq of a
	// conversation (a recall or an edit, which is recorded as a message
	// of its own; see KindRecall); its seq, id, sender and time stay, and
	// a store that indexes text for search indexes the new body. Returns
	// ENotFound if the conversation has no such message.
	ReviseMessage(ctx context.Context, appID, convID string, seq uint64, kind Kind, body []byte) error
	// Changes returns the user's conversations whose Ver is greater than
	// since, in ascending Ver order, at most limit of them, so that a
	// caller pages by the last Ver it got. A conversation's Ver is the
	// member's own change version, and for a group the larger of it and
	// the group conversation's version (GroupStore). Its cost is
	// proportional to the number returned plus the number of groups the
	// user belongs to, not to the number of direct conversations the
	// user has. A former group member still gets the group, with LastSeq
	// at the message that recorded their leaving and Left set, but no
	// later change of it.
	Changes(ctx context.Context, appID, userID string, since uint64, limit int) ([]ConvState, error)
	// Conversations returns the user's conversation list, most recently
	// changed first (by Ver, as Changes defines it), with each one's
	// newest message in Last: at most limit conversations whose Ver is
	// below beforeVer (0: no bound). Hidden conversations are left out.
	Conversations(ctx context.Context, appID, userID string, beforeVer uint64, limit int) ([]ConvState, error)
	// MarkRead moves the user's read cursor to seq (clamped to the last
	// seq; a cursor never moves back) and, if it moved, gives a new change
	// version to every member of a direct conversation (the peer's
	// PeerReadSeq moved) and to the user only in a group. It returns the
	// user's state after the change and whether the cursor moved.
	// Returns EForbidden if the user is not a member (former group
	// members included), ENotFound if the conversation does not exist.
	MarkRead(ctx context.Context, appID, convID, userID string, seq uint64) (ConvState, bool, error)
	// SetConvSettings applies c (see ConvSettings) to the user's own
	// settings of a conversation. If a setting changed, the user's row,
	// and only theirs, gets a new change version so that the user's
	// other devices see it on sync; the peer of a direct conversation
	// sees nothing. Hiding records the conversation's LastSeq: the
	// conversation is Hidden, and left out of Conversations (never out
	// of Changes), until a message with a later seq is stored or it is
	// unhidden. Returns the user's state after the change, and whether
	// anything changed. Returns EForbidden if the user is not a member
	// (former group members included), ENotFound if the conversation
	// does not exist.
	SetConvSettings(ctx context.Context, appID, convID, userID string, c ConvSettings) (ConvState, bool, error)
	// MutedBy returns the current members of a conversation who have
	// muted it, in ascending order (none: an empty slice). Its cost is
	// proportional to the number of such members, not to the number of
	// members. Returns nothing, and no error, for an unknown
	// conversation.
	MutedBy(ctx context.Context, appID, convID string) ([]string, error)
	// SearchMessages returns a page of the messages whose text matches
	// q.Text (see SearchQuery), most recently stored first, from the
	// conversations userID is a member of when it searches: never from
	// another conversation, even one q.ConvID names (that finds
	// nothing). The messages of one Append count as stored together:
	// among them only each conversation's order (descending Seq) is
	// kept. The order and the Next cursor are stable while messages are
	// appended: later pages never repeat or skip a match stored before
	// the first page was read. To bound the work of one call, a store may
	// return fewer than the limit, even none, with a Next to go on from
	// (it must look at 100 matches or more per call). Returns EInvalid if
	// q fails Validate or its text has nothing to search for (only
	// punctuation, say).
	SearchMessages(ctx context.Context, appID, userID string, q SearchQuery) (SearchResult, error)
}

package parley

import (
	"context"
	"slices"
	"unicode/utf8"
)

// Limits on contacts and on the lists that name users.
const (
	MaxContacts     = 5000 // live contacts of one user
	MaxAliasLen     = 128  // bytes of UTF-8 in a contact's alias
	MaxInterested   = 10_000
	MaxPresenceList = 1000 // users in one server API presence query
)

// Contact is one entry of a user's contact list: UserID is the contact.
// Ver is the owner's contact version: every add, alias change and removal
// gives the row a new Ver, strictly greater than every Ver the owner's rows
// had before, so a device that keeps the highest Ver it has seen learns
// every later change (removals included, as rows with Removed set).
type Contact struct {
	UserID  string `json:"user"`
	Alias   string `json:"alias,omitempty"`
	Removed bool   `json:"removed,omitempty"`
	// CreatedAt is when the contact was (last) added, in Unix
	// milliseconds.
	CreatedAt int64  `json:"created_at"`
	Ver       uint64 `json:"ver"`
	// Profile is the contact's profile when the store read it with the
	// row (lists and adds); nil for removed rows.
	Profile *User `json:"profile,omitempty"`
}

// ValidateAlias checks a contact alias: at most MaxAliasLen bytes of
// UTF-8 without control characters. Errors are ETooLarge and EInvalid.
func ValidateAlias(s string) error {
	if len(s) > MaxAliasLen {
		return Errorf(ETooLarge, "alias longer than %d bytes", MaxAliasLen)
	}
	if !utf8.ValidString(s) || hasControl(s) {
		return Errorf(EInvalid, "alias must be UTF-8 without control characters")
	}
	return nil
}

// ValidateUserList checks a list of user ids from a client or a business
// backend: 1 to max valid ids. It returns the list without repeats, in
// first-seen order. Errors are EInvalid for an empty list or a bad id and
// ETooLarge for a list over max.
func ValidateUserList(users []string, max int) ([]string, error) {
	if len(users) == 0 {
		return nil, Errorf(EInvalid, "users must name at least one user")
	}
	if len(users) > max {
		return nil, Errorf(ETooLarge, "users must name at most %d users", max)
	}
	out := make([]string, 0, len(users))
	for _, u := range users {
		if !ValidID(u) {
			return nil, Errorf(EInvalid, "%q is not a valid user id", truncate(u, MaxIDLen+1))
		}
		if !slices.Contains(out, u) {
			out = append(out, u)
		}
	}
	return out, nil
}

// Interest says whose presence and profile changes a user is told of: a
// viewer cares about user X when X is in the viewer's contact list
// (InterestContacts) or the two have a direct conversation
// (InterestPeers). It is a per-app setting; InterestDefault is both.
type Interest uint8

// Interests.
const (
	InterestContacts Interest = 1 << iota
	InterestPeers
	InterestDefault = InterestContacts | InterestPeers
)

// Presence is whether a user is online, and on which platforms (sorted,
// each once).
type Presence struct {
	User      string     `json:"user"`
	Online    bool       `json:"online"`
	Platforms []Platform `json:"platforms"`
}

// ContactStore keeps contact lists and profile versions, and answers who
// cares about whom. It is part of Store; parleytest.RunContactTests is its
// contract suite.
type ContactStore interface {
	// UpsertProfiles is UpsertUsers that also gives every user it creates
	// or whose name, avatar, role or metadata it changes a new profile
	// version (User.Ver, strictly greater than every profile version of
	// the app before it) and returns those users as stored, in input
	// order. Upserting a profile as it is stored changes nothing, not
	// even UpdatedAt.
	UpsertProfiles(ctx context.Context, appID string, users []User) (changed []User, err error)
	// AddContacts adds contacts to userID's list, or sets the alias of
	// those already in it, giving each row a new Ver. It returns the rows
	// as stored, with their profiles, in input order. ids must be valid
	// and distinct. Returns EInvalid if ids holds userID, ENotFound if
	// userID or a contact is not a user of the app, ETooLarge if the list
	// would grow past MaxContacts; nothing is stored then.
	AddContacts(ctx context.Context, appID, userID string, ids []string, alias string) ([]Contact, error)
	// RemoveContacts removes contacts from userID's list, keeping each as
	// a removed row with a new Ver, and returns those rows (ids that were
	// not in the list are skipped).
	RemoveContacts(ctx context.Context, appID, userID string, ids []string) ([]Contact, error)
	// Contacts returns userID's contact rows in ascending Ver order, at
	// most limit of them: with since 0, the live contacts (a list); with
	// since > 0, every row whose Ver is greater, removed ones included
	// (a sync). Live rows carry their profiles.
	Contacts(ctx context.Context, appID, userID string, since uint64, limit int) ([]Contact, error)
	// Interested returns up to limit users who care about userID (see
	// Interest), each once, userID and Parley's own users never among
	// them, in no particular order.
	Interested(ctx context.Context, appID, userID string, in Interest, limit int) ([]string, error)
	// CaredAbout returns those of users that viewer cares about, each
	// once, in input order.
	CaredAbout(ctx context.Context, appID, viewer string, users []string, in Interest) ([]string, error)
	// ProfilesSince returns the profiles of the users viewer cares about
	// whose profile version is greater than since, in ascending version
	// order, at most limit of them.
	ProfilesSince(ctx context.Context, appID, viewer string, since uint64, in Interest, limit int) ([]User, error)
}

// PeersIn returns the other member named by each direct conversation id of
// user among convs (other ids are skipped), in input order.
func PeersIn(user string, convs []string) []string {
	peers := make([]string, 0, len(convs))
	for _, c := range convs {
		if a, b, ok := DirectPeers(c); ok {
			if a == user {
				a = b
			}
			peers = append(peers, a)
		}
	}
	return peers
}

// InterestedList builds the answer of ContactStore.Interested from the
// lists a store reads: each id once, in the order added, never the user
// themself nor a reserved id ("_system"), at most the limit (n <= 0 or
// over MaxInterested means MaxInterested). Every store uses it, so all
// answer alike.
type InterestedList struct {
	user string
	n    int
	seen map[string]struct{}
	ids  []string
}

// NewInterestedList starts the list of who cares about user.
func NewInterestedList(user string, n int) *InterestedList {
	if n <= 0 || n > MaxInterested {
		n = MaxInterested
	}
	return &InterestedList{user: user, n: n, seen: make(map[string]struct{})}
}

// Limit is the most ids the list takes.
func (l *InterestedList) Limit() int { return l.n }

// Full reports whether the list holds Limit ids.
func (l *InterestedList) Full() bool { return len(l.ids) >= l.n }

// Add adds ids, skipping repeats, the user and reserved ids, up to the
// limit.
func (l *InterestedList) Add(ids []string) {
	for _, id := range ids {
		if l.Full() {
			return
		}
		if _, dup := l.seen[id]; dup || id == l.user || (id != "" && id[0] == '_') {
			continue
		}
		l.seen[id] = struct{}{}
		l.ids = append(l.ids, id)
	}
}

// IDs returns the list.
func (l *InterestedList) IDs() []string { return l.ids }

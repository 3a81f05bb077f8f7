package chat

import (
	"context"
	"slices"

	"github.com/parley-im/parley"
)

// groupEntry is what the committer knows of one group: its state and its
// current members. ids is sorted and never changed once built: deliveries
// share it.
type groupEntry struct {
	g       parley.Group
	members map[string]parley.GroupMember
	ids     []string
}

// member returns the membership of user, nil if not a member.
func (e *groupEntry) member(user string) *parley.GroupMember {
	if m, ok := e.members[user]; ok {
		return &m
	}
	return nil
}

// groupCache keeps the groups that messages went to recently, so that the
// committer checks a sender and fans a message out without reading the
// members from the store for every message. It is bounded by the number of
// memberships it holds (Config.GroupCacheMembers): adding a group past it
// forgets others, in no particular order.
//
// It belongs to the committer goroutine, which is the only one to read it
// and the only one to change groups (every group change is committed
// there), so it needs no lock and is never stale on a single node. Several
// nodes committing changes to the same group would each need to learn of
// the others' changes (a bus message, or a version check per batch); see
// docs/architecture.md.
type groupCache struct {
	max   int
	total int
	m     map[string]*groupEntry // key: app + "\x00" + group id
}

func (c *groupCache) init(max int) {
	c.max = max
	c.m = make(map[string]*groupEntry)
}

func groupKey(appID, groupID string) string { return appID + "\x00" + groupID }

func (c *groupCache) drop(key string) {
	if e, ok := c.m[key]; ok {
		c.total -= len(e.ids)
		delete(c.m, key)
	}
}

func (c *groupCache) put(key string, e *groupEntry) {
	c.drop(key)
	for k := range c.m {
		if c.total+len(e.ids) <= c.max {
			break
		}
		c.drop(k)
	}
	if len(e.ids) > c.max {
		return // larger than the whole cache: serve it uncached
	}
	c.m[key] = e
	c.total += len(e.ids)
}

// group returns the committer's view of a group, loading it from the store
// when it is not cached: the group, then its members a page at a time.
// Only the committer goroutine may call it.
func (s *Service) group(ctx context.Context, appID, groupID string) (*groupEntry, error) {
	key := groupKey(appID, groupID)
	if e, ok := s.groups.m[key]; ok {
		return e, nil
	}
	g, err := s.store.Group(ctx, appID, groupID)
	if err != nil {
		return nil, err
	}
	e := &groupEntry{g: *g, members: make(map[string]parley.GroupMember, g.Members)}
	e.ids = make([]string, 0, g.Members)
	after := ""
	for {
		page, err := s.store.GroupMembers(ctx, appID, groupID, after, groupLoadPage)
		if err != nil {
			return nil, err
		}
		for _, m := range page {
			e.members[m.User] = m
			e.ids = append(e.ids, m.User)
		}
		if len(page) < groupLoadPage {
			break
		}
		after = page[len(page)-1].User
	}
	s.groups.put(key, e)
	return e, nil
}

// groupLoadPage is how many members one store call loads.
const groupLoadPage = 1000

// applied returns the entry after change c, which the store has just
// committed, without reading the store again: a new entry with its own
// member map and, when membership changed, its own ids (deliveries in
// flight keep the old slice).
func (e *groupEntry) applied(c *parley.GroupChange) *groupEntry {
	n := &groupEntry{g: e.g, members: make(map[string]parley.GroupMember, len(e.members)+len(c.Users)), ids: e.ids}
	for k, v := range e.members {
		n.members[k] = v
	}
	set := func(user string, f func(m *parley.GroupMember)) {
		if m, ok := n.members[user]; ok {
			f(&m)
			n.members[user] = m
		}
	}
	switch c.Event {
	case parley.EventJoined:
		added := false
		for _, u := range c.Users {
			if _, ok := n.members[u]; !ok {
				n.members[u] = parley.GroupMember{User: u, Role: parley.GroupRoleMember, JoinedAt: c.Now}
				added = true
			}
		}
		if added {
			n.ids = sortedKeys(n.members)
		}
	case parley.EventLeft, parley.EventRemoved:
		who := c.Actor
		if c.Event == parley.EventRemoved {
			who = c.Users[0]
		}
		delete(n.members, who)
		n.ids = sortedKeys(n.members)
	case parley.EventRole:
		set(c.Users[0], func(m *parley.GroupMember) { m.Role = c.Role })
	case parley.EventMuted:
		set(c.Users[0], func(m *parley.GroupMember) { m.MutedUntil = c.MutedUntil })
	case parley.EventTransferred:
		set(e.g.Owner, func(m *parley.GroupMember) { m.Role = parley.GroupRoleAdmin })
		set(c.Users[0], func(m *parley.GroupMember) { m.Role, m.MutedUntil = parley.GroupRoleOwner, 0 })
		n.g.Owner = c.Users[0]
	case parley.EventMuteAll:
		n.g.MuteAll = c.MuteAll
	case parley.EventDissolved:
		n.g.Dissolved = true
	}
	n.g.Members = len(n.ids)
	return n
}

func sortedKeys(m map[string]parley.GroupMember) []string {
	ids := make([]string, 0, len(m))
	for k := range m {
		ids = append(ids, k)
	}
	slices.Sort(ids)
	return ids
}

package inmem

import (
	"context"
	"hash/maphash"
	"slices"
	"sync"

	"github.com/parley-im/parley"
)

var _ parley.Registry = (*Registry)(nil)

// numShards spreads users over locks so that registrations of different
// users rarely contend. A power of two, so the shard is a mask of the hash.
const numShards = 64

// Registry is an in-memory parley.Registry. Rows live as long as the
// process, so, unlike a shared registry, it needs no expiry: a crash takes
// the rows with the connections they describe. The zero value is not
// usable; call NewRegistry.
type Registry struct {
	seed   maphash.Seed
	shards [numShards]shard
}

type shard struct {
	mu sync.RWMutex
	// users holds each user's connections. A user with no connection left
	// has no entry, so the map does not grow with every user ever seen.
	// A slice, not a map by ConnID: users have a handful of devices, and
	// a map per user would cost over a kilobyte per connected user.
	users map[userKey][]parley.ConnInfo
}

type userKey struct{ app, user string }

// NewRegistry returns an empty registry.
func NewRegistry() *Registry {
	r := &Registry{seed: maphash.MakeSeed()}
	for i := range r.shards {
		r.shards[i].users = make(map[userKey][]parley.ConnInfo)
	}
	return r
}

func (r *Registry) shardIndex(k userKey) int {
	return int(maphash.Comparable(r.seed, k) & (numShards - 1))
}

// Register adds the connection c, or replaces the row of the same
// (AppID, UserID, ConnID). It returns EInvalid if AppID, UserID, ConnID or
// Node is empty. ctx is not used: nothing blocks.
func (r *Registry) Register(_ context.Context, c parley.ConnInfo) error {
	if c.AppID == "" || c.UserID == "" || c.ConnID == "" || c.Node == "" {
		return &parley.Error{Code: parley.EInvalid, Op: "inmem.Registry.Register", Message: "app, user, connection and node ids are required"}
	}
	k := userKey{c.AppID, c.UserID}
	s := &r.shards[r.shardIndex(k)]
	s.mu.Lock()
	defer s.mu.Unlock()
	conns := s.users[k]
	for i := range conns {
		if conns[i].ConnID == c.ConnID {
			conns[i] = c
			return nil
		}
	}
	s.users[k] = append(conns, c)
	return nil
}

// Unregister removes a connection. Removing one that is not registered is
// not an error. It never fails.
func (r *Registry) Unregister(_ context.Context, appID, userID, connID string) error {
	k := userKey{appID, userID}
	s := &r.shards[r.shardIndex(k)]
	s.mu.Lock()
	defer s.mu.Unlock()
	conns := s.users[k]
	for i := range conns {
		if conns[i].ConnID == connID {
			conns = slices.Delete(conns, i, i+1)
			break
		}
	}
	if len(conns) == 0 {
		delete(s.users, k)
	} else {
		s.users[k] = conns
	}
	return nil
}

// Locate returns the connections of the given users of appID, each once
// even if a user id is repeated, in no particular order; nil if there are
// none. It takes each shard's read lock at most once, however many users
// it asks for. It never fails.
func (r *Registry) Locate(_ context.Context, appID string, userIDs []string) ([]parley.ConnInfo, error) {
	if len(userIDs) == 1 { // the common case: no grouping needed
		k := userKey{appID, userIDs[0]}
		s := &r.shards[r.shardIndex(k)]
		s.mu.RLock()
		defer s.mu.RUnlock()
		return appendConns(nil, s.users[k]), nil
	}
	// Bucket the users by shard (a counting sort: no string compares),
	// then take each shard's lock once.
	shardOf := make([]uint8, len(userIDs))
	var starts [numShards + 1]int
	for i, u := range userIDs {
		sh := r.shardIndex(userKey{appID, u})
		shardOf[i] = uint8(sh)
		starts[sh+1]++
	}
	for i := 1; i <= numShards; i++ {
		starts[i] += starts[i-1]
	}
	byShard := make([]string, len(userIDs))
	next := starts
	for i, u := range userIDs {
		byShard[next[shardOf[i]]] = u
		next[shardOf[i]]++
	}
	out := make([]parley.ConnInfo, 0, len(userIDs)) // most users have one or two connections
	for sh := range numShards {
		bucket := byShard[starts[sh]:starts[sh+1]]
		if len(bucket) == 0 {
			continue
		}
		slices.Sort(bucket) // a repeated user is looked up once
		s := &r.shards[sh]
		s.mu.RLock()
		for i, u := range bucket {
			if i > 0 && bucket[i-1] == u {
				continue
			}
			out = appendConns(out, s.users[userKey{appID, u}])
		}
		s.mu.RUnlock()
	}
	if len(out) == 0 {
		return nil, nil
	}
	return out, nil
}

// appendConns appends copies of a user's rows. The shard's lock must be
// held.
func appendConns(out []parley.ConnInfo, conns []parley.ConnInfo) []parley.ConnInfo {
	return append(out, conns...)
}

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
	if len(userIDs) > 1 { // a repeated user is looked up once
		userIDs = slices.Compact(slices.Sorted(slices.Values(userIDs)))
	}
	var out []parley.ConnInfo
	r.eachOf(appID, userIDs, func(_ int32, conns []parley.ConnInfo) {
		if out == nil {
			out = make([]parley.ConnInfo, 0, max(len(conns), len(userIDs)/2)) // grows if more are online
		}
		out = appendConns(out, conns)
	})
	return out, nil
}

// LocateNodes calls found(i, node) for each connection of userIDs[i] of
// appID, a repeated user at each of its indexes: Locate without copying
// rows, for the dispatcher (its nodeLocator). found runs with a shard's
// read lock held and must not call r. It never fails.
func (r *Registry) LocateNodes(_ context.Context, appID string, userIDs []string, found func(i int, node string)) error {
	r.eachOf(appID, userIDs, func(i int32, conns []parley.ConnInfo) {
		for k := range conns {
			found(int(i), conns[k].Node)
		}
	})
	return nil
}

// eachOf calls f with the index and connections of each of userIDs that
// has any, grouped by shard so that each shard's read lock is taken at most once
// (a counting sort by shard: no string compares). f runs with that lock
// held and must not keep conns.
func (r *Registry) eachOf(appID string, userIDs []string, f func(i int32, conns []parley.ConnInfo)) {
	if len(userIDs) == 1 {
		k := userKey{appID, userIDs[0]}
		s := &r.shards[r.shardIndex(k)]
		s.mu.RLock()
		if conns := s.users[k]; len(conns) > 0 {
			f(0, conns)
		}
		s.mu.RUnlock()
		return
	}
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
	byShard := make([]int32, len(userIDs))
	next := starts
	for i := range userIDs {
		byShard[next[shardOf[i]]] = int32(i)
		next[shardOf[i]]++
	}
	for sh := range numShards {
		bucket := byShard[starts[sh]:starts[sh+1]]
		if len(bucket) == 0 {
			continue
		}
		s := &r.shards[sh]
		s.mu.RLock()
		for _, i := range bucket {
			if conns := s.users[userKey{appID, userIDs[i]}]; len(conns) > 0 {
				f(i, conns)
			}
		}
		s.mu.RUnlock()
	}
}

// appendConns appends copies of a user's rows. The shard's lock must be
// held.
func appendConns(out []parley.ConnInfo, conns []parley.ConnInfo) []parley.ConnInfo {
	return append(out, conns...)
}

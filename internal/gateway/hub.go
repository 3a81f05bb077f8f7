package gateway

import (
	"hash/maphash"
	"sync"
	"sync/atomic"
)

const hubShards = 64

// hub indexes the authenticated sessions of this node by app and user.
// It is sharded so that deliveries to different users do not contend.
type hub struct {
	seed   maphash.Seed
	shards [hubShards]hubShard

	open     [hubShards]openShard
	nextSlot atomic.Uint64
}

type hubShard struct {
	mu    sync.RWMutex
	users map[userKey][]*Session
}

type userKey struct{ app, user string }

func (h *hub) init() {
	h.seed = maphash.MakeSeed()
	for i := range h.shards {
		h.shards[i].users = make(map[userKey][]*Session)
	}
}

func (h *hub) shard(k userKey) *hubShard {
	var m maphash.Hash
	m.SetSeed(h.seed)
	m.WriteString(k.app)
	m.WriteByte(0)
	m.WriteString(k.user)
	return &h.shards[m.Sum64()%hubShards]
}

// add indexes s and returns the session of the same device it replaces,
// if any.
func (h *hub) add(s *Session) (replaced *Session) {
	k := userKey{s.app, s.user}
	sh := h.shard(k)
	sh.mu.Lock()
	defer sh.mu.Unlock()
	list := sh.users[k]
	for i, o := range list {
		if o.device == s.device {
			replaced = o
			list = append(list[:i:i], list[i+1:]...)
			break
		}
	}
	sh.users[k] = append(list, s)
	return replaced
}

func (h *hub) remove(s *Session) {
	k := userKey{s.app, s.user}
	sh := h.shard(k)
	sh.mu.Lock()
	defer sh.mu.Unlock()
	list := sh.users[k]
	for i, o := range list {
		if o == s {
			list = append(list[:i:i], list[i+1:]...)
			break
		}
	}
	if len(list) == 0 {
		delete(sh.users, k)
	} else {
		sh.users[k] = list
	}
}

// each calls f for every session of a user. f must not call back into the
// hub.
func (h *hub) each(app, user string, f func(*Session)) {
	k := userKey{app, user}
	sh := h.shard(k)
	sh.mu.RLock()
	list := sh.users[k]
	sh.mu.RUnlock()
	// list is never mutated in place (add and remove copy), so reading it
	// outside the lock is safe.
	for _, s := range list {
		f(s)
	}
}

func (h *hub) all() []*Session {
	var out []*Session
	for i := range h.shards {
		sh := &h.shards[i]
		sh.mu.RLock()
		for _, list := range sh.users {
			out = append(out, list...)
		}
		sh.mu.RUnlock()
	}
	return out
}

func (h *hub) count() int {
	n := 0
	for i := range h.shards {
		sh := &h.shards[i]
		sh.mu.RLock()
		for _, list := range sh.users {
			n += len(list)
		}
		sh.mu.RUnlock()
	}
	return n
}

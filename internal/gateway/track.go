package gateway

import "sync"

// openShard is one shard of the set of every open session of the node,
// authenticated or not, which the sweeper visits.
type openShard struct {
	mu sync.Mutex
	m  map[*Session]struct{}
}

func (h *hub) track(s *Session) {
	s.slot = h.nextSlot.Add(1)
	sh := &h.open[s.slot%hubShards]
	sh.mu.Lock()
	if sh.m == nil {
		sh.m = make(map[*Session]struct{})
	}
	sh.m[s] = struct{}{}
	sh.mu.Unlock()
}

func (h *hub) untrack(s *Session) {
	sh := &h.open[s.slot%hubShards]
	sh.mu.Lock()
	delete(sh.m, s)
	sh.mu.Unlock()
}

// eachOpen calls f for every open session, one shard at a time, outside
// the shard's lock.
func (h *hub) eachOpen(f func(*Session)) {
	var buf []*Session
	for i := range h.open {
		sh := &h.open[i]
		sh.mu.Lock()
		buf = buf[:0]
		for s := range sh.m {
			buf = append(buf, s)
		}
		sh.mu.Unlock()
		for _, s := range buf {
			f(s)
		}
	}
}

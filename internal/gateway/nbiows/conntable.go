package nbiows

import (
	"sync"

	"github.com/lesismal/nbio"
)

// connShards spreads the table over locks: the gateway's writers look a
// connection up after every write.
const connShards = 32

// connTable maps *nbio.Conn to *conn. It is a plain map per shard rather
// than a sync.Map: with 15,000 idle connections a sync.Map held ~270 bytes
// per entry, a tenth of what an idle connection costs in all; a map entry
// here is ~20 bytes plus the map's slack.
type connTable struct {
	shards [connShards]struct {
		mu sync.RWMutex
		m  map[*nbio.Conn]*conn
	}
}

func (t *connTable) shard(nc *nbio.Conn) int {
	h := nc.Hash() // the file descriptor: stable while the conn is in the table
	if h < 0 {
		h = -h
	}
	return h % connShards
}

func (t *connTable) store(nc *nbio.Conn, c *conn) {
	s := &t.shards[t.shard(nc)]
	s.mu.Lock()
	if s.m == nil {
		s.m = make(map[*nbio.Conn]*conn)
	}
	s.m[nc] = c
	s.mu.Unlock()
}

func (t *connTable) load(nc *nbio.Conn) *conn {
	s := &t.shards[t.shard(nc)]
	s.mu.RLock()
	c := s.m[nc]
	s.mu.RUnlock()
	return c
}

func (t *connTable) delete(nc *nbio.Conn) {
	if nc == nil {
		return
	}
	s := &t.shards[t.shard(nc)]
	s.mu.Lock()
	delete(s.m, nc)
	s.mu.Unlock()
}

// all returns every conn in the table.
func (t *connTable) all() []*conn {
	var out []*conn
	for i := range t.shards {
		s := &t.shards[i]
		s.mu.RLock()
		for _, c := range s.m {
			out = append(out, c)
		}
		s.mu.RUnlock()
	}
	return out
}

package redisreg

import (
	"sync"
	"time"
)

// leaseCache remembers, for the nodes whose rows Locate has seen, which
// lease instance holds each node (or that none does), so that filtering
// out dead nodes' rows costs no extra round trip. The next Locate after
// states are older than maxAge reads those nodes' leases again in the
// same pipeline as its rows (the set of nodes is small, and their states
// age together); only a node never seen before costs a second round
// trip.
//
// A row is live when its instance is the one cached for its node, so a
// state may be up to maxAge stale: a node that released its lease or
// died is ignored at most maxAge after its lease key went away, and a
// node that restarted under the same name is seen at most maxAge late.
type leaseCache struct {
	maxAge time.Duration // < 0: never trust a cached state
	forget time.Duration // a node not seen in a row for this long is forgotten

	// mu guards the fields below. It is a leaf lock.
	mu    sync.Mutex
	nodes map[string]*nodeLease
	// fetching is set while one Locate reads the leases that due gave
	// it, so that concurrent ones use the states they have meanwhile.
	fetching bool
}

type nodeLease struct {
	instance string    // "" if the node holds no lease
	fetched  time.Time // when instance was read
	seen     time.Time // when a row of the node was last seen
}

func newLeaseCache(maxAge time.Duration) *leaseCache {
	return &leaseCache{
		maxAge: maxAge,
		forget: max(time.Minute, 10*maxAge),
		nodes:  make(map[string]*nodeLease),
	}
}

// due returns the known nodes whose cached states are too old, which
// the caller must read with its rows; nil if there are none or another
// caller is reading them. A caller given nodes must call store with
// all set, even after a failure (with nil instances).
func (lc *leaseCache) due(now time.Time) []string {
	lc.mu.Lock()
	defer lc.mu.Unlock()
	if lc.fetching {
		return nil
	}
	var nodes []string
	for n, s := range lc.nodes {
		if lc.maxAge >= 0 && now.Sub(s.fetched) < lc.maxAge {
			continue
		}
		if s.instance == "" && now.Sub(s.seen) > lc.forget {
			delete(lc.nodes, n) // long dead and in no row read since
			continue
		}
		nodes = append(nodes, n)
	}
	lc.fetching = nodes != nil
	return nodes
}

// store records the lease instances read for nodes at now ("" for no
// lease). all says whether nodes came from due; instances is nil if the
// read failed, which changes no state.
func (lc *leaseCache) store(now time.Time, nodes, instances []string, all bool) {
	lc.mu.Lock()
	defer lc.mu.Unlock()
	if all {
		lc.fetching = false
	}
	if instances == nil {
		return
	}
	for i, n := range nodes {
		s := lc.nodes[n]
		if s == nil {
			s = &nodeLease{seen: now}
			lc.nodes[n] = s
		}
		s.instance, s.fetched = instances[i], now
	}
}

// set records a lease state this process knows first hand: its own
// lease acquired ("" when released).
func (lc *leaseCache) set(now time.Time, node, instance string) {
	lc.store(now, []string{node}, []string{instance}, false)
}

// check reports whether instance holds node's lease as cached; known is
// false if nothing is cached for node, whose lease must then be read
// (and stored). It marks the node as seen in a row.
func (lc *leaseCache) check(now time.Time, node, instance string) (live, known bool) {
	lc.mu.Lock()
	defer lc.mu.Unlock()
	s := lc.nodes[node]
	if s == nil {
		return false, false
	}
	s.seen = now
	return s.instance != "" && s.instance == instance, true
}

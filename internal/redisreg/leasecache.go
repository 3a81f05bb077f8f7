package redisreg

import (
	"sync"
	"time"
)

// leaseCache remembers, for the nodes whose rows Locate has seen, which
// lease instance holds each node (or that none does), so that filtering
// out dead nodes' rows costs no extra round trip. Once the states are
// older than maxAge, the next Locate reads every known node's lease
// again in the same pipeline as its rows (the set of nodes is small);
// only a node never seen before costs a second round trip.
//
// A row is live when its instance is the one cached for its node, so a
// state may be up to maxAge stale: a node that released its lease or
// died is ignored at most maxAge after its lease key went away, and a
// node that restarted under the same name is seen at most maxAge late.
type leaseCache struct {
	maxAge time.Duration // < 0: never trust a cached state
	forget time.Duration // a node not seen in a row for this long is forgotten

	// mu guards the fields below. It is a leaf lock.
	mu      sync.Mutex
	nodes   map[string]*nodeLease
	fetched time.Time // when every known node's lease was last read
	// fetching is set while one Locate reads every known node's lease,
	// so that concurrent ones use the states they have meanwhile.
	fetching bool
}

type nodeLease struct {
	instance string    // "" if the node holds no lease
	seen     time.Time // when a row of the node was last seen
}

func newLeaseCache(maxAge time.Duration) *leaseCache {
	return &leaseCache{
		maxAge: maxAge,
		forget: max(time.Minute, 10*maxAge),
		nodes:  make(map[string]*nodeLease),
	}
}

// due returns the known nodes whose leases the caller must read with its
// rows, nil if the cached states are fresh enough or another caller is
// reading them. A caller given nodes must call store, even after a
// failure (with nil instances).
func (lc *leaseCache) due(now time.Time) []string {
	lc.mu.Lock()
	defer lc.mu.Unlock()
	if lc.fetching || len(lc.nodes) == 0 || (lc.maxAge >= 0 && now.Sub(lc.fetched) < lc.maxAge) {
		return nil
	}
	lc.fetching = true
	nodes := make([]string, 0, len(lc.nodes))
	for n, s := range lc.nodes {
		if now.Sub(s.seen) > lc.forget && s.instance == "" {
			delete(lc.nodes, n) // long dead and no longer in any row read
			continue
		}
		nodes = append(nodes, n)
	}
	return nodes
}

// store records the lease instances read for nodes ("" for none) at now.
// all says whether nodes came from due (every known node); instances is
// nil if the read failed, which changes no state.
func (lc *leaseCache) store(now time.Time, nodes, instances []string, all bool) {
	lc.mu.Lock()
	defer lc.mu.Unlock()
	if all {
		lc.fetching = false
	}
	if instances == nil {
		return
	}
	if all {
		lc.fetched = now
	}
	for i, n := range nodes {
		s := lc.nodes[n]
		if s == nil {
			s = &nodeLease{seen: now}
			lc.nodes[n] = s
		}
		s.instance = instances[i]
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

// Package balance tells a client which gateway node to connect to, from
// the live node list: round-robin, ip-hash or least-connections. A
// Balancer is safe for concurrent use and has no goroutines.
package balance

import (
	"context"
	"fmt"
	"hash/fnv"
	"slices"
	"sync/atomic"

	"github.com/parley-im/parley"
)

// Node is one live gateway node as clients reach it.
type Node struct {
	ID string `json:"node"`
	// URL is the node's base URL for clients (http://host:port or
	// https://...); the WebSocket endpoint is URL + /v1/ws.
	URL string `json:"url"`
	// Conns is the node's current client connections.
	Conns int `json:"conns"`
}

// Nodes lists the live gateway nodes. The embedded default has one (Self);
// in production the node leases in Redis list them.
type Nodes interface {
	Nodes(ctx context.Context) ([]Node, error)
}

// Strategy names.
const (
	RoundRobin       = "round-robin"
	IPHash           = "ip-hash"
	LeastConnections = "least-connections"
)

// Balancer picks a node for a client.
type Balancer struct {
	nodes    Nodes
	strategy string
	next     atomic.Uint64
}

// New returns a Balancer over nodes. strategy is RoundRobin (the
// default for ""), IPHash or LeastConnections; any other is an error.
func New(nodes Nodes, strategy string) (*Balancer, error) {
	switch strategy {
	case "":
		strategy = RoundRobin
	case RoundRobin, IPHash, LeastConnections:
	default:
		return nil, fmt.Errorf("balance strategy must be %s, %s or %s, not %q", RoundRobin, IPHash, LeastConnections, strategy)
	}
	return &Balancer{nodes: nodes, strategy: strategy}, nil
}

// Pick returns the node a client at clientIP should connect to.
//
//   - round-robin: the live nodes in id order, one after the other.
//   - ip-hash: rendezvous hashing of the client IP over the node ids, so
//     a client keeps its node while that node lives, and when a node
//     joins or leaves only the clients that belong to it move.
//   - least-connections: the node with the fewest connections (ties by
//     id). Counts are as fresh as the node list (a few seconds), so a
//     burst of clients may land on one node before its count grows.
//
// Returns EUnavailable when no node is live.
func (b *Balancer) Pick(ctx context.Context, clientIP string) (Node, error) {
	ns, err := b.nodes.Nodes(ctx)
	if err != nil {
		return Node{}, err
	}
	if len(ns) == 0 {
		return Node{}, parley.Errorf(parley.EUnavailable, "no gateway node is live")
	}
	ns = slices.Clone(ns)
	slices.SortFunc(ns, func(a, b Node) int {
		if a.ID < b.ID {
			return -1
		}
		if a.ID > b.ID {
			return 1
		}
		return 0
	})
	switch b.strategy {
	case IPHash:
		best, bestScore := 0, uint64(0)
		for i, n := range ns {
			if s := score(clientIP, n.ID); i == 0 || s > bestScore {
				best, bestScore = i, s
			}
		}
		return ns[best], nil
	case LeastConnections:
		best := 0
		for i, n := range ns {
			if n.Conns < ns[best].Conns {
				best = i
			}
		}
		return ns[best], nil
	default:
		return ns[(b.next.Add(1)-1)%uint64(len(ns))], nil
	}
}

// score is the rendezvous weight of a client on a node.
func score(ip, node string) uint64 {
	h := fnv.New64a()
	_, _ = h.Write([]byte(ip))
	_, _ = h.Write([]byte{0})
	_, _ = h.Write([]byte(node))
	// FNV's low bits mix poorly for similar inputs; finish with a
	// 64-bit mixer (splitmix64's).
	x := h.Sum64()
	x ^= x >> 30
	x *= 0xbf58476d1ce4e5b9
	x ^= x >> 27
	x *= 0x94d049bb133111eb
	x ^= x >> 31
	return x
}

// Self is the node list of a single node: itself, with its live count.
type Self struct {
	ID    string
	URL   string
	Conns func() int
}

// Nodes returns the one node.
func (s Self) Nodes(context.Context) ([]Node, error) {
	return []Node{{ID: s.ID, URL: s.URL, Conns: s.Conns()}}, nil
}

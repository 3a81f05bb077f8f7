package redisreg

import (
	"context"
	"encoding/json"
	"slices"

	"github.com/parley-im/parley"
)

// NodeInfo is a live node as clients reach it (GET /v1/gateway).
type NodeInfo struct {
	ID    string
	URL   string
	Conns int
}

// nodeEntry is a node's field in the directory hash: who wrote it (the
// lease instance), so that only a live instance's entry counts.
type nodeEntry struct {
	Instance string `json:"i"`
	URL      string `json:"u"`
	Conns    int    `json:"c"`
}

func (r *Registry) directoryKey() string { return r.opt.Prefix + "nodes" }

// Announce records in the node directory how clients reach this lease's
// node (its base URL) and how many connections it holds. Nodes lists it
// while the lease lives; the node calls Announce every few seconds to
// keep the count fresh. Returns EUnavailable if Redis cannot be reached,
// EInvalid for a URL that is empty or over 2 KiB.
func (l *Lease) Announce(ctx context.Context, url string, conns int) error {
	const op = "redisreg.Lease.Announce"
	if url == "" || len(url) > 2048 {
		return &parley.Error{Code: parley.EInvalid, Op: op, Message: "a node URL must be 1-2048 bytes"}
	}
	b, _ := json.Marshal(nodeEntry{Instance: l.instance, URL: url, Conns: conns})
	if err := l.r.c.HSet(ctx, l.r.directoryKey(), l.node, b).Err(); err != nil {
		return unavailable(op, err)
	}
	return nil
}

// Nodes returns the live nodes of the directory, in id order: those whose
// announcing instance still holds the node's lease (a crashed node drops
// out when its lease lapses, a released one at once). Entries of dead
// instances are removed as they are found. Two round trips.
func (r *Registry) Nodes(ctx context.Context) ([]NodeInfo, error) {
	const op = "redisreg.Registry.Nodes"
	all, err := r.c.HGetAll(ctx, r.directoryKey()).Result()
	if err != nil {
		return nil, unavailable(op, err)
	}
	ids := make([]string, 0, len(all))
	for id := range all {
		ids = append(ids, id)
	}
	slices.Sort(ids)
	if len(ids) == 0 {
		return nil, nil
	}
	keys := make([]string, len(ids))
	for i, id := range ids {
		keys[i] = r.leaseKey(id)
	}
	holders, err := r.c.MGet(ctx, keys...).Result()
	if err != nil {
		return nil, unavailable(op, err)
	}
	var out []NodeInfo
	var dead []string
	for i, id := range ids {
		var e nodeEntry
		holder, _ := holders[i].(string)
		if holder == "" {
			dead = append(dead, id) // lapsed or released
			continue
		}
		if json.Unmarshal([]byte(all[id]), &e) != nil || holder != e.Instance {
			continue // restarted: the new instance has not announced yet
		}
		out = append(out, NodeInfo{ID: id, URL: e.URL, Conns: e.Conns})
	}
	if len(dead) > 0 {
		// Best effort: a node that announces again in between is back at
		// its next Announce.
		_ = r.c.HDel(ctx, r.directoryKey(), dead...).Err()
	}
	return out, nil
}

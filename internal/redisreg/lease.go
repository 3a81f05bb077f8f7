package redisreg

import (
	"context"
	"crypto/rand"
	"sync"

	"github.com/redis/go-redis/v9"

	"github.com/parley-im/parley"
)

// renewScript renews a lease held by ARGV[1] for ARGV[2] ms. It returns
// 1 if the lease was held and is renewed, 2 if the key was gone and is
// taken again (Redis lost its data, or the lease lapsed: the caller must
// re-register its connections), 0 if another instance holds it.
const renewScript = `
local v = redis.call('GET', KEYS[1])
if v == ARGV[1] then
  redis.call('PEXPIRE', KEYS[1], ARGV[2])
  return 1
end
if not v then
  redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
  return 2
end
return 0
`

// releaseScript deletes a lease key if ARGV[1] still holds it.
const releaseScript = `
if redis.call('GET', KEYS[1]) == ARGV[1] then
  return redis.call('DEL', KEYS[1])
end
return 0
`

// Lease is a node's claim, kept in Redis, that it is alive. Each Acquire
// is a new instance with a random id; every row the node registers
// carries it, and Locate returns a row only while its instance holds the
// node's lease. So the rows of a node that crashed are ignored once its
// lease lapses (Options.LeaseTTL), those of a node that released its
// lease or restarted under the same name at once (within
// Options.LeaseCache); Clean removes them later.
//
// The node keeps its lease with Start (a goroutine that renews it, keeps
// its rows in step and cleans up after dead nodes) or by calling Renew,
// Sync and Registry.Clean itself, and ends it with Release. A Lease is
// safe for concurrent use.
type Lease struct {
	r        *Registry
	node     string
	instance string
	member   string        // instancePrefix(node, instance)
	wake     chan struct{} // buffered 1: renew now (a new Redis connection)

	// mu guards the upkeep's handles. It is a leaf lock.
	mu     sync.Mutex
	cancel context.CancelFunc
	done   chan struct{}
}

// Acquire takes the lease of node for a new instance and makes this
// Registry able to Register connections of node. A lease of node held by
// another process (a node restarted under the same name before its old
// lease lapsed) is taken over: the old instance's rows are ignored from
// then on and its Renew fails with EConflict. Returns EInvalid for an
// empty node, EConflict if this Registry already holds a lease of node,
// EUnavailable if Redis cannot be reached.
func (r *Registry) Acquire(ctx context.Context, node string) (*Lease, error) {
	const op = "redisreg.Registry.Acquire"
	if node == "" {
		return nil, &parley.Error{Code: parley.EInvalid, Op: op, Message: "node id is required"}
	}
	l := &Lease{r: r, node: node, instance: rand.Text()[:16], wake: make(chan struct{}, 1)}
	l.member = instancePrefix(node, l.instance)
	r.mu.Lock()
	if r.own[node] != nil {
		r.mu.Unlock()
		return nil, &parley.Error{Code: parley.EConflict, Op: op, Message: "this registry already holds the lease of node " + node}
	}
	r.own[node] = l
	r.mu.Unlock()

	now := r.opt.Now()
	pipe := r.c.Pipeline()
	pipe.Set(ctx, r.leaseKey(node), l.instance, r.opt.LeaseTTL)
	pipe.ZAdd(ctx, r.instancesKey(), redis.Z{Score: float64(now.UnixMilli()), Member: l.member})
	if _, err := pipe.Exec(ctx); err != nil {
		r.drop(l)
		return nil, unavailable(op, err)
	}
	r.cache.set(now, node, l.instance)
	return l, nil
}

// drop forgets l as this Registry's lease of its node.
func (r *Registry) drop(l *Lease) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.own[l.node] == l {
		delete(r.own, l.node)
	}
}

// Node returns the node the lease is for.
func (l *Lease) Node() string { return l.node }

// Renew extends the lease by Options.LeaseTTL. restored is true if the
// lease key had vanished and was taken again: Redis lost its data
// (restarted without persistence, failed over) or the lease lapsed
// because Redis was unreachable for longer than LeaseTTL, and meanwhile
// other nodes ignored this node's rows and may have removed them. The
// caller must then Sync, which re-registers the node's connections.
// Returns EConflict if another instance holds the lease (this node's
// rows stay ignored), EUnavailable if Redis cannot be reached or the
// lease was released.
func (l *Lease) Renew(ctx context.Context) (restored bool, err error) {
	const op = "redisreg.Lease.Renew"
	r := l.r
	if r.lease(l.node) != l {
		return false, &parley.Error{Code: parley.EUnavailable, Op: op, Message: "lease released"}
	}
	res, err := r.renew.Run(ctx, r.c, []string{r.leaseKey(l.node)}, l.instance, r.opt.LeaseTTL.Milliseconds()).Int()
	if err != nil {
		return false, unavailable(op, err)
	}
	if res == 0 {
		return false, &parley.Error{Code: parley.EConflict, Op: op, Message: "another process holds the lease of node " + l.node}
	}
	// The instance's last renewal, for Clean; the index lives as long as
	// the instance.
	pipe := r.c.Pipeline()
	pipe.ZAdd(ctx, r.instancesKey(), redis.Z{Score: float64(r.opt.Now().UnixMilli()), Member: l.member})
	pipe.PExpire(ctx, r.indexKey(l.member), r.opt.TTL)
	if _, err := pipe.Exec(ctx); err != nil {
		return res == 2, unavailable(op, err)
	}
	return res == 2, nil
}

// Release ends the lease: the node's rows are ignored at once and then
// removed, and Register refuses the node's connections. It stops the
// upkeep if it runs. Call it on graceful shutdown, after the gateway has
// closed its sessions (or instead of their Unregisters). If it fails
// part way, the rows are ignored anyway and Clean removes them later.
// Returns EUnavailable if Redis cannot be reached.
func (l *Lease) Release(ctx context.Context) error {
	const op = "redisreg.Lease.Release"
	l.Stop()
	r := l.r
	r.drop(l)
	if err := r.release.Run(ctx, r.c, []string{r.leaseKey(l.node)}, l.instance).Err(); err != nil {
		return unavailable(op, err)
	}
	r.cache.set(r.opt.Now(), l.node, "")
	if _, err := r.purge(ctx, l.member); err != nil {
		return unavailable(op, err)
	}
	return nil
}

// write stores conns (all of l's node) under l's instance: one pipeline
// per batch of users adds the users to the instance's index, sets the
// rows and restarts their users' expiry. A pipeline, not a transaction,
// so that it works on a Redis Cluster too (the keys are in different
// slots); the order makes a pipeline cut short harmless: a user is in the
// index before it has a row, so Clean finds every row, and a row that
// missed its expiry is given one by the next Sync.
func (l *Lease) write(ctx context.Context, conns []parley.ConnInfo) error {
	r := l.r
	idx := r.indexKey(l.member)
	for len(conns) > 0 {
		n := min(len(conns), batchSize)
		keys := make([]any, n)
		for i := range conns[:n] {
			keys[i] = r.userKey(conns[i].AppID, conns[i].UserID)
		}
		pipe := r.c.Pipeline()
		pipe.SAdd(ctx, idx, keys...)
		pipe.PExpire(ctx, idx, r.opt.TTL)
		for i := range conns[:n] {
			k := keys[i].(string)
			pipe.HSet(ctx, k, conns[i].ConnID, encodeRow(&conns[i], l.instance))
			pipe.PExpire(ctx, k, r.opt.TTL)
		}
		if _, err := pipe.Exec(ctx); err != nil {
			return err
		}
		conns = conns[n:]
	}
	return nil
}

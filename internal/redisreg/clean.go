package redisreg

import (
	"context"
	"strconv"

	"github.com/redis/go-redis/v9"

	"github.com/parley-im/parley"
)

// batchSize is how many users one pipeline or transaction covers when a
// whole node's rows are written or pruned.
const batchSize = 256

// pruneScript deletes, from the user hash KEYS[1], the rows of the
// instance whose rows start with ARGV[1], except the connections named in
// ARGV[2:]. It returns {rows of the instance left, rows deleted}. A hash
// holds one user's few connections, so the scan is short.
const pruneScript = `
local keep = {}
for i = 2, #ARGV do keep[ARGV[i]] = true end
local p = ARGV[1]
local kv = redis.call('HGETALL', KEYS[1])
local left, removed = 0, 0
for i = 1, #kv, 2 do
  if string.sub(kv[i+1], 1, #p) == p then
    if keep[kv[i]] then
      left = left + 1
    else
      redis.call('HDEL', KEYS[1], kv[i])
      removed = removed + 1
    end
  end
end
return {left, removed}
`

// pruneIndex walks the index of the instance member (the users it
// registered) and deletes the instance's rows except those whose
// connection ids keep lists under the user's key; users left with no row
// of the instance leave the index. It returns how many rows it deleted.
// Each user costs one script call, pipelined by batchSize.
func (r *Registry) pruneIndex(ctx context.Context, member string, keep map[string][]string) (removed int, err error) {
	sha, err := r.prune.Load(ctx, r.c).Result()
	if err != nil {
		return 0, err
	}
	idx := r.indexKey(member)
	var cursor uint64
	for {
		keys, next, err := r.c.SScan(ctx, idx, cursor, "", batchSize).Result()
		if err != nil {
			return removed, err
		}
		if len(keys) > 0 {
			pipe := r.c.Pipeline()
			cmds := make([]*redis.Cmd, len(keys))
			for i, k := range keys {
				args := make([]any, 0, 1+len(keep[k]))
				args = append(args, member)
				for _, conn := range keep[k] {
					args = append(args, conn)
				}
				cmds[i] = pipe.EvalSha(ctx, sha, []string{k}, args...)
			}
			_, _ = pipe.Exec(ctx) // each command's error is checked below
			var done []any
			for i, c := range cmds {
				res, err := c.Int64Slice()
				if err != nil || len(res) != 2 {
					return removed, fmtErr(err, "prune script answered %v", c.Val())
				}
				removed += int(res[1])
				if res[0] == 0 {
					done = append(done, keys[i])
				}
			}
			if len(done) > 0 {
				if err := r.c.SRem(ctx, idx, done...).Err(); err != nil {
					return removed, err
				}
			}
		}
		if next == 0 {
			return removed, nil
		}
		cursor = next
	}
}

// purge removes every row of the instance member, its index and its
// entry among the instances.
func (r *Registry) purge(ctx context.Context, member string) (removed int, err error) {
	removed, err = r.pruneIndex(ctx, member, nil)
	if err != nil {
		return removed, err
	}
	pipe := r.c.Pipeline()
	pipe.Del(ctx, r.indexKey(member))
	pipe.ZRem(ctx, r.instancesKey(), member)
	_, err = pipe.Exec(ctx)
	return removed, err
}

// Clean removes the rows of dead lease instances: those not renewed for
// Options.LeaseTTL (by the clock of the instances' nodes) whose lease key
// no longer names them. Locate already ignores such rows; Clean frees
// their memory. Any number of nodes may run it at once: each removal is
// idempotent. It returns how many rows it removed. Returns EUnavailable
// if Redis cannot be reached.
func (r *Registry) Clean(ctx context.Context) (removed int, err error) {
	const op = "redisreg.Registry.Clean"
	before := strconv.FormatInt(r.opt.Now().Add(-r.opt.LeaseTTL).UnixMilli(), 10)
	members, err := r.c.ZRangeByScore(ctx, r.instancesKey(), &redis.ZRangeBy{Min: "-inf", Max: before}).Result()
	if err != nil {
		return 0, unavailable(op, err)
	}
	var nodes, insts, stale []string
	for _, m := range members {
		node, rest, ok := cutString(m)
		inst, rest2, ok2 := cutString(rest)
		if !ok || !ok2 || rest2 != "" {
			stale = append(stale, m) // not ours to read: drop the entry
			continue
		}
		nodes, insts = append(nodes, node), append(insts, inst)
	}
	holders, err := r.readLeases(ctx, nodes)
	if err != nil {
		return 0, unavailable(op, err)
	}
	for i, node := range nodes {
		if holders[i] == insts[i] {
			continue // renewed late, or by a node whose clock is behind
		}
		n, err := r.purge(ctx, instancePrefix(node, insts[i]))
		removed += n
		if err != nil {
			return removed, unavailable(op, err)
		}
	}
	if len(stale) > 0 {
		if err := r.c.ZRem(ctx, r.instancesKey(), toAny(stale)...).Err(); err != nil {
			return removed, unavailable(op, err)
		}
	}
	return removed, nil
}

func toAny(s []string) []any {
	out := make([]any, len(s))
	for i, v := range s {
		out[i] = v
	}
	return out
}

// fmtErr returns err, or a new error made of format and args if err is
// nil.
func fmtErr(err error, format string, args ...any) error {
	if err != nil {
		return err
	}
	return parley.Errorf(parley.EInternal, format, args...)
}

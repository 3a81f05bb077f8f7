// Package singleton runs a piece of background work on one node of a
// cluster at a time: the node that holds a lease, a key in Redis that it
// renews. When the holder stops (or dies, and its lease lapses) another
// node takes the work over.
//
// The guarantee is the lease's: at most one holder at a time, as long as
// clocks do not drift by a large part of the TTL. A holder that cannot
// renew stops its work before its lease can have lapsed, so a partition
// leaves no two nodes working; it leaves none for up to a TTL.
package singleton

import (
	"context"
	"crypto/rand"
	"log/slog"
	"time"

	"github.com/redis/go-redis/v9"
)

// renewScript extends the lease if ARGV[1] holds it.
const renewScript = `
if redis.call('GET', KEYS[1]) == ARGV[1] then
  return redis.call('PEXPIRE', KEYS[1], ARGV[2])
end
return 0
`

// releaseScript deletes the lease if ARGV[1] holds it.
const releaseScript = `
if redis.call('GET', KEYS[1]) == ARGV[1] then
  return redis.call('DEL', KEYS[1])
end
return 0
`

// DefaultTTL is how long a lease outlives its holder's last renewal.
const DefaultTTL = 10 * time.Second

// Lease is one node's claim on one piece of work.
type Lease struct {
	c        redis.UniversalClient
	key      string
	instance string
	ttl      time.Duration
	log      *slog.Logger
	renew    *redis.Script
	release  *redis.Script
}

// New returns a Lease on key (one key per piece of work, shared by every
// node) with ttl (DefaultTTL when 0).
func New(c redis.UniversalClient, key string, ttl time.Duration, log *slog.Logger) *Lease {
	if ttl <= 0 {
		ttl = DefaultTTL
	}
	if log == nil {
		log = slog.Default()
	}
	return &Lease{c: c, key: key, instance: rand.Text(), ttl: ttl, log: log,
		renew: redis.NewScript(renewScript), release: redis.NewScript(releaseScript)}
}

// Run competes for the lease until ctx ends, every ttl/3: it calls
// active(true) when this node takes the lease and active(false) when it
// loses it, cannot renew it in time, or ctx ends (then it releases the
// lease, so another node takes over at its next try). active runs on
// Run's goroutine; Run returns after the last active(false).
func (l *Lease) Run(ctx context.Context, active func(bool)) {
	every := l.ttl / 3
	held := false
	var renewed time.Time // last successful acquire or renew
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		now := time.Now()
		ok, err := l.try(ctx, held)
		switch {
		case err == nil && ok:
			renewed = now
			if !held {
				held = true
				active(true)
			}
		case err == nil && !ok && held:
			held = false // another instance has it: we had lapsed
			l.log.Warn("singleton lease lost", "key", l.key)
			active(false)
		case err != nil && held && now.Sub(renewed) >= l.ttl-every:
			// Stop before the lease can lapse in Redis.
			held = false
			l.log.Warn("singleton lease not renewed in time; stepping down", "key", l.key, "err", err)
			active(false)
		}
		select {
		case <-t.C:
		case <-ctx.Done():
			if held {
				active(false)
				rctx, cancel := context.WithTimeout(context.Background(), time.Second)
				_ = l.release.Run(rctx, l.c, []string{l.key}, l.instance).Err()
				cancel()
			}
			return
		}
	}
}

// try takes the lease if it is free, or renews it if held.
func (l *Lease) try(ctx context.Context, held bool) (bool, error) {
	ctx, cancel := context.WithTimeout(ctx, l.ttl/3)
	defer cancel()
	if held {
		n, err := l.renew.Run(ctx, l.c, []string{l.key}, l.instance, l.ttl.Milliseconds()).Int()
		return n == 1, err
	}
	return l.c.SetNX(ctx, l.key, l.instance, l.ttl).Result()
}

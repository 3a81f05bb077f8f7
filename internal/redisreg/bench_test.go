package redisreg_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/parley-im/parley"
	"github.com/parley-im/parley/internal/redisreg"
	"github.com/parley-im/parley/internal/testservers"
)

// benchRegistry returns a registry on the shared test Redis, on keys of
// the benchmark's own, holding the leases of nodes node-0 to node-<n-1>.
func benchRegistry(b *testing.B, opt redisreg.Options, nodes int) *redisreg.Registry {
	c := testservers.Redis(b)
	opt.Prefix = testservers.RedisPrefix(b, c)
	r := redisreg.New(c, opt)
	for n := range nodes {
		mustAcquire(b, r, fmt.Sprintf("node-%d", n))
	}
	return r
}

// BenchmarkRegister registers one connection per op, each of a user of
// its own: one transaction (HSET, PEXPIRE, SADD, PEXPIRE) per op.
func BenchmarkRegister(b *testing.B) {
	r := benchRegistry(b, redisreg.Options{}, 1)
	ctx := context.Background()
	i := 0
	for b.Loop() {
		u := fmt.Sprintf("u%d", i%10000)
		if err := r.Register(ctx, conn("app", u, "c-"+u, "node-0")); err != nil {
			b.Fatal(err)
		}
		i++
	}
}

// BenchmarkRegister100 registers 100 users' connections one call at a
// time, as 100 sessions connecting would.
func BenchmarkRegister100(b *testing.B) {
	r := benchRegistry(b, redisreg.Options{}, 1)
	ctx := context.Background()
	for b.Loop() {
		for i := range 100 {
			u := fmt.Sprintf("u%d", i)
			if err := r.Register(ctx, conn("app", u, "c-"+u, "node-0")); err != nil {
				b.Fatal(err)
			}
		}
	}
}

// BenchmarkLocate100 locates 100 users with 1.5 connections each on 4
// nodes, as the dispatcher does for a batch of recipients.
func BenchmarkLocate100(b *testing.B) {
	for _, bc := range []struct {
		name  string
		cache int
	}{{"LeasesCached", 0}, {"LeasesReadEveryTime", -1}} {
		b.Run(bc.name, func(b *testing.B) {
			r := benchRegistry(b, redisreg.Options{LeaseCache: time.Duration(bc.cache)}, 4)
			ctx := context.Background()
			users := make([]string, 100)
			for i := range users {
				users[i] = fmt.Sprintf("u%d", i)
				for d := range 1 + i%2 {
					mustRegister(b, r, conn("app", users[i], fmt.Sprintf("c%d-%d", i, d), fmt.Sprintf("node-%d", (i+d)%4)))
				}
			}
			for b.Loop() {
				cs, err := r.Locate(ctx, "app", users)
				if err != nil || len(cs) != 150 {
					b.Fatalf("Locate: got %d connections, %v; want 150", len(cs), err)
				}
			}
		})
	}
}

// BenchmarkLocate100NodesNeverSeen is BenchmarkLocate100 by a reader
// that has never seen the 4 nodes: a second round trip reads their
// leases (what every Locate would cost if the leases were not read in
// the rows' pipeline).
func BenchmarkLocate100NodesNeverSeen(b *testing.B) {
	c := testservers.Redis(b)
	opt := redisreg.Options{Prefix: testservers.RedisPrefix(b, c)}
	ctx := context.Background()
	users := make([]string, 100)
	for n := range 4 {
		r := redisreg.New(c, opt)
		node := fmt.Sprintf("node-%d", n)
		mustAcquire(b, r, node)
		for i := n; i < len(users); i += 4 {
			users[i] = fmt.Sprintf("u%d", i)
			for d := range 1 + i%2 {
				mustRegister(b, r, conn("app", users[i], fmt.Sprintf("c%d-%d", i, d), node))
			}
		}
	}
	for b.Loop() {
		cs, err := redisreg.New(c, opt).Locate(ctx, "app", users)
		if err != nil || len(cs) != 150 {
			b.Fatalf("Locate: got %d connections, %v; want 150", len(cs), err)
		}
	}
}

// BenchmarkSync1000 re-registers a node's 1,000 connections and prunes
// its rows, as the upkeep does every SyncEvery and after Redis lost its
// data.
func BenchmarkSync1000(b *testing.B) {
	r := benchRegistry(b, redisreg.Options{}, 0)
	l := mustAcquire(b, r, "node-0")
	live := make([]parley.ConnInfo, 1000)
	for i := range live {
		u := fmt.Sprintf("u%d", i)
		live[i] = conn("app", u, "c-"+u, "node-0")
	}
	list := func() []parley.ConnInfo { return live }
	ctx := context.Background()
	for b.Loop() {
		if err := l.Sync(ctx, list); err != nil {
			b.Fatal(err)
		}
	}
}

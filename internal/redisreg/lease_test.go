package redisreg_test

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/parley-im/parley"
	"github.com/parley-im/parley/internal/redisreg"
)

// clock is a settable clock for Options.Now.
type clock struct {
	mu  sync.Mutex
	now time.Time
}

func newClock() *clock { return &clock{now: time.Now()} }

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *clock) Advance(d time.Duration) {
	c.mu.Lock()
	c.now = c.now.Add(d)
	c.mu.Unlock()
}

// waitLeaseGone waits until the lease key of node has expired.
func (e *env) waitLeaseGone(node string) {
	e.t.Helper()
	for deadline := time.Now().Add(5 * time.Second); time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
		if e.c.Exists(context.Background(), e.prefix+"lease:"+node).Val() == 0 {
			return
		}
	}
	e.t.Fatalf("the lease of %s did not lapse", node)
}

func TestCrashedNodeIsIgnoredThenCleaned(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	clk := newClock()
	reader := e.registry(redisreg.Options{Now: clk.Now})
	// node-a will crash: a short lease that nobody renews.
	a := e.registry(redisreg.Options{LeaseTTL: 200 * time.Millisecond})
	lb := mustAcquire(t, reader, "node-b")
	mustAcquire(t, a, "node-a")
	mustRegister(t, a, conn("app", "u1", "a1", "node-a"), conn("app", "u2", "a2", "node-a"))
	mustRegister(t, reader, conn("app", "u1", "b1", "node-b"))
	users := []string{"u1", "u2"}
	checkLocated(t, reader, "app", users, "a1", "a2", "b1")

	e.waitLeaseGone("node-a")
	clk.Advance(2 * time.Second) // past the reader's lease cache
	checkLocated(t, reader, "app", users, "b1")

	// Clean waits LeaseTTL (the cleaner's, 15 s) after the instance's
	// last renewal; node-b, renewed just as long ago, is alive and kept.
	if n, err := reader.Clean(ctx); err != nil || n != 0 {
		t.Fatalf("Clean before the lease TTL: got %d, %v; want 0, nil", n, err)
	}
	clk.Advance(time.Minute)
	if n, err := reader.Clean(ctx); err != nil || n != 2 {
		t.Fatalf("Clean: got %d rows removed, %v; want 2, nil", n, err)
	}
	if got := e.c.HKeys(ctx, e.prefix+"c:app:u1").Val(); len(got) != 1 || got[0] != "b1" {
		t.Errorf("u1's rows after Clean: got %q, want [b1]", got)
	}
	if n := e.c.Exists(ctx, e.prefix+"c:app:u2").Val(); n != 0 {
		t.Errorf("u2's hash exists after Clean")
	}
	members := e.c.ZRange(ctx, e.prefix+"instances", 0, -1).Val()
	if len(members) != 1 {
		t.Errorf("instances after Clean: got %q, want node-b's only", members)
	}
	idx, _ := e.c.Keys(ctx, e.prefix+"idx:*").Result()
	if len(idx) != 1 {
		t.Errorf("indexes after Clean: got %q, want node-b's only", idx)
	}
	checkLocated(t, reader, "app", users, "b1")
	if _, err := lb.Renew(ctx); err != nil {
		t.Errorf("Renew of the live node after Clean: %v", err)
	}
}

func TestReleaseRemovesTheNodesRows(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	a := e.registry(redisreg.Options{})
	b := e.registry(redisreg.Options{})
	la := mustAcquire(t, a, "node-a")
	mustAcquire(t, b, "node-b")
	mustRegister(t, a, conn("app", "u1", "a1", "node-a"), conn("app", "u1", "a2", "node-a"), conn("app", "u2", "a3", "node-a"))
	mustRegister(t, b, conn("app", "u1", "b1", "node-b"))
	users := []string{"u1", "u2"}
	checkLocated(t, b, "app", users, "a1", "a2", "a3", "b1") // b now caches node-a as live
	if err := la.Release(ctx); err != nil {
		t.Fatalf("Release: %v", err)
	}
	checkLocated(t, b, "app", users, "b1")
	checkLocated(t, a, "app", users, "b1")
	if n := e.c.Exists(ctx, e.prefix+"lease:node-a").Val(); n != 0 {
		t.Errorf("node-a's lease key exists after Release")
	}
	if got := e.c.HKeys(ctx, e.prefix+"c:app:u1").Val(); len(got) != 1 {
		t.Errorf("u1's rows after Release: got %q, want [b1]", got)
	}
	if got := e.c.ZCard(ctx, e.prefix+"instances").Val(); got != 1 {
		t.Errorf("instances after Release: got %d, want 1", got)
	}
}

func TestRestartedNodeHidesItsOldRows(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	reader := e.registry(redisreg.Options{LeaseCache: -1})
	old := e.registry(redisreg.Options{})
	lOld := mustAcquire(t, old, "node-a")
	mustRegister(t, old, conn("app", "u1", "c1", "node-a"))
	checkLocated(t, reader, "app", []string{"u1"}, "c1")

	// The node comes back under the same name before its lease lapsed.
	restarted := e.registry(redisreg.Options{})
	mustAcquire(t, restarted, "node-a")
	checkLocated(t, reader, "app", []string{"u1"})
	mustRegister(t, restarted, conn("app", "u1", "c2", "node-a"))
	checkLocated(t, reader, "app", []string{"u1"}, "c2")

	// The old process, if it is still alive, learns that it lost.
	_, err := lOld.Renew(ctx)
	checkCode(t, "Renew of the superseded lease", err, parley.EConflict)
	checkLocated(t, reader, "app", []string{"u1"}, "c2")
}

func TestLocateTrustsLeaseStatesForLeaseCache(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	clk := newClock()
	reader := e.registry(redisreg.Options{Now: clk.Now, LeaseCache: time.Second})
	a := e.registry(redisreg.Options{})
	mustAcquire(t, a, "node-a")
	mustRegister(t, a, conn("app", "u1", "c1", "node-a"))
	checkLocated(t, reader, "app", []string{"u1"}, "c1")
	if err := e.c.Del(ctx, e.prefix+"lease:node-a").Err(); err != nil { // the lease lapses
		t.Fatal(err)
	}
	checkLocated(t, reader, "app", []string{"u1"}, "c1") // cached
	clk.Advance(1100 * time.Millisecond)
	checkLocated(t, reader, "app", []string{"u1"})
}

func TestRenewReportsALostLease(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	r := e.registry(redisreg.Options{})
	l := mustAcquire(t, r, "node-a")
	if restored, err := l.Renew(ctx); err != nil || restored {
		t.Fatalf("Renew: got %v, %v; want false, nil", restored, err)
	}
	if err := e.c.Del(ctx, e.prefix+"lease:node-a").Err(); err != nil {
		t.Fatal(err)
	}
	if restored, err := l.Renew(ctx); err != nil || !restored {
		t.Fatalf("Renew after the key vanished: got %v, %v; want true, nil", restored, err)
	}
	if restored, err := l.Renew(ctx); err != nil || restored {
		t.Fatalf("Renew after that: got %v, %v; want false, nil", restored, err)
	}
	if ttl := e.c.PTTL(ctx, e.prefix+"lease:node-a").Val(); ttl < 14*time.Second {
		t.Errorf("lease TTL after Renew: got %v, want about 15s", ttl)
	}
}

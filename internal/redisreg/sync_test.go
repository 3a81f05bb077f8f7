package redisreg_test

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/parley-im/parley"
	"github.com/parley-im/parley/internal/redisreg"
	"github.com/parley-im/parley/internal/testservers"
)

// liveSet is a node's set of live connections, as its gateway would
// list them for Sync.
type liveSet struct {
	mu    sync.Mutex
	conns map[string]parley.ConnInfo
}

func newLiveSet(cs ...parley.ConnInfo) *liveSet {
	s := &liveSet{conns: make(map[string]parley.ConnInfo)}
	for _, c := range cs {
		s.add(c)
	}
	return s
}

func (s *liveSet) add(c parley.ConnInfo) {
	s.mu.Lock()
	s.conns[c.ConnID] = c
	s.mu.Unlock()
}

func (s *liveSet) remove(id string) {
	s.mu.Lock()
	delete(s.conns, id)
	s.mu.Unlock()
}

func (s *liveSet) list() []parley.ConnInfo {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]parley.ConnInfo, 0, len(s.conns))
	for _, c := range s.conns {
		out = append(out, c)
	}
	return out
}

func TestSyncMakesTheRowsMatchTheLiveConnections(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	r := e.registry(redisreg.Options{})
	l := mustAcquire(t, r, "node-a")
	b := e.registry(redisreg.Options{})
	mustAcquire(t, b, "node-b")
	c1, c2, c3 := conn("app", "u1", "c1", "node-a"), conn("app", "u1", "c2", "node-a"), conn("app", "u2", "c3", "node-a")
	mustRegister(t, r, c1, c2, c3)
	mustRegister(t, b, conn("app", "u1", "b1", "node-b"))
	// c2's row was lost; c3 ended but its Unregister failed; c4 is live
	// but was never registered.
	if err := e.c.HDel(ctx, e.prefix+"c:app:u1", "c2").Err(); err != nil {
		t.Fatal(err)
	}
	c4 := conn("app", "u3", "c4", "node-a")
	live := newLiveSet(c1, c2, c4)
	if err := l.Sync(ctx, live.list); err != nil {
		t.Fatalf("Sync: %v", err)
	}
	checkLocated(t, r, "app", []string{"u1", "u2", "u3"}, "b1", "c1", "c2", "c4")
	idx := e.c.SMembers(ctx, e.prefix+"idx:"+indexMember(t, e, "node-a")).Val()
	if fmt.Sprint(sorted(idx)) != fmt.Sprint([]string{e.prefix + "c:app:u1", e.prefix + "c:app:u3"}) {
		t.Errorf("node-a's index after Sync: got %q, want u1's and u3's keys", idx)
	}

	// Connections that come and go while Sync runs: c5 closes after the
	// first list (its Unregister races Sync's writes), c6 registers
	// after it (its row races Sync's pruning).
	c5, c6 := conn("app", "u1", "c5", "node-a"), conn("app", "u1", "c6", "node-a")
	mustRegister(t, r, c5)
	live.add(c5)
	calls := 0
	err := l.Sync(ctx, func() []parley.ConnInfo {
		calls++
		list := live.list()
		if calls == 1 {
			live.remove("c5")
			mustUnregister(t, r, c5)
			live.add(c6)
			mustRegister(t, r, c6)
		}
		return list
	})
	if err != nil {
		t.Fatalf("Sync: %v", err)
	}
	checkLocated(t, r, "app", []string{"u1", "u2", "u3"}, "b1", "c1", "c2", "c4", "c6")

	bad := conn("app", "u1", "x", "node-b")
	checkCode(t, "Sync with another node's connection", l.Sync(ctx, func() []parley.ConnInfo { return []parley.ConnInfo{bad} }), parley.EInvalid)
}

func mustUnregister(t testing.TB, r *redisreg.Registry, c parley.ConnInfo) {
	t.Helper()
	if err := r.Unregister(context.Background(), c.AppID, c.UserID, c.ConnID); err != nil {
		t.Fatalf("Unregister(%s): %v", c.ConnID, err)
	}
}

// indexMember returns the index name of node's only lease instance.
func indexMember(t *testing.T, e *env, node string) string {
	t.Helper()
	inst, err := e.c.Get(context.Background(), e.prefix+"lease:"+node).Result()
	if err != nil {
		t.Fatal(err)
	}
	return fmt.Sprintf("%d:%s%d:%s", len(node), node, len(inst), inst)
}

// TestRedisRestart restarts a private Redis, which comes back empty: the
// lease reports it, Sync restores the rows.
func TestRedisRestart(t *testing.T) {
	addr, restart := testservers.RedisServer(t)
	c := redis.NewClient(&redis.Options{Addr: addr})
	t.Cleanup(func() { c.Close() })
	ctx := context.Background()
	r := redisreg.New(c, redisreg.Options{})
	l := mustAcquire(t, r, "node-a")
	live := newLiveSet()
	var users, want []string
	for i := range 300 {
		cn := conn("app", fmt.Sprintf("u%d", i), fmt.Sprintf("c%d", i), "node-a")
		live.add(cn)
		mustRegister(t, r, cn)
		users, want = append(users, cn.UserID), append(want, cn.ConnID)
	}
	checkLocated(t, r, "app", users, want...)

	restart()
	checkLocated(t, r, "app", users)
	restored, err := l.Renew(ctx)
	if err != nil || !restored {
		t.Fatalf("Renew after the restart: got %v, %v; want true, nil", restored, err)
	}
	if err := l.Sync(ctx, live.list); err != nil {
		t.Fatalf("Sync: %v", err)
	}
	checkLocated(t, r, "app", users, want...)
}

// TestUpkeepRestoresAfterRestart leaves it all to Start: after Redis
// restarts, the node's connections can be found again within a few
// renewals, and another node's crash is cleaned up.
func TestUpkeepRestoresAfterRestart(t *testing.T) {
	addr, restart := testservers.RedisServer(t)
	c := redis.NewClient(&redis.Options{Addr: addr})
	t.Cleanup(func() { c.Close() })
	opt := redisreg.Options{
		LeaseTTL: 300 * time.Millisecond, RenewEvery: 50 * time.Millisecond,
		CleanEvery: 100 * time.Millisecond, LeaseCache: -1,
	}
	r := redisreg.New(c, opt)
	l := mustAcquire(t, r, "node-a")
	live := newLiveSet(conn("app", "u1", "c1", "node-a"), conn("app", "u2", "c2", "node-a"))
	for _, cn := range live.list() {
		mustRegister(t, r, cn)
	}
	l.Start(live.list)
	l.Start(live.list) // no second goroutine
	defer func() {
		if err := l.Release(context.Background()); err != nil {
			t.Errorf("Release: %v", err)
		}
	}()

	restart()
	awaitLocated(t, r, "app", []string{"u1", "u2"}, "c1", "c2")

	// A node that crashes is cleaned up by node-a's upkeep.
	crashed := redisreg.New(c, redisreg.Options{LeaseTTL: 100 * time.Millisecond})
	mustAcquire(t, crashed, "node-b")
	mustRegister(t, crashed, conn("app", "u1", "b1", "node-b"))
	deadline := time.Now().Add(10 * time.Second)
	for c.HExists(context.Background(), "parley:c:app:u1", "b1").Val() {
		if time.Now().After(deadline) {
			t.Fatal("the crashed node's row was not cleaned up")
		}
		time.Sleep(20 * time.Millisecond)
	}
	checkLocated(t, r, "app", []string{"u1", "u2"}, "c1", "c2")
}

// TestRestartIsNoticedAtTheFirstNewConnection: with renewals an hour
// apart, the client's first new connection after the restart makes the
// upkeep renew, find the lease gone and restore the rows.
func TestRestartIsNoticedAtTheFirstNewConnection(t *testing.T) {
	addr, restart := testservers.RedisServer(t)
	c := redis.NewClient(&redis.Options{Addr: addr})
	t.Cleanup(func() { c.Close() })
	r := redisreg.New(c, redisreg.Options{RenewEvery: time.Hour, CleanEvery: time.Hour})
	l := mustAcquire(t, r, "node-a")
	live := newLiveSet(conn("app", "u1", "c1", "node-a"))
	mustRegister(t, r, live.list()...)
	l.Start(live.list)
	defer l.Stop()
	restart()
	start := time.Now()
	awaitLocated(t, r, "app", []string{"u1"}, "c1") // its first Locate dials
	t.Logf("rows restored %v after the restart", time.Since(start))
}

func awaitLocated(t *testing.T, r *redisreg.Registry, app string, users []string, want ...string) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		cs, err := r.Locate(context.Background(), app, users)
		ids := make([]string, len(cs))
		for i, c := range cs {
			ids[i] = c.ConnID
		}
		if err == nil && fmt.Sprint(sorted(ids)) == fmt.Sprint(sorted(want)) {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("Locate(%q, %q): got %q, %v; want %q", app, users, sorted(ids), err, sorted(want))
		}
		time.Sleep(20 * time.Millisecond)
	}
}

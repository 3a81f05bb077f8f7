package redisreg_test

import (
	"context"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	"go.uber.org/goleak"

	"github.com/parley-im/parley"
	"github.com/parley-im/parley/internal/parleytest"
	"github.com/parley-im/parley/internal/redisreg"
	"github.com/parley-im/parley/internal/testservers"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

// leasing is a Registry that acquires the lease of each node the first
// time it registers one of its connections, as a node acquires its own
// lease before it serves: the contract suite registers connections of
// several nodes through one registry.
type leasing struct {
	*redisreg.Registry
	mu     sync.Mutex
	leases map[string]*redisreg.Lease
}

func (l *leasing) Register(ctx context.Context, c parley.ConnInfo) error {
	l.mu.Lock()
	if c.Node != "" && l.leases[c.Node] == nil {
		lease, err := l.Acquire(ctx, c.Node)
		if err != nil {
			l.mu.Unlock()
			return err
		}
		l.leases[c.Node] = lease
	}
	l.mu.Unlock()
	return l.Registry.Register(ctx, c)
}

func TestRegistryContract(t *testing.T) {
	c := testservers.Redis(t)
	for _, tc := range []struct {
		name  string
		cache time.Duration
	}{
		{"LeasesCached", 0},
		{"LeasesReadEveryTime", -1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			parleytest.RunRegistryTests(t, func(t *testing.T) parley.Registry {
				opt := redisreg.Options{Prefix: testservers.RedisPrefix(t, c), LeaseCache: tc.cache}
				return &leasing{Registry: redisreg.New(c, opt), leases: make(map[string]*redisreg.Lease)}
			})
		})
	}
}

// env is one test's view of the shared test Redis: a client and a key
// prefix of its own.
type env struct {
	t      *testing.T
	c      *redis.Client
	prefix string
}

func newEnv(t *testing.T) *env {
	c := testservers.Redis(t)
	return &env{t: t, c: c, prefix: testservers.RedisPrefix(t, c)}
}

// registry returns a Registry on the test's keys, as one node's process
// would open it.
func (e *env) registry(opt redisreg.Options) *redisreg.Registry {
	opt.Prefix = e.prefix
	return redisreg.New(e.c, opt)
}

func mustAcquire(t testing.TB, r *redisreg.Registry, node string) *redisreg.Lease {
	t.Helper()
	l, err := r.Acquire(context.Background(), node)
	if err != nil {
		t.Fatalf("Acquire(%q): %v", node, err)
	}
	return l
}

func conn(app, user, id, node string) parley.ConnInfo {
	return parley.ConnInfo{
		AppID: app, UserID: user, ConnID: id, Node: node, Device: "dev-" + id,
		Platform: parley.PlatformWeb, ClientIP: "192.0.2.1", Since: time.Unix(1_700_000_000, 0).UTC(),
	}
}

func mustRegister(t testing.TB, r *redisreg.Registry, cs ...parley.ConnInfo) {
	t.Helper()
	for _, c := range cs {
		if err := r.Register(context.Background(), c); err != nil {
			t.Fatalf("Register(%s): %v", c.ConnID, err)
		}
	}
}

// located returns the ids of the connections Locate finds, sorted.
func located(t testing.TB, r *redisreg.Registry, app string, users ...string) []string {
	t.Helper()
	cs, err := r.Locate(context.Background(), app, users)
	if err != nil {
		t.Fatalf("Locate(%q, %q): %v", app, users, err)
	}
	ids := make([]string, len(cs))
	for i, c := range cs {
		ids[i] = c.ConnID
	}
	return sorted(ids)
}

func sorted(s []string) []string { return slices.Sorted(slices.Values(s)) }

func checkLocated(t testing.TB, r *redisreg.Registry, app string, users []string, want ...string) {
	t.Helper()
	got := located(t, r, app, users...)
	if fmt.Sprint(got) != fmt.Sprint(sorted(want)) {
		t.Errorf("Locate(%q, %q): got %q, want %q", app, users, got, sorted(want))
	}
}

func checkCode(t testing.TB, what string, err error, want string) {
	t.Helper()
	if got := parley.ErrorCode(err); got != want {
		t.Errorf("%s: got error %v (code %q), want code %q", what, err, got, want)
	}
}

func TestRegisterNeedsItsNodesLease(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	r := e.registry(redisreg.Options{})
	checkCode(t, "Register without a lease", r.Register(ctx, conn("app", "u1", "c1", "node-a")), parley.EUnavailable)
	l := mustAcquire(t, r, "node-a")
	_, err := r.Acquire(ctx, "node-a")
	checkCode(t, "Acquire twice", err, parley.EConflict)
	_, err = r.Acquire(ctx, "")
	checkCode(t, "Acquire of no node", err, parley.EInvalid)
	checkCode(t, "Register of another node", r.Register(ctx, conn("app", "u1", "c1", "node-b")), parley.EUnavailable)
	for _, c := range []parley.ConnInfo{
		conn("", "u1", "c1", "node-a"), conn("app", "", "c1", "node-a"), conn("app", "u1", "", "node-a"),
		conn("app", "u1", "c1", ""), conn("a:b", "u1", "c1", "node-a"),
	} {
		checkCode(t, fmt.Sprintf("Register(%+v)", c), r.Register(ctx, c), parley.EInvalid)
	}
	mustRegister(t, r, conn("app", "u1", "c1", "node-a"))
	if err := l.Release(ctx); err != nil {
		t.Fatalf("Release: %v", err)
	}
	checkCode(t, "Register after Release", r.Register(ctx, conn("app", "u1", "c2", "node-a")), parley.EUnavailable)
	_, err = l.Renew(ctx)
	checkCode(t, "Renew after Release", err, parley.EUnavailable)
	// The node may lease again.
	mustAcquire(t, r, "node-a")
	mustRegister(t, r, conn("app", "u1", "c3", "node-a"))
	checkLocated(t, r, "app", []string{"u1"}, "c3")
}

func TestRowsExpire(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	r := e.registry(redisreg.Options{TTL: 300 * time.Millisecond})
	mustAcquire(t, r, "node-a")
	mustRegister(t, r, conn("app", "u1", "c1", "node-a"))
	checkLocated(t, r, "app", []string{"u1"}, "c1")
	time.Sleep(400 * time.Millisecond)
	checkLocated(t, r, "app", []string{"u1"})

	// Each registration restarts the expiry of the user's connections.
	e2 := newEnv(t)
	r2 := e2.registry(redisreg.Options{TTL: time.Hour})
	mustAcquire(t, r2, "node-a")
	mustRegister(t, r2, conn("app", "u1", "c1", "node-a"))
	key := e2.prefix + "c:app:u1" // the documented key layout
	if err := e.c.PExpire(ctx, key, time.Second).Err(); err != nil {
		t.Fatal(err)
	}
	mustRegister(t, r2, conn("app", "u1", "c2", "node-a"))
	if ttl := e.c.PTTL(ctx, key).Val(); ttl < 59*time.Minute {
		t.Errorf("TTL of %s after a registration: got %v, want about 1h", key, ttl)
	}
}

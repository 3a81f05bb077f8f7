package redisreg_test

import (
	"context"
	"fmt"
	"net"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/parley-im/parley/internal/redisreg"
	"github.com/parley-im/parley/internal/testservers"
)

// roundTrips counts the commands and pipelines a client sends, each one
// round trip.
type roundTrips struct{ n atomic.Int64 }

func (h *roundTrips) DialHook(next redis.DialHook) redis.DialHook { return next }

func (h *roundTrips) ProcessHook(next redis.ProcessHook) redis.ProcessHook {
	return func(ctx context.Context, cmd redis.Cmder) error {
		if !connSetup(cmd) {
			h.n.Add(1)
		}
		return next(ctx, cmd)
	}
}

func (h *roundTrips) ProcessPipelineHook(next redis.ProcessPipelineHook) redis.ProcessPipelineHook {
	return func(ctx context.Context, cmds []redis.Cmder) error {
		if !connSetup(cmds[0]) {
			h.n.Add(1)
		}
		return next(ctx, cmds)
	}
}

var _ redis.Hook = (*roundTrips)(nil)

// connSetup reports whether cmd is part of a new connection's handshake,
// which the hooks see too.
func connSetup(cmd redis.Cmder) bool { return cmd.Name() == "hello" || cmd.Name() == "client" }

func TestLocateRoundTrips(t *testing.T) {
	e := newEnv(t)
	clk := newClock()
	counted := testservers.Redis(t) // a client of its own, to count
	var rt roundTrips
	counted.AddHook(&rt)
	reader := redisreg.New(counted, redisreg.Options{Prefix: e.prefix, Now: clk.Now})
	var users []string
	for n := range 4 {
		node := fmt.Sprintf("node-%d", n)
		r := e.registry(redisreg.Options{})
		mustAcquire(t, r, node)
		for i := range 25 {
			u := fmt.Sprintf("u%d-%d", n, i)
			mustRegister(t, r, conn("app", u, "c-"+u, node))
			users = append(users, u)
		}
	}
	count := func(what string, want int64) {
		t.Helper()
		rt.n.Store(0)
		if got := len(located(t, reader, "app", users...)); got != 100 {
			t.Fatalf("%s: located %d connections, want 100", what, got)
		}
		if got := rt.n.Load(); got != want {
			t.Errorf("%s: got %d round trips, want %d", what, got, want)
		}
	}
	count("first Locate (4 nodes never seen)", 2)
	count("Locate with the leases cached", 1)
	clk.Advance(2 * time.Second)
	count("Locate with the cached leases too old", 1)
}

// TestLocateFailsWhenRedisIsDown: an unreachable Redis is EUnavailable.
func TestLocateFailsWhenRedisIsDown(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close() // nothing listens there now
	c := redis.NewClient(&redis.Options{Addr: addr, MaxRetries: -1, DialerRetries: 1, DialTimeout: 100 * time.Millisecond})
	t.Cleanup(func() { c.Close() })
	r := redisreg.New(c, redisreg.Options{})
	ctx := context.Background()
	_, err = r.Locate(ctx, "app", []string{"u1"})
	checkCode(t, "Locate", err, "unavailable")
	checkCode(t, "Unregister", r.Unregister(ctx, "app", "u1", "c1"), "unavailable")
	_, err = r.Acquire(ctx, "node-a")
	checkCode(t, "Acquire", err, "unavailable")
	_, err = r.Clean(ctx)
	checkCode(t, "Clean", err, "unavailable")
}

package redisreg_test

import (
	"context"
	"fmt"
	"testing"

	"github.com/parley-im/parley/internal/redisreg"
)

// TestNodeDirectory: Nodes lists the nodes that announced while their
// lease lives, with their latest count; a released or lapsed lease, or a
// restart not yet announced, drops a node out.
func TestNodeDirectory(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	a, b, c := e.registry(redisreg.Options{}), e.registry(redisreg.Options{}), e.registry(redisreg.Options{})
	la, lb, lc := mustAcquire(t, a, "n-a"), mustAcquire(t, b, "n-b"), mustAcquire(t, c, "n-c")
	for i, l := range []*redisreg.Lease{la, lb, lc} {
		if err := l.Announce(ctx, fmt.Sprintf("http://127.0.0.1:%d", 8081+i), i); err != nil {
			t.Fatal(err)
		}
	}
	if err := lb.Announce(ctx, "http://127.0.0.1:8082", 42); err != nil {
		t.Fatal(err)
	}
	want := "[{n-a http://127.0.0.1:8081 0} {n-b http://127.0.0.1:8082 42} {n-c http://127.0.0.1:8083 2}]"
	if got := nodes(t, a); got != want {
		t.Fatalf("Nodes: got %s, want %s", got, want)
	}
	if err := lc.Release(ctx); err != nil {
		t.Fatal(err)
	}
	// n-a's process dies and its lease lapses (deleted here); n-b
	// restarts under the same name and has not announced yet.
	e.c.Del(ctx, e.prefix+"lease:n-a")
	b2 := e.registry(redisreg.Options{})
	lb2 := mustAcquire(t, b2, "n-b")
	if got := nodes(t, a); got != "[]" {
		t.Fatalf("Nodes after a release, a lapse and a restart: got %s, want none", got)
	}
	if err := lb2.Announce(ctx, "http://127.0.0.1:9999", 1); err != nil {
		t.Fatal(err)
	}
	if got := nodes(t, c); got != "[{n-b http://127.0.0.1:9999 1}]" {
		t.Fatalf("Nodes after the restarted node announced: got %s", got)
	}
	if err := lb2.Announce(ctx, "", 1); err == nil {
		t.Fatal("Announce accepted an empty URL")
	}
}

func nodes(t *testing.T, r *redisreg.Registry) string {
	t.Helper()
	ns, err := r.Nodes(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if ns == nil {
		return "[]"
	}
	return fmt.Sprint(ns)
}

package inmem

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/parley-im/parley"
)

// TestRegistryForgetsEmptyUsers checks that a user whose last connection
// goes leaves nothing behind, so the table does not grow with every user
// ever seen.
func TestRegistryForgetsEmptyUsers(t *testing.T) {
	r := NewRegistry()
	ctx := context.Background()
	for i := range 1000 {
		u := fmt.Sprintf("u%d", i)
		if err := r.Register(ctx, parley.ConnInfo{AppID: "app", UserID: u, ConnID: "c", Node: "n"}); err != nil {
			t.Fatal(err)
		}
		if err := r.Unregister(ctx, "app", u, "c"); err != nil {
			t.Fatal(err)
		}
	}
	for i := range r.shards {
		if n := len(r.shards[i].users); n != 0 {
			t.Errorf("shard %d holds %d users, want 0", i, n)
		}
	}
}

func BenchmarkRegistryLocate(b *testing.B) {
	for _, n := range []int{1, 10, 100, 1000, 10000} {
		b.Run(fmt.Sprintf("users=%d", n), func(b *testing.B) {
			r := NewRegistry()
			ctx := context.Background()
			users := make([]string, n)
			for i := range users {
				users[i] = fmt.Sprintf("user-%d", i)
				for d := range 2 {
					c := parley.ConnInfo{AppID: "app", UserID: users[i], ConnID: fmt.Sprintf("c%d-%d", i, d),
						Node: "n1", Platform: parley.PlatformWeb, Since: time.Unix(0, 0)}
					if err := r.Register(ctx, c); err != nil {
						b.Fatal(err)
					}
				}
			}
			b.ReportAllocs()
			for b.Loop() {
				conns, err := r.Locate(ctx, "app", users)
				if err != nil || len(conns) != 2*n {
					b.Fatalf("Locate: %d conns, %v", len(conns), err)
				}
			}
		})
	}
}

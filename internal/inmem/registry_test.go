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

// TestLocateNodes: each connection of the user at each index is
// reported once with its node, a user listed twice at both indexes, and
// users offline or online only in another app not at all; Locate gives
// the same users' rows once each.
func TestLocateNodes(t *testing.T) {
	r := NewRegistry()
	ctx := context.Background()
	for _, c := range []parley.ConnInfo{
		{AppID: "app", UserID: "ann", ConnID: "1", Node: "a"},
		{AppID: "app", UserID: "ann", ConnID: "2", Node: "b"},
		{AppID: "app", UserID: "ben", ConnID: "3", Node: "a"},
		{AppID: "other", UserID: "cat", ConnID: "4", Node: "a"},
	} {
		if err := r.Register(ctx, c); err != nil {
			t.Fatal(err)
		}
	}
	for _, tc := range []struct {
		users []string
		rows  int // Locate's: each connection once
	}{{[]string{"ann"}, 2}, {[]string{"cat"}, 0}, {[]string{"ann", "cat", "ben", "ann", "dan"}, 3}} {
		users := tc.users
		got := map[string]int{}
		err := r.LocateNodes(ctx, "app", users, func(i int, node string) { got[fmt.Sprint(i, users[i], node)]++ })
		if err != nil {
			t.Fatal(err)
		}
		want := map[string]int{}
		for i, u := range users {
			switch u {
			case "ann":
				want[fmt.Sprint(i, u, "a")], want[fmt.Sprint(i, u, "b")] = 1, 1
			case "ben":
				want[fmt.Sprint(i, u, "a")] = 1
			}
		}
		if fmt.Sprint(got) != fmt.Sprint(want) {
			t.Errorf("LocateNodes(%v): got %v, want %v", users, got, want)
		}
		rows, err := r.Locate(ctx, "app", users)
		if err != nil {
			t.Fatal(err)
		}
		if len(rows) != tc.rows || (tc.rows == 0) != (rows == nil) {
			t.Errorf("Locate(%v): %d rows (nil: %v), want %d, nil if none", users, len(rows), rows == nil, tc.rows)
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

package sqlite_test

import (
	"fmt"
	"path/filepath"
	"testing"

	"github.com/parley-im/parley"
	"github.com/parley-im/parley/internal/sqlite"
)

// benchGroups gives user "me" n groups of 3 members (and 100 direct
// conversations), one message in each; it returns the store.
func benchGroups(b *testing.B, n int) *sqlite.DB {
	b.Helper()
	db := mustOpen(b, filepath.Join(b.TempDir(), "bench.db"))
	ctx := b.Context()
	for i := range n {
		g := &parley.Group{AppID: "app", ID: fmt.Sprintf("g%05d", i), Owner: "me", MaxMembers: 10}
		msg := &parley.Message{ID: fmt.Sprintf("c%05d", i), Sender: parley.SystemUserID, Kind: parley.KindSystem, Body: []byte(`{}`), Time: 1}
		if err := db.CreateGroup(ctx, g, []string{"a", "b"}, msg); err != nil {
			b.Fatal(err)
		}
	}
	for i := range 100 {
		c := parley.DirectConvID("me", fmt.Sprintf("p%03d", i))
		a, p, _ := parley.DirectPeers(c)
		if err := db.EnsureConversations(ctx, []parley.Conversation{{AppID: "app", ID: c, Kind: parley.ConvDirect, Members: []string{a, p}}}); err != nil {
			b.Fatal(err)
		}
	}
	return db
}

// BenchmarkChangesInGroups measures a sync with nothing changed (since the
// newest version) for a user in 0, 10, 100 and 1,000 groups (and 100
// direct conversations): the cost the group half of Changes adds to every
// sync (decision record 0004).
func BenchmarkChangesInGroups(b *testing.B) {
	for _, n := range []int{0, 10, 100, 1000} {
		b.Run(fmt.Sprintf("groups=%d", n), func(b *testing.B) {
			db := benchGroups(b, n)
			newest, err := db.Conversations(b.Context(), "app", "me", 0, 1)
			if err != nil {
				b.Fatal(err)
			}
			since := newest[0].Ver
			for b.Loop() {
				if got, err := db.Changes(b.Context(), "app", "me", since, 50); err != nil || len(got) != 0 {
					b.Fatalf("Changes: %d, %v", len(got), err)
				}
			}
		})
	}
}

// BenchmarkGroupOf10000 measures, on a group of 10,000 members, a page
// of 1,000 members (the chat cache loads ten) and read receipts (a count
// over the members).
func BenchmarkGroupOf10000(b *testing.B) {
	db := mustOpen(b, filepath.Join(b.TempDir(), "bench.db"))
	ctx := b.Context()
	users := make([]string, 10_000)
	for i := range users {
		users[i] = fmt.Sprintf("u%05d", i)
	}
	g := &parley.Group{AppID: "app", ID: "big", Owner: users[0], MaxMembers: 10_000}
	if err := db.CreateGroup(ctx, g, users[1:], &parley.Message{ID: "c", Sender: parley.SystemUserID, Kind: parley.KindSystem, Body: []byte(`{}`), Time: 1}); err != nil {
		b.Fatal(err)
	}
	b.Run("members page of 1000", func(b *testing.B) {
		for b.Loop() {
			if ms, err := db.GroupMembers(ctx, "app", "big", "u04000", 1000); err != nil || len(ms) != 1000 {
				b.Fatal(len(ms), err)
			}
		}
	})
	b.Run("read receipts", func(b *testing.B) {
		for b.Loop() {
			if _, n, _, err := db.ReadReceipts(ctx, "app", "g:big", 1, 500); err != nil || n != 10_000 {
				b.Fatal(n, err)
			}
		}
	})
}

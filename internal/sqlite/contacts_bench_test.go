package sqlite_test

import (
	"fmt"
	"path/filepath"
	"testing"

	"github.com/parley-im/parley"
	"github.com/parley-im/parley/internal/sqlite"
)

// openSocialBench opens a store where "star" is in the contact lists of
// fans users and has a direct conversation with peers others, and "fan0"
// has every one of them as a contact: the presence and profile fan-out of
// a popular user, and the profile catch-up of a user with a full list.
func openSocialBench(b *testing.B, fans, peers int) *sqlite.DB {
	b.Helper()
	db := mustOpen(b, filepath.Join(b.TempDir(), "bench.db"))
	ctx := b.Context()
	users := []parley.User{{ID: "star", Name: "Star", Role: parley.RoleUser}}
	var fanIDs []string
	for i := range fans {
		fanIDs = append(fanIDs, fmt.Sprintf("fan%d", i))
	}
	var convs []parley.Conversation
	for i := range peers {
		p := fmt.Sprintf("peer%d", i)
		users = append(users, parley.User{ID: p, Name: p, Role: parley.RoleUser})
		convs = append(convs, parley.Conversation{AppID: "app", ID: parley.DirectConvID("star", p), Kind: parley.ConvDirect, Members: []string{"star", p}})
	}
	for _, id := range fanIDs {
		users = append(users, parley.User{ID: id, Name: id, Role: parley.RoleUser})
	}
	if _, err := db.UpsertProfiles(ctx, "app", users); err != nil {
		b.Fatal(err)
	}
	if err := db.EnsureConversations(ctx, convs); err != nil {
		b.Fatal(err)
	}
	for _, id := range fanIDs {
		if _, err := db.AddContacts(ctx, "app", id, []string{"star"}, ""); err != nil {
			b.Fatal(err)
		}
	}
	if _, err := db.AddContacts(ctx, "app", "fan0", append([]string{"star"}, fanIDs[1:min(len(fanIDs), parley.MaxContacts)]...), ""); err != nil {
		b.Fatal(err)
	}
	return db
}

// BenchmarkInterested: who cares about a user in 1,000 contact lists with
// 1,000 direct conversations (one presence change or profile change).
func BenchmarkInterested(b *testing.B) {
	db := openSocialBench(b, 1000, 1000)
	for b.Loop() {
		who, err := db.Interested(b.Context(), "app", "star", parley.InterestDefault, parley.MaxInterested)
		if err != nil || len(who) != 2000 {
			b.Fatalf("Interested: got %d users, %v, want 2000", len(who), err)
		}
	}
}

// BenchmarkProfilesSince: the profile catch-up of a user with 1,000
// contacts, nothing changed (the common reconnection) and a first page.
func BenchmarkProfilesSince(b *testing.B) {
	db := openSocialBench(b, 1000, 0)
	all, err := db.ProfilesSince(b.Context(), "app", "fan0", 0, parley.InterestDefault, 1000)
	if err != nil || len(all) != 1000 {
		b.Fatalf("ProfilesSince: got %d, %v, want 1000", len(all), err)
	}
	last := all[len(all)-1].Ver
	b.Run("nothing-changed", func(b *testing.B) {
		for b.Loop() {
			if _, err := db.ProfilesSince(b.Context(), "app", "fan0", last, parley.InterestDefault, 200); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("first-page-of-200", func(b *testing.B) {
		for b.Loop() {
			if _, err := db.ProfilesSince(b.Context(), "app", "fan0", 0, parley.InterestDefault, 200); err != nil {
				b.Fatal(err)
			}
		}
	})
}

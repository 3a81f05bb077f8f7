package postgres_test

import (
	"fmt"
	"math/rand/v2"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/parley-im/parley"
	"github.com/parley-im/parley/internal/postgres"
)

// TestSyncNeverMissesAChange closes the hazard that per-transaction
// versions from a sequence would open (decision record 0005): several
// "nodes" (stores with pools of their own) append to, read and
// configure the conversations of one user concurrently, direct ones and
// a group, while a device of that user syncs by Changes(since) with
// small pages, as a client does. After each catch-up the device compares
// what it has with the truth read afterwards: every conversation whose
// true version is at or below the device's since must be exactly what
// the device saw. A change that committed with a version below one the
// device had already passed would show up as such a conversation, with
// a newer state than the device holds, and the device would never fetch
// it.
func TestSyncNeverMissesAChange(t *testing.T) {
	const (
		nodes   = 3
		writers = 2 // goroutines per node
		peers   = 8
	)
	_, dsn := mustOpen(t)
	stores := make([]*postgres.Store, nodes)
	for i := range stores {
		stores[i] = mustOpenDSN(t, dsn, postgres.WithMaxConns(writers+1))
	}
	reader := mustOpenDSN(t, dsn, postgres.WithMaxConns(2))
	ctx := t.Context()
	const app, user = "app", "u"

	var convs []parley.Conversation
	for i := range peers {
		p := fmt.Sprintf("p%d", i)
		convs = append(convs, parley.Conversation{AppID: app, ID: parley.DirectConvID(user, p), Kind: parley.ConvDirect, Members: []string{user, p}})
	}
	if err := stores[0].EnsureConversations(ctx, convs); err != nil {
		t.Fatal(err)
	}
	group := &parley.Group{AppID: app, ID: "g", Name: "g", Owner: "p0", MaxMembers: 100}
	if err := stores[0].CreateGroup(ctx, group, []string{user, "p1", "p2"}, &parley.Message{
		ID: "g-created", Sender: parley.SystemUserID, Kind: parley.KindSystem, Body: []byte(`{}`), Time: 1}); err != nil {
		t.Fatal(err)
	}
	convIDs := []string{group.Conv}
	for _, c := range convs {
		convIDs = append(convIDs, c.ID)
	}
	senders := func(conv string) []string {
		if conv == group.Conv {
			return []string{user, "p0", "p1", "p2"}
		}
		a, b, _ := parley.DirectPeers(conv)
		return []string{a, b}
	}

	deadline := time.Now().Add(3 * time.Second)
	var stop atomic.Bool
	var wg sync.WaitGroup
	var ids atomic.Int64
	var writes atomic.Int64
	for n, st := range stores {
		for w := range writers {
			rng := rand.New(rand.NewPCG(uint64(n), uint64(w)))
			wg.Go(func() {
				for !stop.Load() && time.Now().Before(deadline) {
					conv := convIDs[rng.IntN(len(convIDs))]
					who := senders(conv)
					var err error
					switch r := rng.IntN(10); {
					case r < 7: // a batch of 1-4 messages to 1-2 conversations
						var batch []*parley.Message
						for range 1 + rng.IntN(4) {
							if rng.IntN(3) == 0 {
								conv = convIDs[rng.IntN(len(convIDs))]
								who = senders(conv)
							}
							batch = append(batch, &parley.Message{AppID: app, ConvID: conv,
								ID: fmt.Sprintf("m%d", ids.Add(1)), Sender: who[rng.IntN(len(who))],
								Kind: parley.KindText, Body: []byte(`{"text":"hi"}`), Time: 1})
						}
						_, err = st.Append(ctx, batch)
					case r < 9: // a read, the user's or a peer's
						_, _, err = st.MarkRead(ctx, app, conv, who[rng.IntN(len(who))], 1<<40)
					default: // one of the user's settings
						pin := rng.IntN(2) == 0
						_, _, err = st.SetConvSettings(ctx, app, conv, user, parley.ConvSettings{Pin: &pin})
					}
					if err != nil {
						t.Errorf("node %d writer %d: %v", n, w, err)
						stop.Store(true)
						return
					}
					writes.Add(1)
				}
			})
		}
	}

	seen := map[string]parley.ConvState{}
	var since uint64
	catchUp := func() {
		for {
			page, err := reader.Changes(ctx, app, user, since, 3)
			if err != nil {
				t.Fatalf("Changes(since %d): %v", since, err)
			}
			if len(page) == 0 {
				return
			}
			for _, s := range page {
				if s.Ver <= since {
					t.Fatalf("Changes(since %d) returned %s at Ver %d", since, s.ConvID, s.Ver)
				}
				seen[s.ConvID] = s
				since = s.Ver
			}
		}
	}
	checks := 0
	check := func() {
		catchUp()
		truth, err := reader.Changes(ctx, app, user, 0, 100)
		if err != nil {
			t.Fatal(err)
		}
		for _, s := range truth {
			if s.Ver <= since && seen[s.ConvID] != s {
				t.Fatalf("after syncing to Ver %d, %s is at Ver %d %+v, but the device saw %+v: a change committed below a version it had passed",
					since, s.ConvID, s.Ver, s, seen[s.ConvID])
			}
		}
		checks++
	}
	for !stop.Load() && time.Now().Before(deadline) {
		check()
	}
	stop.Store(true)
	wg.Wait()
	check() // and everything, once the writers are done
	truth, err := reader.Changes(ctx, app, user, 0, 100)
	if err != nil {
		t.Fatal(err)
	}
	if len(truth) != len(convIDs) || len(seen) != len(convIDs) {
		t.Errorf("the device holds %d conversations, the truth %d, want %d", len(seen), len(truth), len(convIDs))
	}
	t.Logf("%d writes from %d nodes, %d sync checks", writes.Load(), nodes, checks)
	if writes.Load() < 100 || checks < 20 {
		t.Errorf("only %d writes and %d checks: too few to say anything", writes.Load(), checks)
	}
}

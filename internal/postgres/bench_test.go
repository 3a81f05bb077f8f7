package postgres_test

import (
	"context"
	"fmt"
	"math/rand/v2"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/parley-im/parley"
	"github.com/parley-im/parley/internal/postgres"
)

// benchConvs is the number of direct conversations a benchmark spreads
// its messages over (as the SQLite store's benchmarks).
const benchConvs = 1000

// benchSetup creates benchConvs direct conversations in app between users
// <prefix>0-<prefix>1, <prefix>2-<prefix>3, ... and returns their ids.
func benchSetup(b *testing.B, s *postgres.Store, app, prefix string) []string {
	b.Helper()
	var convs []parley.Conversation
	var ids []string
	for i := range benchConvs {
		a, c := fmt.Sprintf("%s%d", prefix, 2*i), fmt.Sprintf("%s%d", prefix, 2*i+1)
		id := parley.DirectConvID(a, c)
		convs = append(convs, parley.Conversation{AppID: app, ID: id, Kind: parley.ConvDirect, Members: []string{a, c}})
		ids = append(ids, id)
	}
	if err := s.EnsureConversations(context.Background(), convs); err != nil {
		b.Fatal(err)
	}
	return ids
}

// benchBatch makes n text messages of app, each to a random conversation
// from one of its two members, with a unique id and client message id.
func benchBatch(rng *rand.Rand, app string, convs []string, n int, next *atomic.Int64) []*parley.Message {
	msgs := make([]*parley.Message, n)
	for i := range msgs {
		c := convs[rng.IntN(len(convs))]
		a, bb, _ := parley.DirectPeers(c)
		sender := a
		if rng.IntN(2) == 1 {
			sender = bb
		}
		k := next.Add(1)
		msgs[i] = &parley.Message{AppID: app, ConvID: c, ID: fmt.Sprintf("01J%023d", k), Sender: sender,
			ClientMsgID: "cm" + strconv.FormatInt(k, 10), Kind: parley.KindText,
			Body: []byte(`{"text":"hello there, how are you doing today?"}`), Time: time.Now().UnixMilli()}
	}
	return msgs
}

// BenchmarkAppend appends batches over 1,000 direct conversations from one
// goroutine, as one node's committer does; msgs/s is the figure to watch.
func BenchmarkAppend(b *testing.B) {
	for _, size := range []int{1, 64, 256, 512} {
		b.Run(fmt.Sprintf("batch=%d", size), func(b *testing.B) {
			s, _ := mustOpen(b)
			convs := benchSetup(b, s, "app", "u")
			rng := rand.New(rand.NewPCG(1, 2))
			var next atomic.Int64
			ctx := context.Background()
			b.ResetTimer()
			for b.Loop() {
				if _, err := s.Append(ctx, benchBatch(rng, "app", convs, size, &next)); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(next.Load())/b.Elapsed().Seconds(), "msgs/s")
		})
	}
}

// BenchmarkAppendNodes measures what the change-version counter costs
// (decision record 0005): nodes committers (each a store with its own
// pool, one goroutine appending batches of batch messages back to back,
// each to 1,000 conversations of its own) write to one app, whose counter
// they take in turn from their last statement to their commit, or each
// to an app of its own, where nothing is shared. Compare msgs/s and
// commits/s across node counts.
func BenchmarkAppendNodes(b *testing.B) {
	for _, apps := range []string{"one", "own"} {
		for _, nodes := range []int{1, 2, 4} {
			for _, batch := range []int{1, 64} {
				b.Run(fmt.Sprintf("apps=%s/nodes=%d/batch=%d", apps, nodes, batch), func(b *testing.B) {
					benchNodes(b, apps == "own", nodes, batch)
				})
			}
		}
	}
}

func benchNodes(b *testing.B, ownApps bool, nodes, batch int) {
	_, dsn := mustOpen(b)
	appOf := func(n int) string {
		if ownApps {
			return fmt.Sprintf("app%d", n)
		}
		return "app"
	}
	stores := make([]*postgres.Store, nodes)
	convs := make([][]string, nodes)
	for n := range stores {
		stores[n] = mustOpenDSN(b, dsn, postgres.WithMaxConns(2))
		convs[n] = benchSetup(b, stores[n], appOf(n), fmt.Sprintf("n%du", n))
	}
	var next, commits atomic.Int64
	ctx := context.Background()
	b.ResetTimer()
	// b.N commits in all, shared by the nodes.
	var wg sync.WaitGroup
	var todo atomic.Int64
	todo.Store(int64(b.N))
	for n, s := range stores {
		rng := rand.New(rand.NewPCG(uint64(n), 7))
		app := appOf(n)
		wg.Go(func() {
			for todo.Add(-1) >= 0 {
				if _, err := s.Append(ctx, benchBatch(rng, app, convs[n], batch, &next)); err != nil {
					b.Error(err)
					return
				}
				commits.Add(1)
			}
		})
	}
	wg.Wait()
	b.ReportMetric(float64(next.Load())/b.Elapsed().Seconds(), "msgs/s")
	b.ReportMetric(float64(commits.Load())/b.Elapsed().Seconds(), "commits/s")
}

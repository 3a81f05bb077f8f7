package sqlite_test

import (
	"context"
	"fmt"
	"math/rand/v2"
	"path/filepath"
	"strconv"
	"sync/atomic"
	"testing"
	"time"

	"github.com/parley-im/parley"
	"github.com/parley-im/parley/internal/sqlite"
)

// benchConvs is the number of direct conversations a benchmark spreads
// its messages over.
const benchConvs = 1000

// openBench opens a store with benchConvs direct conversations between
// users u0-u1, u2-u3, ... and returns their ids.
func openBench(b *testing.B) (*sqlite.DB, []string) {
	b.Helper()
	return openBenchAt(b, filepath.Join(b.TempDir(), "bench.db"))
}

// benchBatch makes n text messages, each to a random conversation from one
// of its two members, with a unique id and client message id.
func benchBatch(rng *rand.Rand, convs []string, n int, next *atomic.Int64) []*parley.Message {
	msgs := make([]*parley.Message, n)
	for i := range msgs {
		c := convs[rng.IntN(len(convs))]
		a, bb, _ := parley.DirectPeers(c)
		sender := a
		if rng.IntN(2) == 1 {
			sender = bb
		}
		k := next.Add(1)
		msgs[i] = &parley.Message{AppID: "app", ConvID: c, ID: fmt.Sprintf("01J%023d", k), Sender: sender,
			ClientMsgID: "cm" + strconv.FormatInt(k, 10), Kind: parley.KindText,
			Body: []byte(`{"text":"hello there, how are you doing today?"}`), Time: time.Now().UnixMilli()}
	}
	return msgs
}

// BenchmarkAppend appends batches over 1,000 direct conversations from one
// goroutine (the writer is single anyway); msgs/s is the figure to watch.
func BenchmarkAppend(b *testing.B) {
	for _, size := range []int{1, 64, 256, 512} {
		b.Run(fmt.Sprintf("batch=%d", size), func(b *testing.B) {
			db, convs := openBench(b)
			rng := rand.New(rand.NewPCG(1, 2))
			var next atomic.Int64
			ctx := context.Background()
			b.ResetTimer()
			for b.Loop() {
				if _, err := db.Append(ctx, benchBatch(rng, convs, size, &next)); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(next.Load())/b.Elapsed().Seconds(), "msgs/s")
		})
	}
}

// BenchmarkAppendParallel has GOMAXPROCS goroutines append batches of 256
// at once, as concurrent senders' batchers would; they queue for the one
// writer connection.
func BenchmarkAppendParallel(b *testing.B) {
	db, convs := openBench(b)
	var next, seed atomic.Int64
	ctx := context.Background()
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		rng := rand.New(rand.NewPCG(uint64(seed.Add(1)), 2))
		for pb.Next() {
			if _, err := db.Append(ctx, benchBatch(rng, convs, 256, &next)); err != nil {
				b.Error(err)
				return
			}
		}
	})
	b.ReportMetric(float64(next.Load())/b.Elapsed().Seconds(), "msgs/s")
}

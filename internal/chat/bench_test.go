package chat_test

import (
	"context"
	"fmt"
	"sync"
	"testing"

	"github.com/parley-im/parley/internal/chat"
)

// BenchmarkSendPipeline measures the send path without a network: many
// senders (pairs of users in 1,000 conversations) hand messages to the
// group committer, which stores them in batches on SQLite and pushes them
// to a recording pusher. Reported as messages per second.
func BenchmarkSendPipeline(b *testing.B) {
	const pairs = 1000
	users := make([]string, 0, 2*pairs)
	for i := 0; i < pairs; i++ {
		users = append(users, fmt.Sprintf("a%d", i), fmt.Sprintf("b%d", i))
	}
	st := openStore(b, users...)
	s := chat.New(st, &pushes{}, chat.Config{})
	defer s.Close()
	ctx := context.Background()
	// At most 4,096 sends in flight, as from that many waiting clients;
	// the committer's queue holds 8,192.
	inflight := make(chan struct{}, 4096)
	b.ResetTimer()
	var wg sync.WaitGroup
	for i := 0; i < b.N; i++ {
		inflight <- struct{}{}
		wg.Add(1)
		p := i % pairs
		s.SendAsync(ctx, chat.SendRequest{AppID: "app", Sender: fmt.Sprintf("a%d", p), To: fmt.Sprintf("b%d", p), Body: text("hello")},
			func(r chat.SendResult) {
				if r.Err != nil {
					b.Error(r.Err)
				}
				<-inflight
				wg.Done()
			})
	}
	wg.Wait()
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "msgs/s")
}

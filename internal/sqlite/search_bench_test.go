package sqlite_test

import (
	"context"
	"fmt"
	"math/rand/v2"
	"path/filepath"
	"strconv"
	"sync/atomic"
	"testing"

	"github.com/parley-im/parley"
	"github.com/parley-im/parley/internal/sqlite"
)

// perInsertTrigger indexes each message from a trigger on INSERT INTO
// messages: the design the migration's trigger on conversations.last_seq
// was measured against (docs/decisions/0002-search.md).
const perInsertTrigger = `CREATE TRIGGER messages_search AFTER INSERT ON messages BEGIN
	INSERT INTO message_search_docs (app_id, conv_id, seq) VALUES (new.app_id, new.conv_id, new.seq);
	INSERT INTO message_search (rowid, text) VALUES (last_insert_rowid(), parley_search_text(new.kind, new.body));
END`

// BenchmarkAppendSearchIndex measures what indexing costs Append: the same
// batches of 256 without the search trigger, with English and with
// Chinese text, and with English indexed by a per-insert trigger instead.
// ns/msg is the figure to compare.
func BenchmarkAppendSearchIndex(b *testing.B) {
	const en = `{"text":"hello there, how are you doing today? The meeting moved to Friday."}`
	const zh = `{"text":"你好，我们明天下午三点在北京开会，请准时到达会议室。"}`
	for _, v := range []struct {
		name, body string
		ddl        []string // run on the migrated database first
	}{
		{"none", en, []string{`DROP TRIGGER conversations_search`}},
		{"english", en, nil},
		{"chinese", zh, nil},
		{"english-per-insert-trigger", en, []string{`DROP TRIGGER conversations_search`, perInsertTrigger}},
	} {
		b.Run(v.name, func(b *testing.B) {
			path := filepath.Join(b.TempDir(), "bench.db")
			db, convs := openBenchAt(b, path)
			for _, stmt := range v.ddl {
				if _, err := openRaw(b, path).Exec(stmt); err != nil {
					b.Fatal(err)
				}
			}
			rng := rand.New(rand.NewPCG(1, 2))
			var next atomic.Int64
			ctx := context.Background()
			for b.Loop() {
				batch := benchBatch(rng, convs, 256, &next)
				for _, m := range batch {
					m.Body = []byte(v.body)
				}
				if _, err := db.Append(ctx, batch); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(next.Load()), "ns/msg")
		})
	}
}

// BenchmarkSearch measures one page of 20 results for user u0 over
// 100,000 messages in 1,000 conversations (u0 is in one of them):
//   - own: a word in 1 message in 10, everywhere, so u0's conversation
//     has plenty;
//   - chinese: a two-character query, likewise;
//   - rare: a word in 1 message in 1,000;
//   - others: a word in 1 message in 10 but never in u0's conversation,
//     the worst case: every match is walked and none kept.
func BenchmarkSearch(b *testing.B) {
	db, convs := openBenchAt(b, filepath.Join(b.TempDir(), "bench.db"))
	ctx := context.Background()
	rng := rand.New(rand.NewPCG(3, 4))
	words := []string{"alpha", "bravo", "charlie", "delta", "echo", "foxtrot", "golf", "hotel", "india", "juliet"}
	const total = 100_000
	for i := 0; i < total; i += 500 {
		batch := make([]*parley.Message, 500)
		for j := range batch {
			k := i + j
			c := convs[rng.IntN(len(convs))]
			if k%100 == 0 {
				c = convs[0] // u0's conversation gets 1% of the messages
			}
			text := words[rng.IntN(len(words))] + " " + words[rng.IntN(len(words))] + " 我们明天去开会"
			switch {
			case k%10 == 0:
				text += " common 北京"
			case k%1000 == 1:
				text += " rare"
			case k%10 == 5 && c != convs[0]:
				text += " elsewhere"
			}
			a, _, _ := parley.DirectPeers(c)
			batch[j] = &parley.Message{AppID: "app", ConvID: c, ID: fmt.Sprintf("01S%023d", k), Sender: a,
				Kind: parley.KindText, Body: []byte(`{"text":"` + text + `"}`), Time: int64(k)}
		}
		if _, err := db.Append(ctx, batch); err != nil {
			b.Fatal(err)
		}
	}
	for _, q := range []struct{ name, text string }{
		{"own", "common"}, {"chinese", "北京"}, {"prefix", "com"}, {"rare", "rare"}, {"others", "elsewhere"},
	} {
		b.Run(q.name, func(b *testing.B) {
			var found int
			for b.Loop() {
				res, err := db.SearchMessages(ctx, "app", "u0", parley.SearchQuery{Text: q.text})
				if err != nil {
					b.Fatal(err)
				}
				found = len(res.Msgs)
			}
			b.ReportMetric(float64(found), "found")
		})
	}
}

// openBenchAt is openBench on the file at path.
func openBenchAt(b *testing.B, path string) (*sqlite.DB, []string) {
	b.Helper()
	db := mustOpen(b, path)
	convs := make([]parley.Conversation, benchConvs)
	ids := make([]string, benchConvs)
	for i := range convs {
		u, v := "u"+strconv.Itoa(2*i), "u"+strconv.Itoa(2*i+1)
		ids[i] = parley.DirectConvID(u, v)
		convs[i] = parley.Conversation{AppID: "app", ID: ids[i], Kind: parley.ConvDirect, Members: []string{u, v}}
	}
	if err := db.EnsureConversations(context.Background(), convs); err != nil {
		b.Fatal(err)
	}
	return db, ids
}

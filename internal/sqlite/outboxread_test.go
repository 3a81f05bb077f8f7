package sqlite_test

import (
	"context"
	"encoding/json"
	"fmt"
	"path/filepath"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/parley-im/parley"
	"github.com/parley-im/parley/internal/events"
	"github.com/parley-im/parley/internal/sqlite"
)

// TestMessagesInRanges: the messages of several ranges, in range order
// and seq order within each, are those Messages returns range by range
// (variants included); a missing conversation and the seqs past a
// conversation's last have none, and the limit cuts the list where
// asked, inside a range too.
func TestMessagesInRanges(t *testing.T) {
	db := mustOpen(t, filepath.Join(t.TempDir(), "parley.db"))
	ctx := t.Context()
	ab, ac := parley.DirectConvID("ann", "bob"), parley.DirectConvID("ann", "cat")
	if err := db.EnsureConversations(ctx, []parley.Conversation{
		{AppID: "app", ID: ab, Kind: parley.ConvDirect, Members: []string{"ann", "bob"}},
		{AppID: "app", ID: ac, Kind: parley.ConvDirect, Members: []string{"ann", "cat"}},
		{AppID: "other", ID: ab, Kind: parley.ConvDirect, Members: []string{"ann", "bob"}},
	}); err != nil {
		t.Fatal(err)
	}
	var ms []*parley.Message
	for i := range 5 { // ab: 1-5, ac: 1-5, other's ab: 1-5
		for _, c := range []struct{ app, conv string }{{"app", ab}, {"app", ac}, {"other", ab}} {
			m := &parley.Message{AppID: c.app, ConvID: c.conv, ID: fmt.Sprintf("01J%s%s%019d", c.app[:1], c.conv[len(c.conv)-1:], i),
				Sender: "ann", Kind: parley.KindText, Body: json.RawMessage(fmt.Sprintf(`{"text":"%s %d"}`, c.conv, i)), Time: int64(1000 + i)}
			if i == 2 {
				m.Variants = []parley.Variant{{Role: parley.RoleAgent, Body: json.RawMessage(`{"text":"for agents"}`)},
					{Platform: parley.PlatformWeb, Body: json.RawMessage(`{"text":"for the web"}`)}}
			}
			ms = append(ms, m)
		}
	}
	if res, err := db.Append(ctx, ms); err != nil || res[0].Err != nil {
		t.Fatalf("Append: %+v, %v", res, err)
	}
	rs := []events.MsgRange{
		{App: "app", Conv: ac, First: 2, Last: 4},
		{App: "app", Conv: "d:ann:zed", First: 1, Last: 3}, // no such conversation
		{App: "app", Conv: ab, First: 1, Last: 2},
		{App: "other", Conv: ab, First: 3, Last: 9}, // past the last seq, 5
		{App: "app", Conv: ab, First: 3, Last: 5},   // the same conversation again
		{App: "app", Conv: ac, First: 7, Last: 8},   // nothing there
		{App: "app", Conv: ac, First: 5, Last: 5},
	}
	var want []parley.Message
	for _, r := range rs {
		got, err := db.Messages(ctx, r.App, r.Conv, parley.MessageRange{After: r.First - 1, Before: r.Last + 1, Limit: 1000})
		if err != nil {
			t.Fatal(err)
		}
		want = append(want, got...)
	}
	if len(want) != 3+2+3+3+1 {
		t.Fatalf("Messages range by range: %d messages, want 12", len(want))
	}
	if want[1].Seq != 3 || len(want[1].Variants) != 2 {
		t.Fatalf("the test's second message should have variants: %+v", want[1])
	}
	for _, limit := range []int{1, 4, 5, 6, 11, 12, 13, 1000} {
		got, err := db.MessagesInRanges(ctx, rs, limit)
		if err != nil {
			t.Fatalf("limit %d: %v", limit, err)
		}
		w := want[:min(limit, len(want))]
		if diff := cmp.Diff(w, got); diff != "" {
			t.Errorf("limit %d: MessagesInRanges differs from Messages range by range (-want +got):\n%s", limit, diff)
		}
	}
	if got, err := db.MessagesInRanges(ctx, nil, 10); err != nil || len(got) != 0 {
		t.Errorf("no ranges: got %v, %v; want none", got, err)
	}
	if got, err := db.MessagesInRanges(ctx, rs[:1], 0); err != nil || len(got) != 1 {
		t.Errorf("limit 0: got %v, %v; want one message", got, err)
	}
}

// BenchmarkRelayBroadcastChunk times the reads of one relay step over a
// broadcast's outbox rows: 1,000 one-message conversations, read with a
// Messages call per range (the relay's path for an outbox without
// events.RangeReader) or with one MessagesInRanges call.
func BenchmarkRelayBroadcastChunk(b *testing.B) {
	db, convs := openBench(b)
	ctx := context.Background()
	ms := make([]*parley.Message, len(convs))
	rs := make([]events.MsgRange, len(convs))
	for i, c := range convs {
		from, _, _ := parley.DirectPeers(c)
		ms[i] = &parley.Message{AppID: "app", ConvID: c, ID: fmt.Sprintf("01J%023d", i), Sender: from, Kind: parley.KindText,
			Body: json.RawMessage(`{"text":"an announcement to everyone"}`), Time: 1}
		rs[i] = events.MsgRange{App: "app", Conv: c, First: 1, Last: 1}
	}
	if _, err := db.Append(ctx, ms); err != nil {
		b.Fatal(err)
	}
	check := func(b *testing.B, n int) {
		if n != len(rs) {
			b.Fatalf("read %d messages, want %d", n, len(rs))
		}
	}
	b.Run("Messages", func(b *testing.B) {
		for b.Loop() {
			n := 0
			for _, r := range rs {
				got, err := db.Messages(ctx, r.App, r.Conv, parley.MessageRange{After: r.First - 1, Before: r.Last + 1, Limit: events.MaxRead})
				if err != nil {
					b.Fatal(err)
				}
				n += len(got)
			}
			check(b, n)
		}
		b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/float64(len(rs)), "ns/range")
	})
	b.Run("MessagesInRanges", func(b *testing.B) {
		for b.Loop() {
			got, err := db.MessagesInRanges(ctx, rs, 2048)
			if err != nil {
				b.Fatal(err)
			}
			check(b, len(got))
		}
		b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/float64(len(rs)), "ns/range")
	})
}

var _ events.RangeReader = (*sqlite.DB)(nil)

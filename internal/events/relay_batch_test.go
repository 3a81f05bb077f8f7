package events_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/parley-im/parley"
	"github.com/parley-im/parley/internal/events"
	"github.com/parley-im/parley/internal/sqlite"
)

var (
	annCat = parley.DirectConvID("ann", "cat")
	bobCat = parley.DirectConvID("bob", "cat")
)

// batchFixture is a fixture with ann and cat's and bob and cat's
// conversations too.
func batchFixture(t *testing.T) *fixture {
	fx := newFixture(t)
	if err := fx.db.EnsureConversations(t.Context(), []parley.Conversation{
		{AppID: app, ID: annCat, Kind: parley.ConvDirect, Members: []string{"ann", "cat"}},
		{AppID: app, ID: bobCat, Kind: parley.ConvDirect, Members: []string{"bob", "cat"}},
	}); err != nil {
		t.Fatal(err)
	}
	return fx
}

// sendTo stores one batch of messages, one to each of convs in turn, with
// ids made from tag.
func (f *fixture) sendTo(tag string, convs ...string) {
	f.t.Helper()
	var ms []*parley.Message
	for i, c := range convs {
		from, _, _ := parley.DirectPeers(c)
		ms = append(ms, &parley.Message{AppID: app, ConvID: c, ID: fmt.Sprintf("01JBBBBBBBBBBBBBBBBBB%s%02d", tag, i), Sender: from,
			Kind: parley.KindText, Body: json.RawMessage(fmt.Sprintf(`{"text":"%s %d"}`, tag, i)), Time: 1_700_000_000_000})
	}
	if res, err := f.db.Append(f.t.Context(), ms); err != nil || res[0].Err != nil {
		f.t.Fatalf("Append: %+v, %v", res, err)
	}
}

// writeMix commits rows of every shape: a batch of 7 messages in one
// conversation (more than the small relay's MaxEvents), a batch over
// three conversations (one twice, not in a row), a read, and more.
func writeMix(fx *fixture) {
	fx.send("ann", 7)
	fx.sendTo("mix", annCat, annCat, annBob, bobCat, annCat)
	fx.read("bob", 5)
	fx.send("bob", 2)
	fx.sendTo("two", bobCat, annBob)
}

// countingOutbox is the DB, counting the relay's reads of messages.
type countingOutbox struct {
	*sqlite.DB
	ranges, messages *int
}

func (o countingOutbox) MessagesInRanges(ctx context.Context, rs []events.MsgRange, limit int) ([]parley.Message, error) {
	*o.ranges++
	return o.DB.MessagesInRanges(ctx, rs, limit)
}

func (o countingOutbox) Messages(ctx context.Context, appID, convID string, r parley.MessageRange) ([]parley.Message, error) {
	*o.messages++
	return o.DB.Messages(ctx, appID, convID, r)
}

// countingLog is the DB's log, counting AppendFromOutbox calls.
type countingLog struct {
	*sqlite.EventLog
	calls *int
}

func (l countingLog) AppendFromOutbox(ctx context.Context, evs []events.Event, ids []int64) error {
	*l.calls++
	return l.EventLog.AppendFromOutbox(ctx, evs, ids)
}

// allEvents returns app's whole log, without the times of reads (their
// commit times).
func allEvents(t *testing.T, l events.EventLog) []events.Event {
	t.Helper()
	var out []events.Event
	for {
		evs, err := l.Read(t.Context(), app, uint64(len(out)), 0)
		if err != nil {
			t.Fatal(err)
		}
		if len(evs) == 0 {
			return out
		}
		for i := range evs {
			if evs[i].Type == events.TypeRead {
				evs[i].Time = 0
			}
		}
		out = append(out, evs...)
	}
}

// TestRelayBatchReadsAsRangeByRange: a relay on the SQLite outbox and log
// reads a step's messages with MessagesInRanges (a few at a time when
// MaxEvents is small, a range's messages over several calls) and appends
// and deletes in one AppendFromOutbox, and its log is event for event
// that of a relay reading range by range with Append and DeleteOutbox.
func TestRelayBatchReadsAsRangeByRange(t *testing.T) {
	// The reference: range by range, the store's DB hidden from the relay.
	ref := batchFixture(t)
	writeMix(ref)
	drain(t, events.NewRelay(struct{ events.Outbox }{ref.db}, struct{ events.EventLog }{ref.db.EventLog()},
		events.RelayConfig{Rows: 2, MaxEvents: 3}))
	want := allEvents(t, ref.db.EventLog())
	if len(want) != 7+5+1+2+2 {
		t.Fatalf("the reference log has %d events, want 17", len(want))
	}
	for _, cfg := range []events.RelayConfig{{Rows: 2, MaxEvents: 3}, {Rows: 1, MaxEvents: 1}, {}} {
		t.Run(fmt.Sprintf("Rows=%d,MaxEvents=%d", cfg.Rows, cfg.MaxEvents), func(t *testing.T) {
			fx := batchFixture(t)
			writeMix(fx)
			var ranges, messages, appends int
			r := events.NewRelay(countingOutbox{fx.db, &ranges, &messages}, countingLog{fx.db.EventLog(), &appends}, cfg)
			drain(t, r)
			if diff := cmp.Diff(want, allEvents(t, fx.db.EventLog())); diff != "" {
				t.Errorf("log (-range by range +batched):\n%s", diff)
			}
			if rows, err := fx.db.OutboxRows(t.Context(), 100); err != nil || len(rows) != 0 {
				t.Errorf("outbox after the relay: %+v, %v", rows, err)
			}
			if messages != 0 || ranges == 0 || appends == 0 {
				t.Errorf("the relay made %d Messages, %d MessagesInRanges and %d AppendFromOutbox calls; want none, some, some",
					messages, ranges, appends)
			}
			if cfg.MaxEvents == 0 && ranges != 1 {
				t.Errorf("one default step read with %d MessagesInRanges calls, want 1", ranges)
			}
		})
	}
}

// holeyOutbox names messages the store does not have: two past the end
// of each range and, before each conversation ann and cat's range, a
// conversation that does not exist.
type holeyOutbox struct{ *sqlite.DB }

func (o holeyOutbox) OutboxRows(ctx context.Context, limit int) ([]events.OutboxRow, error) {
	rows, err := o.DB.OutboxRows(ctx, limit)
	for i, row := range rows {
		var rs []events.MsgRange
		for _, mr := range row.Msgs {
			if mr.Conv == annCat {
				rs = append(rs, events.MsgRange{App: app, Conv: "d:ann:zed", First: 1, Last: 2})
			}
			mr.Last += 2
			rs = append(rs, mr)
		}
		rows[i].Msgs = rs
	}
	return rows, err
}

// TestRelayPublishesWhatThereIs: when the outbox names messages the store
// does not have, the relay logs them and publishes the others, in order,
// reading in batches as range by range.
func TestRelayPublishesWhatThereIs(t *testing.T) {
	wantErrs := []string{
		annBob + " 4-5", "d:ann:zed 1-2", annCat + " 3-4",
		"d:ann:zed 1-2", annCat + " 4-5", annBob + " 5-6",
	}
	wantIDs := []string{"one00", "one01", "one02", "one03", "one04", "two00", "two01"}
	for i, id := range wantIDs {
		wantIDs[i] = events.MessageEventID("01JBBBBBBBBBBBBBBBBBB" + id)
	}
	for _, tc := range []struct {
		name      string
		maxEvents int
		batched   bool
	}{{"range by range", 0, false}, {"batched", 0, true}, {"batched, 2 at a time", 2, true}} {
		t.Run(tc.name, func(t *testing.T) {
			fx := batchFixture(t)
			var buf bytes.Buffer
			var o events.Outbox = holeyOutbox{fx.db}
			if !tc.batched {
				o = struct{ events.Outbox }{o}
			}
			r := events.NewRelay(o, fx.db.EventLog(), events.RelayConfig{MaxEvents: tc.maxEvents, Rows: 1,
				Logger: slog.New(slog.NewJSONHandler(&buf, nil))})
			// A relay step after each batch: what the holes name is not
			// stored when it reads them.
			fx.sendTo("one", annBob, annBob, annBob, annCat, annCat)
			drain(t, r)
			fx.sendTo("two", annCat, annBob)
			drain(t, r)
			if got := logIDs(t, fx.db.EventLog()); !slices.Equal(got, wantIDs) {
				t.Errorf("log: got %q, want %q", got, wantIDs)
			}
			var errs []string
			for line := range strings.Lines(buf.String()) {
				var rec struct {
					Msg         string
					Conv        string `json:"conv_id"`
					First, Last uint64
				}
				if err := json.Unmarshal([]byte(line), &rec); err != nil {
					t.Fatal(err)
				}
				if rec.Msg == "outbox names messages the store does not have" {
					errs = append(errs, fmt.Sprintf("%s %d-%d", rec.Conv, rec.First, rec.Last))
				}
			}
			if !slices.Equal(errs, wantErrs) {
				t.Errorf("errors logged:\n got %q\nwant %q", errs, wantErrs)
			}
			if rows, err := fx.db.OutboxRows(t.Context(), 100); err != nil || len(rows) != 0 {
				t.Errorf("outbox after the relay: %+v, %v", rows, err)
			}
		})
	}
}

// shuffledOutbox returns each MessagesInRanges answer backwards.
type shuffledOutbox struct{ *sqlite.DB }

func (o shuffledOutbox) MessagesInRanges(ctx context.Context, rs []events.MsgRange, limit int) ([]parley.Message, error) {
	ms, err := o.DB.MessagesInRanges(ctx, rs, limit)
	slices.Reverse(ms)
	return ms, err
}

// TestRelayRefusesMessagesOutOfOrder: a RangeReader whose answer is not
// in the order of the ranges asked fails the step rather than publish
// messages out of order, and the rows stay.
func TestRelayRefusesMessagesOutOfOrder(t *testing.T) {
	fx := batchFixture(t)
	fx.sendTo("one", annBob, annCat, annBob)
	if _, err := events.NewRelay(shuffledOutbox{fx.db}, fx.db.EventLog(), events.RelayConfig{}).Step(t.Context()); err == nil {
		t.Fatal("Step: no error")
	}
	if got := logIDs(t, fx.db.EventLog()); len(got) != 0 {
		t.Errorf("log after the failed step: %q, want nothing", got)
	}
	if rows, err := fx.db.OutboxRows(t.Context(), 100); err != nil || len(rows) != 1 {
		t.Errorf("outbox after the failed step: %+v, %v; want its row", rows, err)
	}
}

package events_test

import (
	"context"
	"encoding/json"
	"errors"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/oklog/ulid/v2"

	"github.com/parley-im/parley"
	"github.com/parley-im/parley/internal/events"
	"github.com/parley-im/parley/internal/jetstream"
	"github.com/parley-im/parley/internal/testservers"
)

// logs runs f against each EventLog implementation, the embedded one in
// the fixture's database and JetStream on an embedded NATS server.
func logs(t *testing.T, f func(t *testing.T, fx *fixture, l events.EventLog)) {
	t.Run("sqlite", func(t *testing.T) {
		fx := newFixture(t)
		f(t, fx, fx.db.EventLog())
	})
	t.Run("jetstream", func(t *testing.T) {
		fx := newFixture(t)
		l, err := jetstream.New(testservers.NATS(t), jetstream.Config{})
		if err != nil {
			t.Fatal(err)
		}
		f(t, fx, l)
	})
}

// TestRelayPublishesEveryChangeInCommitOrder: messages (several batches,
// a group's notices), reads and their order reach the log once each, with
// ids derived from what they are, and the outbox ends empty.
func TestRelayPublishesEveryChangeInCommitOrder(t *testing.T) {
	logs(t, func(t *testing.T, fx *fixture, l events.EventLog) {
		var want []string
		want = append(want, fx.send("ann", 3)...)
		want = append(want, fx.read("bob", 2))
		want = append(want, fx.send("bob", 2)...)
		g := &parley.Group{AppID: app, ID: "team", Name: "Team", Owner: "ann", MaxMembers: 10}
		msg := &parley.Message{ID: "01JGROUPCREATED0000000000A", Sender: parley.SystemUserID, Kind: parley.KindSystem,
			Body: parley.CreatedBody(g, "ann", []string{"cat"}), Time: 1}
		if err := fx.db.CreateGroup(t.Context(), g, []string{"cat"}, msg); err != nil {
			t.Fatal(err)
		}
		want = append(want, events.MessageEventID(msg.ID))
		r := events.NewRelay(fx.db, l, events.RelayConfig{Rows: 2, MaxEvents: 3}) // small steps
		drain(t, r)
		if got := logIDs(t, l); !slices.Equal(got, want) {
			t.Fatalf("log ids:\n got %q\nwant %q", got, want)
		}
		rows, err := fx.db.OutboxRows(t.Context(), 100)
		if err != nil || len(rows) != 0 {
			t.Fatalf("outbox after the relay: %+v, %v", rows, err)
		}
		evs, err := l.Read(t.Context(), app, 3, 1)
		if err != nil || len(evs) != 1 {
			t.Fatal(evs, err)
		}
		var rd events.ReadData
		if err := json.Unmarshal(evs[0].Data, &rd); err != nil || evs[0].Type != events.TypeRead ||
			rd != (events.ReadData{Conv: annBob, User: "bob", Seq: 2}) {
			t.Fatalf("the read event: got %+v (%s), want bob read %s to 2", evs[0], evs[0].Data, annBob)
		}
		evs, _ = l.Read(t.Context(), app, 0, 1)
		var m parley.Message
		if err := json.Unmarshal(evs[0].Data, &m); err != nil || evs[0].Type != events.TypeMessage ||
			m.ConvID != annBob || m.Seq != 1 || m.Sender != "ann" || string(m.Body) != `{"text":"m1"}` || evs[0].Time != m.Time {
			t.Fatalf("the first message event: got %+v (%s)", evs[0], evs[0].Data)
		}
	})
}

// crashingOutbox dies (fails) when the relay deletes rows: the events are
// appended, the rows stay, as when a process dies between the two.
type crashingOutbox struct{ events.Outbox }

var errCrash = errors.New("process died")

func (crashingOutbox) DeleteOutbox(context.Context, []int64) error { return errCrash }

// TestRelayCrashBeforeDelete: a relay that dies after appending and before
// deleting the outbox rows leaves them; the next relay appends their
// events again and the log keeps each id once, in order.
func TestRelayCrashBeforeDelete(t *testing.T) {
	logs(t, func(t *testing.T, fx *fixture, l events.EventLog) {
		want := fx.send("ann", 4)
		want = append(want, fx.read("bob", 4))
		if _, err := events.NewRelay(crashingOutbox{fx.db}, l, events.RelayConfig{}).Step(t.Context()); !errors.Is(err, errCrash) {
			t.Fatalf("the crashing step: got %v, want the crash", err)
		}
		if got := logIDs(t, l); !slices.Equal(got, want) {
			t.Fatalf("after the crash: got %q, want %q", got, want)
		}
		want = append(want, fx.send("bob", 2)...) // more since
		drain(t, events.NewRelay(fx.db, l, events.RelayConfig{}))
		if got := logIDs(t, l); !slices.Equal(got, want) {
			t.Fatalf("after the restarted relay: got %q, want %q (each once)", got, want)
		}
	})
}

// TestRelayRuns: the relay's goroutine relays what is committed while it
// runs, wakes the app's waiters, appends presence events, and stops.
func TestRelayRuns(t *testing.T) {
	fx := newFixture(t)
	l := fx.db.EventLog()
	sig := events.NewSignal()
	r := events.NewRelay(fx.db, l, events.RelayConfig{Interval: 10 * time.Millisecond, Signal: sig})
	r.Start()
	defer r.Close()
	wake := sig.Wait(app)
	want := fx.send("ann", 2)
	select {
	case <-wake:
	case <-time.After(10 * time.Second):
		t.Fatal("no signal after a commit")
	}
	r.PublishPresence(app, parley.Presence{User: "ann", Online: true, Platforms: []parley.Platform{parley.PlatformWeb}}, time.UnixMilli(5))
	waitFor(t, "three events", func() bool { return len(logIDs(t, l)) == 3 })
	evs, err := l.Read(t.Context(), app, 2, 0)
	if err != nil || len(evs) != 1 || evs[0].Type != events.TypePresence || evs[0].Time != 5 ||
		string(evs[0].Data) != `{"user":"ann","online":true,"platforms":["web"]}` {
		t.Fatalf("presence event: got %+v, %v", evs, err)
	}
	if got := logIDs(t, l)[:2]; !slices.Equal(got, want) {
		t.Fatalf("messages: got %q, want %q", got, want)
	}
	r.Close()
	r.Close() // twice is fine
}

// TestPresenceQueueBounded: presence events beyond the queue are dropped,
// never block.
func TestPresenceQueueBounded(t *testing.T) {
	fx := newFixture(t)
	r := events.NewRelay(fx.db, fx.db.EventLog(), events.RelayConfig{PresenceQueue: 3})
	for range 5 {
		r.PublishPresence(app, parley.Presence{User: "ann", Online: true, Platforms: []parley.Platform{}}, time.Now())
	}
	drain(t, r)
	if got := logIDs(t, fx.db.EventLog()); len(got) != 3 {
		t.Fatalf("after 5 presence events into a queue of 3: got %d in the log, want 3", len(got))
	}
}

// smallLog fails appends of more than max events, as a log too slow for
// large steps times out on them.
type smallLog struct {
	events.EventLog
	max int
}

func (l smallLog) Append(ctx context.Context, evs []events.Event) error {
	if len(evs) > l.max {
		return errors.New("timed out")
	}
	return l.EventLog.Append(ctx, evs)
}

// TestRelayShrinksStepsThatFail: a relay whose steps fail retries with
// fewer events until they pass, and so still relays everything, in order.
func TestRelayShrinksStepsThatFail(t *testing.T) {
	fx := newFixture(t)
	var want []string
	for range 30 {
		want = append(want, fx.send("ann", 1)...) // one row each
	}
	want = append(want, fx.send("bob", 3)...) // a row of three
	l := fx.db.EventLog()
	r := events.NewRelay(fx.db, smallLog{l, 5}, events.RelayConfig{Interval: time.Millisecond, MaxEvents: 64, Rows: 64})
	r.Start()
	defer r.Close()
	waitFor(t, "every event relayed", func() bool { return len(logIDs(t, l)) == len(want) })
	if got := logIDs(t, l); !slices.Equal(got, want) {
		t.Fatalf("log: got %q, want %q", got, want)
	}
}

// TestRelayUnderConcurrentWrites: batches appended from several
// goroutines while the relay runs, with reads in between, reach the log
// exactly once each, every conversation's messages in seq order.
func TestRelayUnderConcurrentWrites(t *testing.T) {
	logs(t, func(t *testing.T, fx *fixture, l events.EventLog) {
		r := events.NewRelay(fx.db, l, events.RelayConfig{Interval: time.Millisecond, Rows: 7, MaxEvents: 50})
		r.Start()
		defer r.Close()
		convs := []string{annBob, parley.DirectConvID("ann", "cat"), parley.DirectConvID("bob", "cat")}
		if err := fx.db.EnsureConversations(t.Context(), []parley.Conversation{
			{AppID: app, ID: convs[1], Kind: parley.ConvDirect, Members: []string{"ann", "cat"}},
			{AppID: app, ID: convs[2], Kind: parley.ConvDirect, Members: []string{"bob", "cat"}},
		}); err != nil {
			t.Fatal(err)
		}
		const writers, batches = 4, 25
		var wg sync.WaitGroup
		for w := range writers {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for b := range batches {
					var ms []*parley.Message
					for i := range 1 + b%5 {
						c := convs[(w+b+i)%len(convs)]
						from, _, _ := parley.DirectPeers(c)
						ms = append(ms, &parley.Message{AppID: app, ConvID: c, ID: ulid.Make().String(), Sender: from,
							Kind: parley.KindText, Body: json.RawMessage(`{"text":"x"}`), Time: 1})
					}
					if _, err := fx.db.Append(context.Background(), ms); err != nil {
						t.Error(err)
						return
					}
					if b%4 == 0 {
						_, _, _ = fx.db.MarkRead(context.Background(), app, annBob, "bob", uint64(b))
					}
				}
			}()
		}
		wg.Wait()
		var stored int
		for _, c := range convs {
			ms, err := fx.db.Messages(t.Context(), app, c, parley.MessageRange{Limit: 1000})
			if err != nil {
				t.Fatal(err)
			}
			stored += len(ms)
		}
		var evs []events.Event
		waitFor(t, "every message in the log", func() bool {
			evs = evs[:0]
			var after uint64
			for {
				page, err := l.Read(t.Context(), app, after, 0)
				if err != nil || len(page) == 0 {
					break
				}
				evs = append(evs, page...)
				after = page[len(page)-1].Offset
			}
			return len(ofType(evs, events.TypeMessage)) >= stored
		})
		seen := map[string]bool{}
		last := map[string]uint64{}
		for _, e := range evs {
			if seen[e.ID] {
				t.Fatalf("event %s twice", e.ID)
			}
			seen[e.ID] = true
			if e.Type != events.TypeMessage {
				continue
			}
			var m parley.Message
			if err := json.Unmarshal(e.Data, &m); err != nil {
				t.Fatal(err)
			}
			if m.Seq != last[m.ConvID]+1 {
				t.Fatalf("%s: seq %d after %d", m.ConvID, m.Seq, last[m.ConvID])
			}
			last[m.ConvID] = m.Seq
		}
		if n := len(ofType(evs, events.TypeMessage)); n != stored {
			t.Fatalf("message events: got %d, want the %d stored", n, stored)
		}
	})
}

func ofType(evs []events.Event, typ string) []events.Event {
	var out []events.Event
	for _, e := range evs {
		if e.Type == typ {
			out = append(out, e)
		}
	}
	return out
}

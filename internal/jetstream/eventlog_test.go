package jetstream_test

import (
	"encoding/json"
	"testing"

	"go.uber.org/goleak"

	"github.com/parley-im/parley/internal/events"
	"github.com/parley-im/parley/internal/events/eventstest"
	"github.com/parley-im/parley/internal/jetstream"
	"github.com/parley-im/parley/internal/testservers"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

func mustNew(t *testing.T, cfg jetstream.Config) *jetstream.EventLog {
	t.Helper()
	l, err := jetstream.New(testservers.NATS(t), cfg)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	return l
}

func TestEventLog(t *testing.T) {
	eventstest.RunEventLogTests(t, func(t *testing.T) events.EventLog { return mustNew(t, jetstream.Config{}) })
}

// TestStreamPerApp: each app's events are a stream of their own on
// subjects <prefix>.<app>.<type>, app ids with '.' and '@' included, and
// another EventLog on the same server (a restarted node) still drops
// repeats by id.
func TestStreamPerApp(t *testing.T) {
	ns := testservers.StartNATS(t)
	nc := ns.Connect(t, "a")
	l, err := jetstream.New(nc, jetstream.Config{Prefix: "x.ev"})
	if err != nil {
		t.Fatal(err)
	}
	if got, want := l.Subject("shop.cn@1", "read"), "x.ev.shop~2ecn~401.read"; got != want {
		t.Errorf("Subject: got %q, want %q", got, want)
	}
	if got, want := l.StreamName("shop.cn@1"), "X_EV_shop~2ecn~401"; got != want {
		t.Errorf("StreamName: got %q, want %q", got, want)
	}
	e := func(app, id string) events.Event {
		return events.Event{ID: id, App: app, Type: events.TypeRead, Time: 1, Data: json.RawMessage(`{}`)}
	}
	if err := l.Append(t.Context(), []events.Event{e("shop.cn@1", "a"), e("shop-cn-1", "a"), e("shop.cn@1", "b")}); err != nil {
		t.Fatal(err)
	}
	// A log of another connection, as after a restart.
	l2, err := jetstream.New(ns.Connect(t, "b"), jetstream.Config{Prefix: "x.ev"})
	if err != nil {
		t.Fatal(err)
	}
	if err := l2.Append(t.Context(), []events.Event{e("shop.cn@1", "a"), e("shop.cn@1", "b"), e("shop.cn@1", "c")}); err != nil {
		t.Fatal(err)
	}
	got, err := l2.Read(t.Context(), "shop.cn@1", 0, 0)
	if err != nil || len(got) != 3 || got[0].ID != "a" || got[2].ID != "c" || got[2].Offset != 3 {
		t.Fatalf("Read: got %+v, %v; want a, b, c at 1-3", got, err)
	}
	if last, err := l2.Last(t.Context(), "shop-cn-1"); err != nil || last != 1 {
		t.Fatalf("Last of the other app: got %d, %v; want 1", last, err)
	}
}

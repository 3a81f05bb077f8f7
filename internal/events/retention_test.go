package events_test

import (
	"context"
	"errors"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/parley-im/parley/internal/events"
)

// clock is a settable clock for the relay.
type clock struct{ ms atomic.Int64 }

func (c *clock) now() time.Time            { return time.UnixMilli(c.ms.Load()) }
func (c *clock) add(d time.Duration)       { c.ms.Add(d.Milliseconds()) }
func newClock(t time.Time) *clock          { c := &clock{}; c.ms.Store(t.UnixMilli()); return c }
func (c *clock) ago(d time.Duration) int64 { return c.ms.Load() - d.Milliseconds() }

// appendAt appends an event of app per (id, time) pair, in order.
func appendAt(t *testing.T, l events.EventLog, at map[string]int64, order ...string) {
	t.Helper()
	evs := make([]events.Event, len(order))
	for i, id := range order {
		evs[i] = events.Event{ID: id, App: app, Type: events.TypeMessage, Time: at[id], Data: []byte(`{}`)}
	}
	if err := l.Append(t.Context(), evs); err != nil {
		t.Fatal(err)
	}
}

// TestRelayTrimsWithRetention: a draining relay whose log is a Trimmer
// deletes the events older than Retention by its clock, in batches, but
// each app's newest, when it starts and then every TrimEvery of its clock
// (not of real time); a passive relay does not trim.
func TestRelayTrimsWithRetention(t *testing.T) {
	fx := newFixture(t)
	l := fx.db.EventLog()
	c := newClock(time.UnixMilli(1_800_000_000_000))
	at := map[string]int64{
		"e1": c.ago(4 * time.Hour), "e2": c.ago(3 * time.Hour), "e3": c.ago(150 * time.Minute), "e4": c.ago(2 * time.Hour),
		"e5": c.ago(30 * time.Minute), "e6": c.ago(10 * time.Minute),
	}
	appendAt(t, l, at, "e1", "e2", "e3", "e4", "e5", "e6")
	have := func() []string {
		evs, err := l.Read(t.Context(), app, 0, 0)
		if err != nil {
			t.Fatal(err)
		}
		var ids []string
		for _, e := range evs {
			ids = append(ids, e.ID)
		}
		return ids
	}
	cfg := events.RelayConfig{Interval: 2 * time.Millisecond, Retention: time.Hour, TrimBatch: 3, Now: c.now}

	passive := events.NewRelay(fx.db, l, cfg)
	passive.SetDraining(false)
	passive.Start()
	time.Sleep(50 * time.Millisecond)
	passive.Close()
	if got := have(); len(got) != 6 {
		t.Fatalf("after a passive relay with a retention: %q left, want all 6", got)
	}

	r := events.NewRelay(fx.db, l, cfg)
	r.Start()
	defer r.Close()
	waitFor(t, "the first trim (e1-e4, two calls of 3)", func() bool { return slices.Equal(have(), []string{"e5", "e6"}) })

	// Not due again until a minute of the relay's clock has passed.
	at["e7"], at["e8"] = c.ago(5*time.Hour), c.ago(0)
	appendAt(t, l, at, "e7", "e8")
	time.Sleep(50 * time.Millisecond)
	if got := have(); !slices.Equal(got, []string{"e5", "e6", "e7", "e8"}) {
		t.Fatalf("before the next trim is due: %q, want e5-e8", got)
	}
	c.add(time.Minute) // cutoff: 59 minutes before the first clock
	waitFor(t, "the second trim (e7)", func() bool { return slices.Equal(have(), []string{"e5", "e6", "e8"}) })
	c.add(time.Hour) // cutoff: a minute after the first clock; e8 is the newest
	waitFor(t, "the third trim (e5, e6)", func() bool { return slices.Equal(have(), []string{"e8"}) })
	if last, err := l.Last(t.Context(), app); err != nil || last != 8 {
		t.Fatalf("Last after the trims: got %d, %v; want 8", last, err)
	}
}

// failingTrimmer is a log whose trims fail.
type failingTrimmer struct {
	events.EventLog
	mu    sync.Mutex
	calls int
}

func (l *failingTrimmer) TrimBefore(context.Context, int64, int) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.calls++
	return 0, errors.New("trim failed")
}

func (l *failingTrimmer) tried() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.calls
}

// TestRelayGoesOnWhenTrimsFail: a trim that fails is logged and tried
// again a TrimEvery later; the relay goes on relaying meanwhile.
func TestRelayGoesOnWhenTrimsFail(t *testing.T) {
	fx := newFixture(t)
	l := &failingTrimmer{EventLog: fx.db.EventLog()}
	c := newClock(time.Now())
	r := events.NewRelay(fx.db, l, events.RelayConfig{Interval: 2 * time.Millisecond, Retention: time.Hour, Now: c.now})
	r.Start()
	defer r.Close()
	waitFor(t, "the first trim", func() bool { return l.tried() == 1 })
	want := fx.send("ann", 2)
	waitFor(t, "the relay to relay after a failed trim", func() bool { return slices.Equal(logIDs(t, l), want) })
	if n := l.tried(); n != 1 {
		t.Fatalf("trims before a minute of the clock passed: %d, want 1", n)
	}
	c.add(time.Minute)
	waitFor(t, "the trim a minute later", func() bool { return l.tried() == 2 })
}

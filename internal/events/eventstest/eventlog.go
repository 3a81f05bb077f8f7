// Package eventstest holds the contract suites of the events package's
// seams: the EventLog (RunEventLogTests) and its retention
// (RunTrimmerTests), the store's transactional outbox (RunOutboxTests)
// and the WebhookStore (RunWebhookStoreTests).
// Every implementation runs them against the real thing.
package eventstest

import (
	"bytes"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"sync/atomic"
	"testing"

	"github.com/parley-im/parley"
	"github.com/parley-im/parley/internal/events"
)

// runPrefix returns a random prefix that keeps this run's apps apart from
// other runs' in a shared database or server.
func runPrefix() string {
	b := make([]byte, 4)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

// apps makes app ids unique to the run.
type apps struct {
	prefix string
	n      atomic.Int64
}

func (a *apps) next() string { return fmt.Sprintf("ev%s-%d", a.prefix, a.n.Add(1)) }

// ev makes an event of app with id and a small payload naming it.
func ev(app, id string) events.Event {
	return events.Event{ID: id, App: app, Type: events.TypeMessage, Time: 1_700_000_000_000,
		Data: json.RawMessage(fmt.Sprintf(`{"id":%q,"text":"héllo 你好"}`, id))}
}

func evs(app, prefix string, n int) []events.Event {
	out := make([]events.Event, n)
	for i := range out {
		out[i] = ev(app, fmt.Sprintf("%s%d", prefix, i+1))
	}
	return out
}

// RunEventLogTests runs the EventLog contract suite against the logs open
// returns (one per subtest; closing is open's business). Every subtest
// works in apps of its own, so a shared log works.
func RunEventLogTests(t *testing.T, open func(t *testing.T) events.EventLog) {
	a := &apps{prefix: runPrefix()}
	t.Run("AppendThenRead", func(t *testing.T) {
		l, app := open(t), a.next()
		in := evs(app, "e", 5)
		in[2].Type, in[3].Type = events.TypeRead, events.TypePresence
		mustAppend(t, l, in)
		got := mustRead(t, l, app, 0, 0)
		want := withOffsets(in, 1)
		sameEvents(t, "Read(after 0)", got, want)
		if last, err := l.Last(t.Context(), app); err != nil || last != 5 {
			t.Errorf("Last: got %d, %v; want 5", last, err)
		}
	})
	t.Run("ReadAfterAndLimit", func(t *testing.T) {
		l, app := open(t), a.next()
		in := evs(app, "e", 6)
		mustAppend(t, l, in[:4])
		mustAppend(t, l, in[4:])
		want := withOffsets(in, 1)
		sameEvents(t, "Read(after 2, limit 2)", mustRead(t, l, app, 2, 2), want[2:4])
		sameEvents(t, "Read(after 4, limit 100)", mustRead(t, l, app, 4, 100), want[4:])
		sameEvents(t, "Read(after 6)", mustRead(t, l, app, 6, 10), nil)
		sameEvents(t, "Read(after 60)", mustRead(t, l, app, 60, 10), nil)
	})
	t.Run("IdempotentByID", func(t *testing.T) {
		l, app := open(t), a.next()
		in := evs(app, "e", 3)
		mustAppend(t, l, in)
		mustAppend(t, l, in) // the relay after a crash
		// A batch mixing old and new ids, with a repeat inside it.
		more := []events.Event{in[1], ev(app, "e4"), in[0], ev(app, "e5"), ev(app, "e4")}
		mustAppend(t, l, more)
		want := withOffsets(append(append([]events.Event{}, in...), ev(app, "e4"), ev(app, "e5")), 1)
		sameEvents(t, "after appending repeats", mustRead(t, l, app, 0, 0), want)
		if last, err := l.Last(t.Context(), app); err != nil || last != 5 {
			t.Errorf("Last: got %d, %v; want 5 (repeats take no offset)", last, err)
		}
	})
	t.Run("AppsAreSeparate", func(t *testing.T) {
		l, x, y := open(t), a.next(), a.next()
		// One batch over two apps; the same id in both is two events.
		batch := []events.Event{ev(x, "same"), ev(y, "same"), ev(y, "y2"), ev(x, "x2")}
		mustAppend(t, l, batch)
		sameEvents(t, "app x", mustRead(t, l, x, 0, 0), withOffsets([]events.Event{batch[0], batch[3]}, 1))
		sameEvents(t, "app y", mustRead(t, l, y, 0, 0), withOffsets([]events.Event{batch[1], batch[2]}, 1))
	})
	t.Run("EmptyApp", func(t *testing.T) {
		l, app := open(t), a.next()
		sameEvents(t, "an app without events", mustRead(t, l, app, 0, 10), nil)
		if last, err := l.Last(t.Context(), app); err != nil || last != 0 {
			t.Errorf("Last of an app without events: got %d, %v; want 0", last, err)
		}
		mustAppend(t, l, nil)
	})
	t.Run("InvalidAppendsNothing", func(t *testing.T) {
		l, app := open(t), a.next()
		for name, bad := range map[string]events.Event{
			"no id":      {App: app, Type: events.TypeRead, Data: json.RawMessage(`{}`)},
			"long id":    {ID: string(bytes.Repeat([]byte("x"), events.MaxIDLen+1)), App: app, Type: "read", Data: json.RawMessage(`{}`)},
			"no app":     {ID: "x", Type: events.TypeRead, Data: json.RawMessage(`{}`)},
			"bad app id": {ID: "x", App: "a b", Type: events.TypeRead, Data: json.RawMessage(`{}`)},
			"no type":    {ID: "x", App: app, Data: json.RawMessage(`{}`)},
		} {
			err := l.Append(t.Context(), []events.Event{ev(app, "ok"), bad})
			if parley.ErrorCode(err) != parley.EInvalid {
				t.Errorf("Append with %s: got %v, want EInvalid", name, err)
			}
		}
		sameEvents(t, "after invalid appends", mustRead(t, l, app, 0, 0), nil)
	})
	t.Run("LargeBatchesPageInOrder", func(t *testing.T) {
		l, app := open(t), a.next()
		in := evs(app, "e", events.MaxRead+300)
		mustAppend(t, l, in[:700])
		mustAppend(t, l, in[700:])
		want := withOffsets(in, 1)
		first := mustRead(t, l, app, 0, 0)
		sameEvents(t, "first page (limit 0 = MaxRead)", first, want[:events.MaxRead])
		sameEvents(t, "second page", mustRead(t, l, app, events.MaxRead, events.MaxRead+5), want[events.MaxRead:])
	})
}

func mustAppend(t *testing.T, l events.EventLog, evs []events.Event) {
	t.Helper()
	if err := l.Append(t.Context(), evs); err != nil {
		t.Fatalf("Append(%d events): got error %v, want nil", len(evs), err)
	}
}

func mustRead(t *testing.T, l events.EventLog, app string, after uint64, limit int) []events.Event {
	t.Helper()
	got, err := l.Read(t.Context(), app, after, limit)
	if err != nil {
		t.Fatalf("Read(%s, after %d, limit %d): got error %v, want nil", app, after, limit, err)
	}
	return got
}

// withOffsets returns copies of evs with offsets from first on.
func withOffsets(evs []events.Event, first uint64) []events.Event {
	out := make([]events.Event, len(evs))
	for i, e := range evs {
		e.Offset = first + uint64(i)
		out[i] = e
	}
	return out
}

// sameEvents compares events field by field, Data as JSON values.
func sameEvents(t *testing.T, what string, got, want []events.Event) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("%s: got %d events %s, want %d %s", what, len(got), ids(got), len(want), ids(want))
	}
	for i := range got {
		g, w := got[i], want[i]
		if g.ID != w.ID || g.Offset != w.Offset || g.App != w.App || g.Type != w.Type || g.Time != w.Time || !sameJSON(g.Data, w.Data) {
			t.Fatalf("%s: event %d: got %+v (data %s), want %+v (data %s)", what, i, g, g.Data, w, w.Data)
		}
	}
}

func sameJSON(a, b json.RawMessage) bool {
	var x, y any
	if json.Unmarshal(a, &x) != nil || json.Unmarshal(b, &y) != nil {
		return false
	}
	ja, _ := json.Marshal(x)
	jb, _ := json.Marshal(y)
	return bytes.Equal(ja, jb)
}

func ids(evs []events.Event) string {
	var b bytes.Buffer
	b.WriteByte('[')
	for i, e := range evs {
		if i > 0 {
			b.WriteByte(' ')
		}
		if i == 8 && len(evs) > 10 {
			fmt.Fprintf(&b, "... %d more", len(evs)-i)
			break
		}
		fmt.Fprintf(&b, "%d:%s", e.Offset, e.ID)
	}
	b.WriteByte(']')
	return b.String()
}

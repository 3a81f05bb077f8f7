package events_test

import (
	"encoding/json"
	"fmt"
	"path/filepath"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/parley-im/parley"
	"github.com/parley-im/parley/internal/events"
	"github.com/parley-im/parley/internal/sqlite"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

// fixture is a SQLite store with an app "app", users ann, bob and cat,
// and the direct conversation of ann and bob.
type fixture struct {
	t  *testing.T
	db *sqlite.DB
	n  int
}

const app = "app"

var annBob = parley.DirectConvID("ann", "bob")

func newFixture(t *testing.T) *fixture {
	t.Helper()
	db, err := sqlite.Open(t.Context(), filepath.Join(t.TempDir(), "parley.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = db.Close() })
	ctx := t.Context()
	if err := db.CreateApp(ctx, &parley.App{ID: app, Name: app, KeyHash: []byte("k"), TokenSecret: []byte("s"), CreatedAt: time.Now()}); err != nil {
		t.Fatal(err)
	}
	if err := db.UpsertUsers(ctx, app, []parley.User{{ID: "ann", Role: parley.RoleUser}, {ID: "bob", Role: parley.RoleUser}, {ID: "cat", Role: parley.RoleUser}}); err != nil {
		t.Fatal(err)
	}
	if err := db.EnsureConversations(ctx, []parley.Conversation{{AppID: app, ID: annBob, Kind: parley.ConvDirect, Members: []string{"ann", "bob"}}}); err != nil {
		t.Fatal(err)
	}
	return &fixture{t: t, db: db}
}

// send stores messages in ann and bob's conversation, one batch, and
// returns their ids.
func (f *fixture) send(from string, n int) []string {
	f.t.Helper()
	var ms []*parley.Message
	var ids []string
	for range n {
		f.n++
		id := fmt.Sprintf("01JAAAAAAAAAAAAAAAAAA%05d", f.n)
		ms = append(ms, &parley.Message{AppID: app, ConvID: annBob, ID: id, Sender: from, Kind: parley.KindText,
			Body: json.RawMessage(fmt.Sprintf(`{"text":"m%d"}`, f.n)), Time: int64(1_700_000_000_000 + f.n)})
		ids = append(ids, events.MessageEventID(id))
	}
	if _, err := f.db.Append(f.t.Context(), ms); err != nil {
		f.t.Fatal(err)
	}
	return ids
}

func (f *fixture) read(user string, seq uint64) string {
	f.t.Helper()
	if _, moved, err := f.db.MarkRead(f.t.Context(), app, annBob, user, seq); err != nil || !moved {
		f.t.Fatalf("MarkRead(%s, %d): moved %v, %v", user, seq, moved, err)
	}
	return events.ReadEventID(app, annBob, user, seq)
}

// logIDs reads the whole log of app and returns its ids, failing on an
// offset out of order.
func logIDs(t *testing.T, l events.EventLog) []string {
	t.Helper()
	var ids []string
	var after uint64
	for {
		evs, err := l.Read(t.Context(), app, after, 0)
		if err != nil {
			t.Fatal(err)
		}
		if len(evs) == 0 {
			return ids
		}
		for _, e := range evs {
			if e.Offset != after+1 {
				t.Fatalf("offset %d after %d", e.Offset, after)
			}
			after = e.Offset
			ids = append(ids, e.ID)
		}
	}
}

// drain runs relay steps until the outbox is empty.
func drain(t *testing.T, r *events.Relay) {
	t.Helper()
	for range 100 {
		n, err := r.Step(t.Context())
		if err != nil {
			t.Fatalf("Step: %v", err)
		}
		if n == 0 {
			return
		}
	}
	t.Fatal("the outbox did not drain")
}

func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

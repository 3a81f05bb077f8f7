package sqlite_test

import (
	"context"
	"path/filepath"
	"strconv"
	"testing"

	"github.com/parley-im/parley/internal/events"
	"github.com/parley-im/parley/internal/sqlite"
)

// BenchmarkEventLogAppend appends batches of 10 events of one app, the
// relay's step when one-to-one traffic commits small batches.
func BenchmarkEventLogAppend(b *testing.B) {
	db, err := sqlite.Open(context.Background(), filepath.Join(b.TempDir(), "events.db"))
	if err != nil {
		b.Fatal(err)
	}
	defer db.Close()
	l := db.EventLog()
	ctx := context.Background()
	n := 0
	b.ReportAllocs()
	for b.Loop() {
		evs := make([]events.Event, 10)
		for i := range evs {
			n++
			evs[i] = events.Event{App: "app", ID: "m-" + strconv.Itoa(n), Type: "message.created", Time: int64(n), Data: []byte(`{"seq":1}`)}
		}
		if err := l.Append(ctx, evs); err != nil {
			b.Fatal(err)
		}
	}
}

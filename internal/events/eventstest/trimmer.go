package eventstest

import (
	"fmt"
	"testing"

	"github.com/parley-im/parley/internal/events"
)

// RunTrimmerTests runs the Trimmer contract suite against the logs open
// returns (one per subtest, the EventLog and its Trimmer; closing is
// open's business). The subtests run one after another and may share a
// log, provided nothing else in it has times before 10^10 ms (April
// 1970): each subtest's events are older than the previous subtest's, so
// its trims never reach events of a later subtest, and the earlier
// subtests leave only their apps' newest events, which no trim deletes.
func RunTrimmerTests(t *testing.T, open func(t *testing.T) (events.EventLog, events.Trimmer)) {
	a := &apps{prefix: runPrefix()}
	// base is the time of each subtest's events, lower for each one.
	base := int64(9_000_000_000)
	next := func() int64 {
		base -= 100_000_000
		return base
	}
	t.Run("TrimsOldExceptEachAppsNewest", func(t *testing.T) {
		l, tr := open(t)
		b, x, y, z := next(), a.next(), a.next(), a.next()
		xs, ys := evsAt(x, "x", b, 1, 2, 3, 4, 5), evsAt(y, "y", b, 2, 3)
		zs := evsAt(z, "z", b, 1) // an app with one old event
		mustAppend(t, l, append(append(append([]events.Event{}, xs...), ys...), zs...))
		mustTrim(t, tr, b+4, 100, 4) // x1-x3 and y1; y2 and z1 are newest
		sameEvents(t, "app x after trimming before 4", mustRead(t, l, x, 0, 0), withOffsets(xs, 1)[3:])
		sameEvents(t, "app y after trimming before 4", mustRead(t, l, y, 0, 0), withOffsets(ys, 1)[1:])
		sameEvents(t, "app z after trimming before 4", mustRead(t, l, z, 0, 0), withOffsets(zs, 1))
		mustTrim(t, tr, b+100, 100, 1) // x4
		sameEvents(t, "app x after trimming everything", mustRead(t, l, x, 0, 0), withOffsets(xs, 1)[4:])
		sameEvents(t, "app y after trimming everything", mustRead(t, l, y, 0, 0), withOffsets(ys, 1)[1:])
		mustTrim(t, tr, b+100, 100, 0)
		for app, want := range map[string]uint64{x: 5, y: 2, z: 1} {
			if last, err := l.Last(t.Context(), app); err != nil || last != want {
				t.Errorf("Last(%s) after the trims: got %d, %v; want %d", app, last, err, want)
			}
		}
	})
	t.Run("LimitOldestFirstAndRepeat", func(t *testing.T) {
		l, tr := open(t)
		b, x, y := next(), a.next(), a.next()
		xs, ys := evsAt(x, "x", b, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10), evsAt(y, "y", b, 1, 2, 3, 4, 5)
		mustAppend(t, l, xs[:5])
		mustAppend(t, l, ys)
		mustAppend(t, l, xs[5:])
		// Oldest first across apps: x1 and y1 (time 1), then x2 or y2.
		mustTrim(t, tr, b+100, 3, 3)
		left := append(mustRead(t, l, x, 0, 0), mustRead(t, l, y, 0, 0)...)
		if len(left) != 12 {
			t.Fatalf("after a trim of 3 of 15 events: %d left %s, want 12", len(left), ids(left))
		}
		twos := 0
		for _, e := range left {
			if e.Time < b+2 {
				t.Fatalf("after a trim of 3: %s (time %d) is left, but 3 events were as old or older", e.ID, e.Time-b)
			}
			if e.Time == b+2 {
				twos++
			}
		}
		if twos != 1 {
			t.Fatalf("after a trim of 3: %d events of time 2 are left, want 1 (x1, y1 and one of x2, y2 trimmed)", twos)
		}
		total, calls := 3, 1
		for {
			n, err := tr.TrimBefore(t.Context(), b+100, 3)
			if err != nil {
				t.Fatalf("TrimBefore: got error %v, want nil", err)
			}
			if n > 3 {
				t.Fatalf("TrimBefore(limit 3): deleted %d", n)
			}
			total, calls = total+n, calls+1
			if n < 3 || calls > 10 {
				break
			}
		}
		if total != 13 || calls != 5 {
			t.Errorf("trimming 3 at a time until fewer: %d deleted in %d calls, want 13 in 5", total, calls)
		}
		sameEvents(t, "app x after trimming everything", mustRead(t, l, x, 0, 0), withOffsets(xs, 1)[9:])
		sameEvents(t, "app y after trimming everything", mustRead(t, l, y, 0, 0), withOffsets(ys, 1)[4:])
	})
	t.Run("ReadAfterADroppedOffset", func(t *testing.T) {
		l, tr := open(t)
		b, x := next(), a.next()
		xs := withOffsets(evsAt(x, "x", b, 1, 2, 3, 4, 5, 6), 1)
		mustAppend(t, l, xs)
		mustTrim(t, tr, b+4, 100, 3)
		sameEvents(t, "Read(after 0)", mustRead(t, l, x, 0, 0), xs[3:])
		sameEvents(t, "Read(after 2, limit 2)", mustRead(t, l, x, 2, 2), xs[3:5])
		sameEvents(t, "Read(after 3)", mustRead(t, l, x, 3, 0), xs[3:])
		sameEvents(t, "Read(after 4, limit 1)", mustRead(t, l, x, 4, 1), xs[4:5])
		if last, err := l.Last(t.Context(), x); err != nil || last != 6 {
			t.Errorf("Last after the trim: got %d, %v; want 6", last, err)
		}
	})
	t.Run("AppendContinuesAfterATrim", func(t *testing.T) {
		l, tr := open(t)
		b, x := next(), a.next()
		xs := evsAt(x, "x", b, 1, 2, 3, 4, 5)
		mustAppend(t, l, xs[:3])
		mustTrim(t, tr, b+100, 100, 2) // all but x3, the newest
		mustAppend(t, l, xs[3:])
		sameEvents(t, "after appending to a trimmed log", mustRead(t, l, x, 0, 0), withOffsets(xs, 1)[2:])
		if last, err := l.Last(t.Context(), x); err != nil || last != 5 {
			t.Errorf("Last: got %d, %v; want 5 (offsets go on, never reused)", last, err)
		}
		mustTrim(t, tr, b+100, 100, 2) // x3 and x4
		mustAppend(t, l, evsAt(x, "y", b, 6))
		got := mustRead(t, l, x, 0, 0)
		if len(got) != 2 || got[0].ID != "x5" || got[0].Offset != 5 || got[1].ID != "y6" || got[1].Offset != 6 {
			t.Errorf("after a second trim and an append: got %s, want [5:x5 6:y6]", ids(got))
		}
	})
}

// evsAt makes one event of app per time (base plus each of times), with
// ids prefix + the time.
func evsAt(app, prefix string, base int64, times ...int64) []events.Event {
	out := make([]events.Event, len(times))
	for i, ts := range times {
		out[i] = ev(app, fmt.Sprintf("%s%d", prefix, ts))
		out[i].Time = base + ts
	}
	return out
}

func mustTrim(t *testing.T, tr events.Trimmer, before int64, limit, want int) {
	t.Helper()
	n, err := tr.TrimBefore(t.Context(), before, limit)
	if err != nil || n != want {
		t.Fatalf("TrimBefore(limit %d): got %d, %v; want %d, nil", limit, n, err, want)
	}
}

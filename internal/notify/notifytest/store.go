// Package notifytest is the contract suite of notify.Store.
package notifytest

import (
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/parley-im/parley/internal/notify"
)

// RunStoreTests runs the notify.Store contract suite on the stores open
// returns (one per subtest; closing is open's business). Every subtest
// works in apps of its own, so a shared database works.
func RunStoreTests(t *testing.T, open func(t *testing.T) notify.Store) {
	b := make([]byte, 4)
	_, _ = rand.Read(b)
	prefix := hex.EncodeToString(b)
	n := 0
	app := func() string { n++; return fmt.Sprintf("app-%s-%d", prefix, n) }
	push := func(app, user, msg string, ts int64) notify.Push {
		return notify.Push{AppID: app, UserID: user, MsgID: msg, ConvID: "d:a:" + user, Seq: 7, Sender: "a",
			Kind: "text", Title: "Ann", Preview: "hello 你好", Time: ts}
	}
	t.Run("RecordReturnsOnlyNew", func(t *testing.T) {
		s, a, b := open(t), app(), app()
		first := []notify.Push{push(a, "u1", "m1", 1000), push(a, "u2", "m1", 1000), push(a, "u1", "m2", 1001)}
		got, err := s.RecordPushes(t.Context(), first)
		if err != nil || !cmp.Equal(got, first) {
			t.Fatalf("first record: got %+v, %v; want all of %+v", got, err, first)
		}
		again := []notify.Push{push(a, "u1", "m2", 1001), push(a, "u3", "m1", 1000), push(b, "u1", "m1", 1000), push(a, "u3", "m1", 1000)}
		got, err = s.RecordPushes(t.Context(), again)
		want := []notify.Push{again[1], again[2]}
		if err != nil || !cmp.Equal(got, want) {
			t.Fatalf("second record: got %+v, %v; want %+v (the repeat, in and across calls, left out; another app is another key)", got, err, want)
		}
		if got, err := s.RecordPushes(t.Context(), nil); err != nil || len(got) != 0 {
			t.Errorf("recording nothing: got %+v, %v", got, err)
		}
	})
	t.Run("PruneForgetsOld", func(t *testing.T) {
		s, a := open(t), app()
		if _, err := s.RecordPushes(t.Context(), []notify.Push{push(a, "u1", "old", 1000), push(a, "u1", "new", 5000)}); err != nil {
			t.Fatal(err)
		}
		n, err := s.PrunePushes(t.Context(), 2000)
		if err != nil || n < 1 {
			t.Fatalf("PrunePushes: got %d, %v; want at least the one old push", n, err)
		}
		got, err := s.RecordPushes(t.Context(), []notify.Push{push(a, "u1", "old", 1000), push(a, "u1", "new", 5000)})
		if err != nil || len(got) != 1 || got[0].MsgID != "old" {
			t.Fatalf("recording both again after the prune: got %+v, %v; want only the pruned one new", got, err)
		}
	})
}

package eventstest

import (
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/parley-im/parley"
	"github.com/parley-im/parley/internal/events"
)

// RunWebhookStoreTests runs the events.WebhookStore contract suite
// against the stores open returns (one per subtest; closing is open's
// business). Every subtest works in apps of its own, so a shared database
// works.
func RunWebhookStoreTests(t *testing.T, open func(t *testing.T) events.WebhookStore) {
	a := &apps{prefix: runPrefix()}
	t.Run("PutGetListDelete", func(t *testing.T) {
		s, app, other := open(t), a.next(), a.next()
		if _, err := s.Webhook(t.Context(), app); parley.ErrorCode(err) != parley.ENotFound {
			t.Fatalf("Webhook before any put: got %v, want ENotFound", err)
		}
		w := &events.Webhook{App: app, URL: "https://example.com/hook?x=1", Secret: "0123456789abcdef-秘密", Cursor: 7, UpdatedAt: 1_700_000_000_000}
		if err := s.PutWebhook(t.Context(), w); err != nil {
			t.Fatalf("PutWebhook: %v", err)
		}
		got, err := s.Webhook(t.Context(), app)
		if err != nil || !cmp.Equal(*got, *w) {
			t.Fatalf("Webhook: got %+v, %v; want %+v", got, err, w)
		}
		first := w.Version
		w2 := &events.Webhook{App: app, URL: "http://127.0.0.1:9/x", Secret: "another secret of 32 bytes......", Cursor: 3, UpdatedAt: 1_700_000_000_001}
		if err := s.PutWebhook(t.Context(), w2); err != nil {
			t.Fatalf("PutWebhook again: %v", err)
		}
		if w2.Version == first {
			t.Fatalf("a second put kept Version %d; want a new one", first)
		}
		o := &events.Webhook{App: other, URL: "https://other.example/", Secret: "0123456789abcdef"}
		if err := s.PutWebhook(t.Context(), o); err != nil {
			t.Fatal(err)
		}
		all, err := s.Webhooks(t.Context())
		if err != nil {
			t.Fatalf("Webhooks: %v", err)
		}
		var mine []events.Webhook
		for _, h := range all {
			if h.App == app || h.App == other {
				mine = append(mine, h)
			}
		}
		if want := []events.Webhook{*w2, *o}; !cmp.Equal(mine, want) {
			t.Fatalf("Webhooks (this test's): got %+v, want %+v", mine, want)
		}
		for i, want := range []bool{true, false} {
			if ok, err := s.DeleteWebhook(t.Context(), app); err != nil || ok != want {
				t.Fatalf("DeleteWebhook %d: got %v, %v; want %v", i, ok, err, want)
			}
		}
		if _, err := s.Webhook(t.Context(), app); parley.ErrorCode(err) != parley.ENotFound {
			t.Fatalf("Webhook after delete: got %v, want ENotFound", err)
		}
		if got, err := s.Webhook(t.Context(), other); err != nil || got.URL != o.URL {
			t.Fatalf("the other app's webhook after deleting the first: got %+v, %v", got, err)
		}
	})
	t.Run("AdvanceOnlyTheCurrentVersion", func(t *testing.T) {
		s, app := open(t), a.next()
		if ok, err := s.AdvanceWebhook(t.Context(), app, 1, 5, nil); err != nil || ok {
			t.Fatalf("AdvanceWebhook without a webhook: got %v, %v; want false", ok, err)
		}
		w := &events.Webhook{App: app, URL: "https://example.com/", Secret: "0123456789abcdef"}
		if err := s.PutWebhook(t.Context(), w); err != nil {
			t.Fatal(err)
		}
		if ok, err := s.AdvanceWebhook(t.Context(), app, w.Version, 5, nil); err != nil || !ok {
			t.Fatalf("AdvanceWebhook: got %v, %v; want true", ok, err)
		}
		old := w.Version
		w.Cursor = 2
		if err := s.PutWebhook(t.Context(), w); err != nil {
			t.Fatal(err)
		}
		dead := &events.DeadLetter{App: app, First: 6, Last: 9, Events: 4, Attempts: 8, Error: "answered 500", Time: 1}
		if ok, err := s.AdvanceWebhook(t.Context(), app, old, 9, dead); err != nil || ok {
			t.Fatalf("AdvanceWebhook with a replaced version: got %v, %v; want false", ok, err)
		}
		got, err := s.Webhook(t.Context(), app)
		if err != nil || got.Cursor != 2 {
			t.Fatalf("cursor after a stale advance: got %+v, %v; want 2 (the new put's)", got, err)
		}
		if ds, err := s.DeadLetters(t.Context(), app, 0, 0); err != nil || len(ds) != 0 {
			t.Fatalf("a stale advance recorded a dead letter: %+v, %v", ds, err)
		}
	})
	t.Run("DeadLetters", func(t *testing.T) {
		s, app, other := open(t), a.next(), a.next()
		var want []events.DeadLetter
		for _, x := range []string{app, other} {
			w := &events.Webhook{App: x, URL: "https://example.com/", Secret: "0123456789abcdef"}
			if err := s.PutWebhook(t.Context(), w); err != nil {
				t.Fatal(err)
			}
			for i := range uint64(3) {
				d := &events.DeadLetter{App: x, First: 1 + 10*i, Last: 10 + 10*i, Events: 10, Attempts: 8, Error: "dial tcp: refused ünïcode", Time: 1_700_000_000_000 + int64(i)}
				if ok, err := s.AdvanceWebhook(t.Context(), x, w.Version, d.Last, d); err != nil || !ok {
					t.Fatalf("AdvanceWebhook with a dead letter: got %v, %v", ok, err)
				}
				if d.ID == 0 {
					t.Fatalf("AdvanceWebhook left the dead letter's ID 0")
				}
				if x == app {
					want = append(want, *d)
				}
			}
		}
		strip := func(ds []events.DeadLetter) []events.DeadLetter {
			for i := range ds {
				ds[i].App = ""
			}
			return ds
		}
		for i := range want {
			want[i].App = ""
		}
		got, err := s.DeadLetters(t.Context(), app, 0, 0)
		if err != nil || !cmp.Equal(strip(got), want) {
			t.Fatalf("DeadLetters: got %+v, %v; want %+v", got, err, want)
		}
		if got[0].ID >= got[1].ID || got[1].ID >= got[2].ID {
			t.Fatalf("dead letters not in ascending ID order: %+v", got)
		}
		page, err := s.DeadLetters(t.Context(), app, got[0].ID, 1)
		if err != nil || len(page) != 1 || page[0].ID != got[1].ID {
			t.Fatalf("DeadLetters(after the first, limit 1): got %+v, %v; want the second", page, err)
		}
		if _, err := s.DeleteWebhook(t.Context(), app); err != nil {
			t.Fatal(err)
		}
		if kept, err := s.DeadLetters(t.Context(), app, 0, 0); err != nil || len(kept) != 3 {
			t.Fatalf("dead letters after the webhook's deletion: got %d, %v; want 3 kept", len(kept), err)
		}
	})
}

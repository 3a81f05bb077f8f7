package events_test

import (
	"slices"
	"testing"
	"time"

	"github.com/parley-im/parley"
	"github.com/parley-im/parley/internal/events"
)

func newService(t *testing.T, fx *fixture) *events.Service {
	t.Helper()
	s := events.New(fx.db, fx.db.EventLog(), fx.db, events.Config{
		Relay:   events.RelayConfig{Interval: 10 * time.Millisecond},
		Webhook: events.WebhookConfig{Poll: 20 * time.Millisecond, AllowPrivate: true},
	})
	t.Cleanup(s.Close)
	return s
}

// TestServiceReadWaits: Read answers at once with what the log holds,
// waits for the next commit when it holds nothing after the offset, gives
// up after the wait, and refuses an offset past the end.
func TestServiceReadWaits(t *testing.T) {
	fx := newFixture(t)
	s := newService(t, fx)
	want := fx.send("ann", 2)
	var p events.Page
	waitFor(t, "two events", func() bool {
		var err error
		p, err = s.Read(t.Context(), app, 0, 10, 0)
		return err == nil && len(p.Events) == 2
	})
	if p.Next != 2 || p.More || p.Events[0].ID != want[0] {
		t.Fatalf("Read(0): got %+v", p)
	}
	if p, err := s.Read(t.Context(), app, 0, 1, 0); err != nil || p.Next != 1 || !p.More {
		t.Fatalf("Read(0, limit 1): got %+v, %v; want offset 1 and more", p, err)
	}
	start := time.Now()
	done := make(chan events.Page, 1)
	go func() {
		p, err := s.Read(t.Context(), app, 2, 10, 20*time.Second)
		if err != nil {
			t.Error(err)
		}
		done <- p
	}()
	time.Sleep(50 * time.Millisecond)
	third := fx.send("bob", 1)
	select {
	case p := <-done:
		if len(p.Events) != 1 || p.Events[0].ID != third[0] || p.Next != 3 || time.Since(start) > 5*time.Second {
			t.Fatalf("waiting Read: got %+v after %v", p, time.Since(start))
		}
	case <-time.After(10 * time.Second):
		t.Fatal("a waiting Read did not wake on a commit")
	}
	start = time.Now()
	p, err := s.Read(t.Context(), app, 3, 10, 300*time.Millisecond)
	if err != nil || len(p.Events) != 0 || p.Next != 3 || time.Since(start) < 250*time.Millisecond {
		t.Fatalf("Read with nothing new: got %+v, %v after %v; want empty after the wait", p, err, time.Since(start))
	}
	if _, err := s.Read(t.Context(), app, 9, 10, 0); parley.ErrorCode(err) != parley.EInvalid {
		t.Fatalf("Read past the end: got %v, want EInvalid", err)
	}
	go func() {
		time.Sleep(50 * time.Millisecond)
		s.Drain() // the node is stopping
	}()
	start = time.Now()
	if p, err := s.Read(t.Context(), app, 3, 10, 20*time.Second); err != nil || len(p.Events) != 0 || time.Since(start) > 5*time.Second {
		t.Fatalf("a waiting Read when the service drains: got %+v, %v after %v; want an empty page at once", p, err, time.Since(start))
	}
}

// TestServiceWebhookLifecycle: a new webhook starts at the log's end; a
// replacement with after 0 redelivers everything to the new URL; a
// deleted one gets nothing more.
func TestServiceWebhookLifecycle(t *testing.T) {
	fx := newFixture(t)
	s := newService(t, fx)
	old := fx.send("ann", 2)
	waitFor(t, "two events", func() bool { p, _ := s.Read(t.Context(), app, 0, 10, 0); return len(p.Events) == 2 })
	a, b := newReceiver(t), newReceiver(t)
	w, err := s.PutWebhook(t.Context(), app, a.srv.URL, secret, nil)
	if err != nil || w.Cursor != 2 {
		t.Fatalf("PutWebhook: got %+v, %v; want the cursor at the end (2)", w, err)
	}
	if _, err := s.PutWebhook(t.Context(), app, "mailto:x", secret, nil); parley.ErrorCode(err) != parley.EInvalid {
		t.Fatalf("PutWebhook with a bad URL: got %v", err)
	}
	if _, err := s.PutWebhook(t.Context(), app, a.srv.URL, secret, ptr(3)); parley.ErrorCode(err) != parley.EInvalid {
		t.Fatalf("PutWebhook after the end: got %v", err)
	}
	next := fx.send("bob", 1)
	waitFor(t, "the new event at a", func() bool { ids, _, _, _ := a.got(); return len(ids) == 1 })
	if ids, _, _, _ := a.got(); ids[0] != next[0] {
		t.Fatalf("a got %q, want only %q", ids, next)
	}
	w, err = s.PutWebhook(t.Context(), app, b.srv.URL, secret, ptr(0))
	if err != nil || w.Cursor != 0 {
		t.Fatalf("PutWebhook replacing it from 0: %+v, %v", w, err)
	}
	waitFor(t, "everything at b", func() bool { ids, _, _, _ := b.got(); return len(ids) == 3 })
	if ids, _, _, _ := b.got(); !slices.Equal(ids, append(old, next...)) {
		t.Fatalf("b got %q", ids)
	}
	got, err := s.Webhook(t.Context(), app)
	if err != nil || got.URL != b.srv.URL {
		t.Fatalf("Webhook: %+v, %v", got, err)
	}
	if err := s.DeleteWebhook(t.Context(), app); err != nil {
		t.Fatal(err)
	}
	if err := s.DeleteWebhook(t.Context(), app); parley.ErrorCode(err) != parley.ENotFound {
		t.Fatalf("deleting again: got %v, want ENotFound", err)
	}
	fx.send("ann", 1)
	waitFor(t, "the log at 4", func() bool { p, _ := s.Read(t.Context(), app, 3, 10, 0); return len(p.Events) == 1 })
	time.Sleep(100 * time.Millisecond)
	if ids, _, _, _ := b.got(); len(ids) != 3 {
		t.Fatalf("a deleted webhook still got events: %q", ids)
	}
}

func ptr(n uint64) *uint64 { return &n }

// TestServiceSetWebhooks: delivery off on this node delivers nothing;
// turned on, it delivers from the stored cursor; off and on again, it
// goes on where it stopped.
func TestServiceSetWebhooks(t *testing.T) {
	fx := newFixture(t)
	s := newService(t, fx)
	s.SetWebhooks(false)
	rc := newReceiver(t)
	if _, err := s.PutWebhook(t.Context(), app, rc.srv.URL, secret, ptr(0)); err != nil {
		t.Fatal(err)
	}
	first := fx.send("ann", 2)
	waitFor(t, "two events", func() bool { p, _ := s.Read(t.Context(), app, 0, 10, 0); return len(p.Events) == 2 })
	time.Sleep(100 * time.Millisecond)
	if ids, _, _, _ := rc.got(); len(ids) != 0 {
		t.Fatalf("delivery off: got %q", ids)
	}
	s.SetWebhooks(true)
	waitFor(t, "both delivered", func() bool { ids, _, _, _ := rc.got(); return len(ids) == 2 })
	// The receiver has the batch before the deliverer has its 2xx: turned
	// off in between, the batch would go again (at least once). Wait for
	// the cursor, which is what "where it stopped" means.
	waitFor(t, "the cursor at 2", func() bool { w, err := s.Webhook(t.Context(), app); return err == nil && w.Cursor == 2 })
	s.SetWebhooks(false)
	second := fx.send("bob", 1)
	waitFor(t, "three events", func() bool { p, _ := s.Read(t.Context(), app, 0, 10, 0); return len(p.Events) == 3 })
	s.SetWebhooks(true)
	s.SetWebhooks(true) // already on: nothing changes
	waitFor(t, "the third delivered", func() bool { ids, _, _, _ := rc.got(); return len(ids) == 3 })
	time.Sleep(100 * time.Millisecond)
	if ids, _, _, _ := rc.got(); !slices.Equal(ids, append(first, second...)) {
		t.Fatalf("delivered %q, want each event once in order", ids)
	}
}

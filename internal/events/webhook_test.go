package events_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/parley-im/parley"
	"github.com/parley-im/parley/internal/events"
)

const secret = "a-secret-of-32-bytes-for-tests!!"

// receiver is a webhook endpoint that checks signatures and records the
// event ids it accepted; while failing it answers 500.
type receiver struct {
	t   *testing.T
	srv *httptest.Server

	mu      sync.Mutex
	failing bool
	ids     []string
	batches []int
	posts   int
	badSig  int
}

func newReceiver(t *testing.T) *receiver {
	rc := &receiver{t: t}
	rc.srv = httptest.NewServer(http.HandlerFunc(rc.serve))
	t.Cleanup(rc.srv.Close)
	return rc
}

func (rc *receiver) serve(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	rc.mu.Lock()
	defer rc.mu.Unlock()
	rc.posts++
	if err := events.VerifySignature(secret, r.Header.Get(events.SignatureHeader), body, time.Now(), time.Minute); err != nil {
		rc.badSig++
		w.WriteHeader(http.StatusUnauthorized)
		return
	}
	if rc.failing {
		w.WriteHeader(http.StatusInternalServerError)
		return
	}
	var b events.WebhookBody
	if err := json.Unmarshal(body, &b); err != nil || b.App != app || r.Header.Get("Content-Type") != "application/json" {
		w.WriteHeader(http.StatusBadRequest)
		return
	}
	for _, e := range b.Events {
		rc.ids = append(rc.ids, e.ID)
	}
	rc.batches = append(rc.batches, len(b.Events))
	w.WriteHeader(http.StatusNoContent)
}

func (rc *receiver) got() (ids []string, batches []int, posts, badSig int) {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	return slices.Clone(rc.ids), slices.Clone(rc.batches), rc.posts, rc.badSig
}

func (rc *receiver) setFailing(f bool) {
	rc.mu.Lock()
	rc.failing = f
	rc.mu.Unlock()
}

// appendEvents appends n read-type events with ids prefix1..prefixN.
func appendEvents(t *testing.T, l events.EventLog, prefix string, n int) []string {
	t.Helper()
	var evs []events.Event
	var ids []string
	for i := range n {
		id := fmt.Sprintf("%s%d", prefix, i+1)
		evs = append(evs, events.Event{ID: id, App: app, Type: events.TypeRead, Time: 1, Data: json.RawMessage(`{}`)})
		ids = append(ids, id)
	}
	if err := l.Append(t.Context(), evs); err != nil {
		t.Fatal(err)
	}
	return ids
}

// sleeps records the waits between attempts and waits for none.
type sleeps struct {
	mu sync.Mutex
	d  []time.Duration
}

func (s *sleeps) sleep(ctx context.Context, d time.Duration) error {
	s.mu.Lock()
	s.d = append(s.d, d)
	s.mu.Unlock()
	return ctx.Err()
}

func (s *sleeps) get() []time.Duration {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.d)
}

// TestWebhookDeliversEveryEventOnceInOrder: a healthy endpoint gets every
// event once, in log order, in signed batches of at most 100, including
// events appended while delivery runs; the cursor follows.
func TestWebhookDeliversEveryEventOnceInOrder(t *testing.T) {
	fx := newFixture(t)
	l := fx.db.EventLog()
	rc := newReceiver(t)
	want := appendEvents(t, l, "a", 250)
	w := &events.Webhook{App: app, URL: rc.srv.URL + "/hook", Secret: secret}
	if err := fx.db.PutWebhook(t.Context(), w); err != nil {
		t.Fatal(err)
	}
	wh := events.NewWebhooks(fx.db, l, events.WebhookConfig{Poll: 20 * time.Millisecond, AllowPrivate: true})
	wh.Start()
	defer wh.Close()
	want = append(want, appendEvents(t, l, "b", 30)...)
	waitFor(t, "280 events delivered", func() bool { ids, _, _, _ := rc.got(); return len(ids) >= 280 })
	time.Sleep(100 * time.Millisecond) // nothing more may come
	ids, batches, _, badSig := rc.got()
	if !slices.Equal(ids, want) || badSig != 0 {
		t.Fatalf("delivered %d ids (%d bad signatures), want the 280 in order once:\n got %q", len(ids), badSig, ids)
	}
	for _, n := range batches {
		if n > events.MaxWebhookBatch {
			t.Fatalf("a batch of %d events; want at most %d", n, events.MaxWebhookBatch)
		}
	}
	waitFor(t, "the cursor at 280", func() bool {
		h, err := fx.db.Webhook(t.Context(), app)
		return err == nil && h.Cursor == 280
	})
}

// TestWebhookRetriesThenDeadLetters: a failing endpoint is retried with
// jittered, doubling waits; after the last attempt the batch is
// dead-lettered and delivery goes on with the next events.
func TestWebhookRetriesThenDeadLetters(t *testing.T) {
	fx := newFixture(t)
	l := fx.db.EventLog()
	rc := newReceiver(t)
	rc.setFailing(true)
	appendEvents(t, l, "a", 5)
	if err := fx.db.PutWebhook(t.Context(), &events.Webhook{App: app, URL: rc.srv.URL, Secret: secret}); err != nil {
		t.Fatal(err)
	}
	var sl sleeps
	wh := events.NewWebhooks(fx.db, l, events.WebhookConfig{Poll: 20 * time.Millisecond, MaxAttempts: 5, Sleep: sl.sleep, AllowPrivate: true})
	wh.Start()
	defer wh.Close()
	d := oneDeadLetter(t, fx, app)
	if d.First != 1 || d.Last != 5 || d.Events != 5 || d.Attempts != 5 || !strings.Contains(d.Error, "500") {
		t.Fatalf("dead letter: got %+v, want events 1-5 after 5 attempts, error naming the 500", d)
	}
	got := sl.get()
	if len(got) != 4 {
		t.Fatalf("waits between 5 attempts: got %v, want 4", got)
	}
	for i, d := range got {
		base := time.Second << i // 1s, 2s, 4s, 8s
		if d < base/2 || d > base {
			t.Errorf("wait %d: got %v, want %v-%v (%v jittered)", i+1, d, base/2, base, base)
		}
	}
	_, _, posts, _ := rc.got()
	if posts != 5 {
		t.Errorf("POSTs: got %d, want 5", posts)
	}
	rc.setFailing(false)
	want := appendEvents(t, l, "b", 3)
	waitFor(t, "the next events", func() bool { ids, _, _, _ := rc.got(); return len(ids) >= 3 })
	if ids, _, _, _ := rc.got(); !slices.Equal(ids, want) {
		t.Fatalf("after the dead letter: got %q, want %q", ids, want)
	}
}

// TestWebhookBackoffCapped: the wait doubles from MinBackoff and stops at
// MaxBackoff (1s to 5m by default).
func TestWebhookBackoffCapped(t *testing.T) {
	c := events.WebhookConfig{MinBackoff: time.Second, MaxBackoff: 5 * time.Minute}
	var got []time.Duration
	for n := 1; n <= 11; n++ {
		got = append(got, c.Backoff(n))
	}
	want := []time.Duration{1, 2, 4, 8, 16, 32, 64, 128, 256, 300, 300}
	for i := range want {
		want[i] *= time.Second
	}
	if !slices.Equal(got, want) {
		t.Fatalf("Backoff(1..11): got %v, want %v", got, want)
	}
}

func TestSignature(t *testing.T) {
	body := []byte(`{"app":"app","events":[]}`)
	now := time.Unix(1_800_000_000, 0)
	h := events.Sign(secret, now.Unix(), body)
	if !strings.HasPrefix(h, "t=1800000000,v1=") || len(h) != len("t=1800000000,v1=")+64 {
		t.Fatalf("Sign: got %q, want t=<unix>,v1=<64 hex digits>", h)
	}
	if err := events.VerifySignature(secret, h, body, now.Add(20*time.Second), time.Minute); err != nil {
		t.Fatalf("Verify of a good signature: %v", err)
	}
	for name, tc := range map[string]struct {
		secret, header string
		body           []byte
		now            time.Time
	}{
		"another body":   {secret, h, []byte(`{"app":"app","events":[1]}`), now},
		"another secret": {secret + "x", h, body, now},
		"too old":        {secret, h, body, now.Add(2 * time.Minute)},
		"no v1":          {secret, "t=1800000000", body, now},
		"bad hex":        {secret, "t=1800000000,v1=zz", body, now},
		"no t":           {secret, strings.SplitN(h, ",", 2)[1], body, now},
	} {
		if err := events.VerifySignature(tc.secret, tc.header, tc.body, tc.now, time.Minute); err == nil {
			t.Errorf("%s: Verify passed, want an error", name)
		}
	}
}

func TestWebhookValidate(t *testing.T) {
	long := "https://example.com/" + strings.Repeat("a", events.MaxWebhookURLLen)
	for _, tc := range []struct {
		name, url, secret, code string
	}{
		{"ok", "https://example.com/hook?x=1", secret, ""},
		{"http ok", "http://10.0.0.1:8080/h", strings.Repeat("s", 16), ""},
		{"longest secret", "http://h/", strings.Repeat("s", 256), ""},
		{"ftp", "ftp://example.com/", secret, parley.EInvalid},
		{"relative", "/hook", secret, parley.EInvalid},
		{"no host", "https:///x", secret, parley.EInvalid},
		{"fragment", "https://example.com/#x", secret, parley.EInvalid},
		{"bad url", "https://exa mple.com/%zz", secret, parley.EInvalid},
		{"url too long", long, secret, parley.ETooLarge},
		{"short secret", "https://example.com/", strings.Repeat("s", 15), parley.EInvalid},
		{"long secret", "https://example.com/", strings.Repeat("s", 257), parley.ETooLarge},
	} {
		w := events.Webhook{URL: tc.url, Secret: tc.secret}
		if got := parley.ErrorCode(w.Validate()); got != tc.code {
			t.Errorf("%s: got %q, want %q", tc.name, got, tc.code)
		}
	}
}

// TestWebhookPublicOnly: without AllowPrivate a webhook cannot make the
// node POST into its own network. PutWebhook refuses a private address or
// localhost; a stored URL whose host is private (here the test receiver on
// 127.0.0.1) is never connected to, and its batch is dead-lettered with
// the reason.
func TestWebhookPublicOnly(t *testing.T) {
	fx := newFixture(t)
	l := fx.db.EventLog()
	s := events.New(fx.db, l, fx.db, events.Config{NoWebhooks: true})
	t.Cleanup(s.Close)
	for _, u := range []string{"http://127.0.0.1:8080/hook", "http://localhost/hook", "https://api.localhost./x",
		"http://169.254.169.254/latest/meta-data", "http://10.1.2.3/", "http://[::1]:9/", "http://[fd00::1]/",
		"http://100.100.100.200/", "http://0.0.0.0/"} {
		if _, err := s.PutWebhook(t.Context(), app, u, secret, nil); parley.ErrorCode(err) != parley.EInvalid {
			t.Errorf("PutWebhook(%s): got %v, want invalid", u, err)
		}
	}
	if _, err := s.PutWebhook(t.Context(), app, "https://hooks.example.com/parley", secret, nil); err != nil {
		t.Fatalf("PutWebhook of a public name: %v", err)
	}

	rc := newReceiver(t)
	appendEvents(t, l, "a", 2)
	if err := fx.db.PutWebhook(t.Context(), &events.Webhook{App: app, URL: rc.srv.URL, Secret: secret}); err != nil {
		t.Fatal(err)
	}
	var sl sleeps
	wh := events.NewWebhooks(fx.db, l, events.WebhookConfig{Poll: 20 * time.Millisecond, MaxAttempts: 2, Sleep: sl.sleep})
	wh.Start()
	defer wh.Close()
	if d := oneDeadLetter(t, fx, app); !strings.Contains(d.Error, "not public") {
		t.Fatalf("dead letter: got %+v, want the refused address as the reason", d)
	}
	if _, _, posts, _ := rc.got(); posts != 0 {
		t.Fatalf("the private receiver got %d POSTs, want none", posts)
	}
}

// oneDeadLetter waits until app has exactly one dead letter and returns it.
func oneDeadLetter(t *testing.T, fx *fixture, app string) events.DeadLetter {
	t.Helper()
	var dead []events.DeadLetter
	waitFor(t, "a dead letter", func() bool {
		var err error
		dead, err = fx.db.DeadLetters(t.Context(), app, 0, 0)
		return err == nil && len(dead) == 1
	})
	return dead[0]
}

package social_test

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"go.uber.org/goleak"

	"github.com/parley-im/parley"
	"github.com/parley-im/parley/internal/inmem"
	"github.com/parley-im/parley/internal/social"
	"github.com/parley-im/parley/wire"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

// fakeStore answers Interested from a fixed map and counts the calls.
type fakeStore struct {
	social.Store // the other methods are not used here
	mu           sync.Mutex
	interested   map[string][]string
	calls        int
}

func (f *fakeStore) Interested(_ context.Context, _, user string, _ parley.Interest, limit int) ([]string, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.calls++
	who := f.interested[user]
	return who[:min(limit, len(who))], nil
}

// recorder is a Pusher that keeps every delivery.
type recorder struct {
	mu sync.Mutex
	ds []parley.Delivery
	ch chan parley.Delivery
}

func (r *recorder) Push(_ context.Context, ds []parley.Delivery) error {
	r.mu.Lock()
	r.ds = append(r.ds, ds...)
	r.mu.Unlock()
	for _, d := range ds {
		r.ch <- d
	}
	return nil
}

type env struct {
	t    *testing.T
	reg  parley.Registry // the tracking registry
	push *recorder
	st   *fakeStore
	n    int
}

const debounce = 150 * time.Millisecond

func newEnv(t *testing.T) *env {
	st := &fakeStore{interested: map[string][]string{"alice": {"bob", "carol"}}}
	push := &recorder{ch: make(chan parley.Delivery, 64)}
	s := social.New(st, push, inmem.NewRegistry(), social.Config{Node: "n1", Debounce: debounce, Tick: 10 * time.Millisecond})
	t.Cleanup(s.Close)
	return &env{t: t, reg: s.Registry(), push: push, st: st}
}

func (e *env) connect(user string, p parley.Platform) string {
	e.t.Helper()
	e.n++
	id := fmt.Sprint("c", e.n)
	if err := e.reg.Register(e.t.Context(), parley.ConnInfo{AppID: "app", UserID: user, ConnID: id, Node: "n1", Platform: p}); err != nil {
		e.t.Fatal(err)
	}
	return id
}

func (e *env) disconnect(user, conn string) {
	e.t.Helper()
	if err := e.reg.Unregister(e.t.Context(), "app", user, conn); err != nil {
		e.t.Fatal(err)
	}
}

// want waits for the next presence push and checks it.
func (e *env) want(want string) {
	e.t.Helper()
	select {
	case d := <-e.push.ch:
		var p parley.Presence
		if err := json.Unmarshal(d.Payload, &p); err != nil {
			e.t.Fatal(err)
		}
		got := fmt.Sprint(d.Kind, " ", d.Users, " ", p.User, " ", p.Online, " ", p.Platforms)
		if got != want {
			e.t.Fatalf("got push %q, want %q", got, want)
		}
	case <-time.After(5 * time.Second):
		e.t.Fatalf("no push, want %q", want)
	}
}

// none fails if a push comes within three debounces.
func (e *env) none() {
	e.t.Helper()
	select {
	case d := <-e.push.ch:
		e.t.Fatalf("got push %s, want none", d.Payload)
	case <-time.After(3 * debounce):
	}
}

func TestPresenceTracker(t *testing.T) {
	t.Run("OnlineAtOnceOfflineDebounced", func(t *testing.T) {
		e := newEnv(t)
		c := e.connect("alice", parley.PlatformIOS)
		e.want("frame [bob carol] alice true [ios]")
		start := time.Now()
		e.disconnect("alice", c)
		e.want("frame [bob carol] alice false []")
		if waited := time.Since(start); waited < debounce {
			t.Errorf("offline told after %v, want at least %v", waited, debounce)
		}
	})
	t.Run("FlappingTellsNothing", func(t *testing.T) {
		e := newEnv(t)
		c := e.connect("alice", parley.PlatformWeb)
		e.want("frame [bob carol] alice true [web]")
		for range 5 {
			e.disconnect("alice", c)
			c = e.connect("alice", parley.PlatformWeb)
		}
		e.none()
	})
	t.Run("PlatformSet", func(t *testing.T) {
		e := newEnv(t)
		web := e.connect("alice", parley.PlatformWeb)
		e.want("frame [bob carol] alice true [web]")
		e.connect("alice", parley.PlatformAndroid)
		e.want("frame [bob carol] alice true [android web]")
		e.connect("alice", parley.PlatformWeb) // a platform already told
		e.disconnect("alice", web)             // web still has a device
		e.none()
	})
	t.Run("PlatformGoneTold", func(t *testing.T) {
		e := newEnv(t)
		web := e.connect("alice", parley.PlatformWeb)
		e.want("frame [bob carol] alice true [web]")
		e.connect("alice", parley.PlatformPC)
		e.want("frame [bob carol] alice true [pc web]")
		e.disconnect("alice", web)
		e.want("frame [bob carol] alice true [pc]")
	})
	t.Run("NobodyCaresNoPush", func(t *testing.T) {
		e := newEnv(t)
		c := e.connect("zed", parley.PlatformWeb)
		e.disconnect("zed", c)
		e.none()
		e.st.mu.Lock()
		calls := e.st.calls
		e.st.mu.Unlock()
		if calls != 2 {
			t.Errorf("store calls: got %d, want 2 (one per change: online, offline)", calls)
		}
	})
}

func TestPresenceQueries(t *testing.T) {
	e := newEnv(t)
	// A Service of its own over the same kind of registry, to query.
	reg := inmem.NewRegistry()
	s := social.New(e.st, e.push, reg, social.Config{})
	defer s.Close()
	for i, c := range []parley.ConnInfo{
		{UserID: "alice", Platform: parley.PlatformWeb}, {UserID: "alice", Platform: parley.PlatformIOS},
		{UserID: "alice", Platform: parley.PlatformWeb}, {UserID: "bob", Platform: parley.PlatformH5},
	} {
		c.AppID, c.ConnID, c.Node = "app", fmt.Sprint(i), "n1"
		if err := reg.Register(t.Context(), c); err != nil {
			t.Fatal(err)
		}
	}
	res, err := s.Presence(t.Context(), "app", []string{"carol", "alice", "bob", "alice"})
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, p := range res.Users {
		got = append(got, fmt.Sprintf("%s %v %v", p.User, p.Online, p.Platforms))
	}
	if want := []string{"carol false []", "alice true [ios web]", "bob true [h5]"}; !slices.Equal(got, want) {
		t.Errorf("Presence: got %q, want %q", got, want)
	}
	for _, c := range []struct {
		users []string
		code  string
	}{
		{nil, parley.EInvalid},
		{[]string{"a b"}, parley.EInvalid},
		{make([]string, parley.MaxPresenceList+1), parley.ETooLarge},
	} {
		if _, err := s.Presence(t.Context(), "app", c.users); parley.ErrorCode(err) != c.code {
			t.Errorf("Presence(%d users): got %v, want %s", len(c.users), err, c.code)
		}
	}
	if _, err := s.PresenceOf(t.Context(), "app", "bob", make([]string, wire.MaxPresencePerFrame+1)); parley.ErrorCode(err) != parley.ETooLarge {
		t.Errorf("PresenceOf of too many: got %v, want too_large", err)
	}
}

func TestMetrics(t *testing.T) {
	reg := prometheus.NewRegistry()
	m, err := social.NewMetrics(reg)
	if err != nil {
		t.Fatal(err)
	}
	st := &fakeStore{interested: map[string][]string{"alice": {"bob", "carol"}}}
	push := &recorder{ch: make(chan parley.Delivery, 64)}
	s := social.New(st, push, inmem.NewRegistry(), social.Config{Debounce: debounce, Tick: 10 * time.Millisecond, Metrics: m})
	defer s.Close()
	e := &env{t: t, reg: s.Registry(), push: push, st: st}
	c := e.connect("alice", parley.PlatformWeb)
	e.want("frame [bob carol] alice true [web]")
	e.disconnect("alice", c)
	e.want("frame [bob carol] alice false []")
	for name, want := range map[string]float64{
		`parley_presence_changes_total{state="online"}`:   1,
		`parley_presence_changes_total{state="offline"}`:  1,
		`parley_social_recipients_total{kind="presence"}`: 4,
		`parley_presence_dropped_total`:                   0,
	} {
		got := gathered(t, reg, name)
		if got != want {
			t.Errorf("%s: got %v, want %v", name, got, want)
		}
	}
	if _, err := social.NewMetrics(reg); err == nil {
		t.Error("NewMetrics twice on one registry: got nil error, want a conflict")
	}
}

// gathered returns the value of one counter series, written as in the
// exposition format (name{label="value"}).
func gathered(t *testing.T, reg *prometheus.Registry, series string) float64 {
	t.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		for _, m := range mf.GetMetric() {
			name := mf.GetName()
			if len(m.GetLabel()) > 0 {
				l := m.GetLabel()[0]
				name += fmt.Sprintf("{%s=%q}", l.GetName(), l.GetValue())
			}
			if name == series {
				return m.GetCounter().GetValue()
			}
		}
	}
	t.Fatalf("no series %s", series)
	return 0
}

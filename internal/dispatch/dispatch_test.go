package dispatch_test

import (
	"bytes"
	"context"
	"io"
	"log/slog"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"go.uber.org/goleak"

	"github.com/parley-im/parley"
	"github.com/parley-im/parley/internal/dispatch"
	"github.com/parley-im/parley/internal/inmem"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

type recorder struct {
	mu      sync.Mutex
	batches [][]parley.Delivery
}

func (r *recorder) Deliver(ds []parley.Delivery) {
	r.mu.Lock()
	r.batches = append(r.batches, ds)
	r.mu.Unlock()
}

func (r *recorder) get() [][]parley.Delivery {
	r.mu.Lock()
	defer r.mu.Unlock()
	return slices.Clone(r.batches)
}

// users returns who a node received deliveries of kind for.
func users(batches [][]parley.Delivery) map[string][]string {
	out := map[string][]string{}
	for _, b := range batches {
		for _, d := range b {
			out[string(d.Payload)] = append(out[string(d.Payload)], d.Users...)
		}
	}
	for k := range out {
		slices.Sort(out[k])
	}
	return out
}

// registryViews runs a test against the in-memory registry as it is (the
// dispatcher asks it for nodes only: LocateNodes) and as a registry that
// only has Locate (as redisreg), so that both of route's paths are held to
// the same results.
func registryViews(t *testing.T, test func(t *testing.T, reg *inmem.Registry, view parley.Registry)) {
	t.Run("nodes", func(t *testing.T) {
		reg := inmem.NewRegistry()
		test(t, reg, reg)
	})
	t.Run("rows", func(t *testing.T) {
		reg := inmem.NewRegistry()
		test(t, reg, rowsOnly{reg})
	})
}

// rowsOnly hides every method of a registry but parley.Registry's.
type rowsOnly struct{ parley.Registry }

func TestPushRoutesOneBatchPerNode(t *testing.T) { registryViews(t, testPushRoutesOneBatchPerNode) }

func testPushRoutesOneBatchPerNode(t *testing.T, reg *inmem.Registry, view parley.Registry) {
	ctx := context.Background()
	bus := inmem.NewBus(0)
	defer bus.Close()
	var local, remote recorder
	stop, err := bus.Listen("b", remote.Deliver)
	if err != nil {
		t.Fatal(err)
	}
	defer stop()
	for _, c := range []parley.ConnInfo{
		{AppID: "app", UserID: "ann", ConnID: "1", Node: "a"},
		{AppID: "app", UserID: "ben", ConnID: "2", Node: "b"},
		{AppID: "app", UserID: "cat", ConnID: "3", Node: "a"},
		{AppID: "app", UserID: "cat", ConnID: "4", Node: "b"},   // on both nodes
		{AppID: "other", UserID: "ann", ConnID: "5", Node: "b"}, // another app
	} {
		if err := reg.Register(ctx, c); err != nil {
			t.Fatal(err)
		}
	}
	m, err := dispatch.NewMetrics(prometheus.NewRegistry())
	if err != nil {
		t.Fatal(err)
	}
	d := dispatch.New("a", view, bus, &local, slog.New(slog.NewTextHandler(io.Discard, nil)), m)
	err = d.Push(ctx, []parley.Delivery{
		{AppID: "app", Users: []string{"ann", "ben"}, Kind: "msg", Payload: []byte("m1")},
		{AppID: "app", Users: []string{"cat", "dan"}, Kind: "msg", Payload: []byte("m2")}, // dan is offline
	})
	if err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(5 * time.Second)
	for len(remote.get()) == 0 && time.Now().Before(deadline) {
		time.Sleep(5 * time.Millisecond)
	}
	if l := local.get(); len(l) != 1 {
		t.Fatalf("local: got %d batches, want 1", len(l))
	}
	if r := remote.get(); len(r) != 1 {
		t.Fatalf("remote: got %d batches, want 1 (one bus message per node)", len(r))
	}
	gotLocal, gotRemote := users(local.get()), users(remote.get())
	if !slices.Equal(gotLocal["m1"], []string{"ann"}) || !slices.Equal(gotLocal["m2"], []string{"cat"}) {
		t.Errorf("local deliveries: got %v", gotLocal)
	}
	if !slices.Equal(gotRemote["m1"], []string{"ben"}) || !slices.Equal(gotRemote["m2"], []string{"cat"}) {
		t.Errorf("remote deliveries: got %v", gotRemote)
	}
	if l, r, b := m.Counts(); l != 2 || r != 2 || b != 2 {
		t.Errorf("metrics: got %v local, %v remote pushes in %v batches, want 2, 2 in 2", l, r, b)
	}
}

func TestPushToNodeNotListeningReportsError(t *testing.T) {
	ctx := context.Background()
	reg := inmem.NewRegistry()
	bus := inmem.NewBus(0)
	defer bus.Close()
	_ = reg.Register(ctx, parley.ConnInfo{AppID: "app", UserID: "ann", ConnID: "1", Node: "gone"})
	_ = reg.Register(ctx, parley.ConnInfo{AppID: "app", UserID: "ben", ConnID: "2", Node: "a"})
	var local recorder
	m, err := dispatch.NewMetrics(prometheus.NewRegistry())
	if err != nil {
		t.Fatal(err)
	}
	d := dispatch.New("a", reg, bus, &local, slog.New(slog.NewTextHandler(io.Discard, nil)), m)
	err = d.Push(ctx, []parley.Delivery{{AppID: "app", Users: []string{"ann", "ben"}, Kind: "msg", Payload: []byte("m")}})
	if parley.ErrorCode(err) != parley.EUnavailable {
		t.Fatalf("got %v, want unavailable", err)
	}
	if len(local.get()) != 1 {
		t.Fatal("the local node must still get its deliveries")
	}
	if l, r, b := m.Counts(); l != 1 || r != 0 || b != 1 {
		t.Errorf("metrics: got %v local, %v remote pushes in %v batches, want 1, 0 (the failed send) in 1", l, r, b)
	}
}

func TestNewMetricsRefusesARegistryTwice(t *testing.T) {
	reg := prometheus.NewRegistry()
	if _, err := dispatch.NewMetrics(reg); err != nil {
		t.Fatal(err)
	}
	if _, err := dispatch.NewMetrics(reg); err == nil {
		t.Fatal("got no error registering the metrics twice")
	}
}

// TestOnOfflineNamesUsersWithoutConnections: the hook hears, per delivery
// of its kind, exactly the users connected nowhere, and nothing of other
// kinds or of deliveries whose users are all online.
func TestOnOfflineNamesUsersWithoutConnections(t *testing.T) {
	registryViews(t, testOnOfflineNamesUsersWithoutConnections)
}

func testOnOfflineNamesUsersWithoutConnections(t *testing.T, reg *inmem.Registry, view parley.Registry) {
	ctx := context.Background()
	bus := inmem.NewBus(0)
	defer bus.Close()
	var local recorder
	for _, c := range []parley.ConnInfo{
		{AppID: "app", UserID: "ann", ConnID: "1", Node: "a"},
		{AppID: "app", UserID: "ben", ConnID: "2", Node: "b"}, // online elsewhere
		{AppID: "other", UserID: "cat", ConnID: "3", Node: "a"},
	} {
		if err := reg.Register(ctx, c); err != nil {
			t.Fatal(err)
		}
	}
	d := dispatch.New("a", view, bus, &local, slog.New(slog.NewTextHandler(io.Discard, nil)), nil)
	var got []string
	d.OnOffline("msg", func(d parley.Delivery, users []string) {
		got = append(got, string(d.Payload)+":"+d.AppID+":"+slices.Concat(users, nil)[0]+":"+string(rune('0'+len(users))))
	})
	_ = d.Push(ctx, []parley.Delivery{
		{AppID: "app", Users: []string{"ann", "ben", "cat"}, Kind: "msg", Payload: []byte("m1")}, // cat of app: offline
		{AppID: "app", Users: []string{"ann", "ben"}, Kind: "msg", Payload: []byte("m2")},        // all online
		{AppID: "app", Users: []string{"dan"}, Kind: "read", Payload: []byte("r1")},              // another kind
		{AppID: "other", Users: []string{"cat", "ann"}, Kind: "msg", Payload: []byte("m3")},      // ann of other: offline
		{AppID: "app", Users: []string{"eve", "dan", "ann"}, Kind: "msg", Payload: []byte("m4")}, // two offline
	})
	want := []string{"m1:app:cat:1", "m3:other:ann:1", "m4:app:eve:2"}
	if !slices.Equal(got, want) {
		t.Fatalf("offline hook: got %v, want %v", got, want)
	}
}

// TestFailedSendsLoggedOncePerWindow: a node that cannot be reached is
// logged once per window, not once per batch.
func TestFailedSendsLoggedOncePerWindow(t *testing.T) {
	ctx := context.Background()
	reg := inmem.NewRegistry()
	bus := inmem.NewBus(0)
	defer bus.Close()
	if err := reg.Register(ctx, parley.ConnInfo{AppID: "app", UserID: "ann", ConnID: "1", Node: "gone"}); err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	var local recorder
	d := dispatch.New("a", reg, bus, &local, slog.New(slog.NewTextHandler(&buf, nil)), nil)
	for range 100 {
		if err := d.Push(ctx, []parley.Delivery{{AppID: "app", Users: []string{"ann"}, Kind: "msg", Payload: []byte("m")}}); err == nil {
			t.Fatal("Push to a node that is not listening: got nil error")
		}
	}
	if n := strings.Count(buf.String(), "bus send failed"); n != 1 {
		t.Fatalf("100 failed sends to one node logged %d times, want once:\n%s", n, buf.String())
	}
}

type discard struct{}

func (discard) Deliver([]parley.Delivery) {}

// BenchmarkPushGroup routes one group message: one delivery naming 10,000
// members, half of them online on this node.
func BenchmarkPushGroup(b *testing.B) {
	ctx := context.Background()
	reg := inmem.NewRegistry()
	bus := inmem.NewBus(0)
	defer bus.Close()
	members := make([]string, 10000)
	for i := range members {
		members[i] = "member-" + strconv.Itoa(i)
		if i%2 == 0 {
			c := parley.ConnInfo{AppID: "app", UserID: members[i], ConnID: "c" + strconv.Itoa(i), Node: "a"}
			if err := reg.Register(ctx, c); err != nil {
				b.Fatal(err)
			}
		}
	}
	d := dispatch.New("a", reg, bus, discard{}, slog.New(slog.NewTextHandler(io.Discard, nil)), nil)
	ds := []parley.Delivery{{AppID: "app", Users: members, Kind: "msg", Payload: []byte("{}")}}
	b.ReportAllocs()
	for b.Loop() {
		if err := d.Push(ctx, ds); err != nil {
			b.Fatal(err)
		}
	}
}

package natsbus_test

import (
	"bytes"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/parley-im/parley"
	"github.com/parley-im/parley/internal/natsbus"
	"github.com/parley-im/parley/internal/testservers"
)

// These tests cover what natsbus promises beyond the parley.Bus contract
// (TestBusContract): bad input, a full queue, batches larger than the
// server's maximum payload.

// collector is a handler that keeps every delivery it gets.
type collector struct {
	mu      sync.Mutex
	batches int
	ds      []parley.Delivery
}

func (c *collector) handle(batch []parley.Delivery) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.batches++
	c.ds = append(c.ds, batch...)
}

func (c *collector) got() (batches int, ds []parley.Delivery) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.batches, slices.Clone(c.ds)
}

func newMetrics(t *testing.T) *natsbus.Metrics {
	m, err := natsbus.NewMetrics(prometheus.NewRegistry())
	if err != nil {
		t.Fatal(err)
	}
	return m
}

func dropped(t *testing.T, m *natsbus.Metrics, reason string) int {
	t.Helper()
	v := testutil.ToFloat64(natsbus.DroppedCounter(m, reason))
	return int(v)
}

func TestBadFramesAreDroppedAndCounted(t *testing.T) {
	ns := testservers.StartNATS(t)
	raw := ns.Connect(t, "attacker")
	m := newMetrics(t)
	b := newBus(t, ns.Connect(t, "node"), natsbus.Options{Metrics: m})
	c := &collector{}
	stop, err := b.Listen("n1", c.handle)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(stop)

	for _, frame := range [][]byte{nil, {1}, {9, 0, 0}, {1, 0, 0xff, 0xff, 0xff, 0xff, 0x0f}, {1, 0, 1, 2, 'a'}} {
		if err := raw.Publish(natsbus.DefaultPrefix+".n1", frame); err != nil {
			t.Fatal(err)
		}
	}
	// A bad frame that asks for an answer gets one.
	msg, err := raw.Request(natsbus.DefaultPrefix+".n1", []byte{1, 1, 0xff}, time.Second)
	if err != nil || string(msg.Data) != "b" {
		t.Errorf("request with a bad batch: got %v, %v; want the answer \"b\"", msg, err)
	}
	good := []parley.Delivery{{AppID: "app", Users: []string{"u"}, Kind: "msg", Payload: []byte("ok")}}
	if err := b.Send(t.Context(), "n1", good); err != nil {
		t.Fatal(err)
	}
	eventually(t, "the good batch", func() bool { n, _ := c.got(); return n >= 1 })
	if n, ds := c.got(); n != 1 || !bytes.Equal(ds[0].Payload, []byte("ok")) {
		t.Errorf("handler got %d batches %v, want only the good one", n, ds)
	}
	if got := dropped(t, m, "bad"); got != 6 {
		t.Errorf("dropped bad = %d, want 6", got)
	}
}

func TestFullQueueDropsAndCounts(t *testing.T) {
	ns := testservers.StartNATS(t)
	m := newMetrics(t)
	b := newBus(t, ns.Connect(t, "node"), natsbus.Options{QueueLen: 1, Metrics: m})
	entered, release := make(chan struct{}, 10), make(chan struct{})
	stop, err := b.Listen("n1", func([]parley.Delivery) {
		entered <- struct{}{}
		<-release
	})
	if err != nil {
		t.Fatal(err)
	}
	batch := []parley.Delivery{{AppID: "app", Kind: "msg"}}
	if err := b.Send(t.Context(), "n1", batch); err != nil { // acked, taken by the handler
		t.Fatal(err)
	}
	<-entered
	for range 3 { // one queued, two dropped
		if err := b.Send(t.Context(), "n1", batch); err != nil {
			t.Fatal(err)
		}
	}
	eventually(t, "two batches dropped", func() bool { return dropped(t, m, "full") == 2 })
	close(release)
	stop()
}

func TestLargeBatchIsSplit(t *testing.T) {
	ns := testservers.StartNATS(t)
	nc := ns.Connect(t, "node")
	b := newBus(t, nc, natsbus.Options{})
	c := &collector{}
	stop, err := b.Listen("n1", c.handle)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(stop)

	big := int(nc.MaxPayload()) * 2 / 5 // two fit one message, three do not
	var batch []parley.Delivery
	for i := range 5 {
		batch = append(batch, parley.Delivery{AppID: "app", Users: []string{"u"}, Kind: "file", Payload: bytes.Repeat([]byte{byte(i)}, big)})
	}
	if err := b.Send(t.Context(), "n1", batch); err != nil {
		t.Fatal(err)
	}
	eventually(t, "every delivery", func() bool { _, ds := c.got(); return len(ds) >= len(batch) })
	n, ds := c.got()
	if n != 3 {
		t.Errorf("got %d messages, want 3", n)
	}
	if len(ds) != len(batch) {
		t.Fatalf("got %d deliveries, want %d", len(ds), len(batch))
	}
	for i := range ds {
		// Not cmp.Diff: it walks 2 MB of payload a byte at a time.
		if !bytes.Equal(ds[i].Payload, batch[i].Payload) || ds[i].Kind != "file" || !slices.Equal(ds[i].Users, batch[i].Users) {
			t.Errorf("delivery %d differs from the one sent", i)
		}
	}

	tooBig := []parley.Delivery{{AppID: "app", Payload: make([]byte, nc.MaxPayload())}}
	if err := b.Send(t.Context(), "n1", tooBig); parley.ErrorCode(err) != parley.ETooLarge {
		t.Errorf("Send of a delivery larger than the maximum payload: got %v, want %s", err, parley.ETooLarge)
	}
}

// TestStuckListenerCostsOneTimeout: a subscriber that never answers makes
// the first Send wait for the timeout and fail; the next ones publish.
func TestStuckListenerCostsOneTimeout(t *testing.T) {
	const timeout = 200 * time.Millisecond
	ns := testservers.StartNATS(t)
	stuck := ns.Connect(t, "stuck")
	sub, err := stuck.SubscribeSync(natsbus.DefaultPrefix + ".n1")
	if err != nil {
		t.Fatal(err)
	}
	if err := stuck.Flush(); err != nil {
		t.Fatal(err)
	}
	b := newBus(t, ns.Connect(t, "sender"), natsbus.Options{Timeout: timeout})
	batch := []parley.Delivery{{AppID: "app", Kind: "msg"}}
	start := time.Now()
	err = b.Send(t.Context(), "n1", batch)
	if took := time.Since(start); parley.ErrorCode(err) != parley.EUnavailable || took < timeout {
		t.Errorf("first Send: got %v after %v, want %s after the %v timeout", err, took, parley.EUnavailable, timeout)
	}
	start = time.Now()
	if err := b.Send(t.Context(), "n1", batch); err != nil {
		t.Errorf("second Send: got %v, want nil", err)
	}
	if took := time.Since(start); took > timeout/2 {
		t.Errorf("second Send took %v, want no wait", took)
	}
	if _, err := sub.NextMsg(time.Second); err != nil { // the first, then the second
		t.Errorf("the stuck subscriber got nothing: %v", err)
	}
}

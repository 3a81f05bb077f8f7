package parleytest

import (
	"crypto/rand"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	gocmp "github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
	"github.com/parley-im/parley"
)

// RunBusTests checks that the buses open returns keep the parley.Bus
// contract. Each subtest is named for a sentence of the contract and calls
// open once.
//
// open must return a ready bus and register its cleanup with t.Cleanup
// (the suite stops its own listeners first). Every subtest uses node ids of
// its own, made fresh on each run, so open may hand out buses on one shared
// backend (a NATS server). The suite asserts no timings: it polls, with a
// generous deadline, for what must eventually happen, and it lets a bus
// that learns of listeners asynchronously answer EUnavailable for a while
// after Listen and nil for a while after stop. It does expect every batch
// that Send accepted on a healthy bus with a keeping-up handler to arrive.
func RunBusTests(t *testing.T, open func(t *testing.T) parley.Bus) {
	tests := []struct {
		name string
		f    func(t *testing.T, b parley.Bus)
	}{
		{"BatchesArriveInOrder", testBusOrder},
		{"BatchContentArrivesIntact", testBusContent},
		{"HandlerCallsDoNotOverlap", testBusNoOverlap},
		{"NodesAreSeparate", testBusNodesSeparate},
		{"SendToNodeNotListeningIsUnavailable", testBusNotListening},
		{"ListenTwiceIsConflict", testBusListenTwice},
		{"StopStopsDelivery", testBusStop},
		{"NodeCanListenAgainAfterStop", testBusListenAgain},
		{"ConcurrentSenders", testBusConcurrentSenders},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) { tt.f(t, open(t)) })
	}
}

// busWait bounds every poll. It is long because it is only reached when
// a test fails, and slow machines under -race must not fail it.
const busWait = 10 * time.Second

func busTestID(prefix string) string {
	return prefix + "-" + rand.Text()[:12]
}

// busRecorder is a handler that keeps the batches it gets and notices
// calls that overlap or come after the test stopped listening.
type busRecorder struct {
	slow     bool        // sleep a little in each call, to widen races
	stopped  atomic.Bool // set by the test once stop has returned
	running  atomic.Int32
	overlaps atomic.Int32
	late     atomic.Int32

	mu      sync.Mutex
	batches [][]parley.Delivery
}

func (r *busRecorder) handle(batch []parley.Delivery) {
	if r.running.Add(1) > 1 {
		r.overlaps.Add(1)
	}
	defer r.running.Add(-1)
	if r.stopped.Load() {
		r.late.Add(1)
	}
	if r.slow {
		time.Sleep(100 * time.Microsecond)
	}
	r.mu.Lock()
	r.batches = append(r.batches, batch)
	r.mu.Unlock()
}

func (r *busRecorder) got() [][]parley.Delivery {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([][]parley.Delivery(nil), r.batches...)
}

// wait polls until n batches have arrived and returns them.
func (r *busRecorder) wait(t *testing.T, n int) [][]parley.Delivery {
	t.Helper()
	busEventually(t, fmt.Sprintf("%d batches to arrive", n), func() bool { return len(r.got()) >= n })
	got := r.got()
	if len(got) > n {
		t.Errorf("got %d batches, want %d", len(got), n)
	}
	return got
}

// busEventually polls cond until it holds, failing the test at busWait.
func busEventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(busWait)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("gave up after %v waiting for %s", busWait, what)
		}
		time.Sleep(time.Millisecond)
	}
}

// busListen listens and stops at the end of the test. The stop it
// returns may be called early; it runs once.
func busListen(t *testing.T, b parley.Bus, node string, h func([]parley.Delivery)) (stop func()) {
	t.Helper()
	s, err := b.Listen(node, h)
	if err != nil {
		t.Fatalf("Listen(%q): %v", node, err)
	}
	stop = sync.OnceFunc(s)
	t.Cleanup(stop)
	return stop
}

// busSend sends, tolerating EUnavailable until the bus has learnt that
// node is listening.
func busSend(t *testing.T, b parley.Bus, node string, batch []parley.Delivery) {
	t.Helper()
	var err error
	busEventually(t, "Send to "+node+" to be accepted", func() bool {
		err = b.Send(t.Context(), node, batch)
		return parley.ErrorCode(err) != parley.EUnavailable
	})
	if err != nil {
		t.Fatalf("Send(%q): %v", node, err)
	}
}

// busBatch returns a batch of 1 to 3 deliveries that names its sender and
// number in every payload.
func busBatch(sender, i int) []parley.Delivery {
	batch := make([]parley.Delivery, 1+i%3)
	for j := range batch {
		batch[j] = parley.Delivery{
			AppID:   "app",
			Users:   []string{"u" + strconv.Itoa(i)},
			Kind:    "msg",
			Payload: fmt.Appendf(nil, "%d:%d:%d", sender, i, j),
		}
	}
	return batch
}

// busBatchID returns the sender and number busBatch wrote in batch.
func busBatchID(t *testing.T, batch []parley.Delivery) (sender, i int) {
	t.Helper()
	if len(batch) == 0 {
		t.Fatal("got an empty batch")
	}
	f := strings.Split(string(batch[0].Payload), ":")
	if len(f) != 3 {
		t.Fatalf("got a batch that was not sent: payload %q", batch[0].Payload)
	}
	sender, err1 := strconv.Atoi(f[0])
	i, err2 := strconv.Atoi(f[1])
	if err1 != nil || err2 != nil {
		t.Fatalf("got a batch that was not sent: payload %q", batch[0].Payload)
	}
	return sender, i
}

// The comparisons below use cmpopts.EquateEmpty: a bus that serialises
// batches may turn empty slices into nil and back.

func testBusOrder(t *testing.T, b parley.Bus) {
	const n = 200
	node := busTestID("node")
	rec := &busRecorder{}
	busListen(t, b, node, rec.handle)
	var want [][]parley.Delivery
	for i := range n {
		batch := busBatch(0, i)
		want = append(want, batch)
		busSend(t, b, node, batch)
	}
	if diff := gocmp.Diff(want, rec.wait(t, n), cmpopts.EquateEmpty()); diff != "" {
		t.Errorf("batches (-sent +received):\n%s", diff)
	}
}

func testBusContent(t *testing.T, b parley.Bus) {
	node := busTestID("node")
	rec := &busRecorder{}
	busListen(t, b, node, rec.handle)
	batch := []parley.Delivery{{
		AppID:    "shop",
		Users:    []string{"alice", "bob"},
		SkipConn: "c0",
		Kind:     "push",
		Payload:  []byte{0, 1, 2, 0xff, '{', '"', '\n'},
	}, {
		AppID:   "shop",
		Users:   []string{"carol"},
		Kind:    "kick",
		Payload: []byte(`{"reason":"héllo, 世界"}`),
	}, {
		AppID: "shop",
		Kind:  "empty",
	}}
	sent := make([]parley.Delivery, len(batch))
	copy(sent, batch)
	busSend(t, b, node, batch)
	if diff := gocmp.Diff([][]parley.Delivery{sent}, rec.wait(t, 1), cmpopts.EquateEmpty()); diff != "" {
		t.Errorf("batch (-sent +received):\n%s", diff)
	}
}

func testBusNoOverlap(t *testing.T, b parley.Bus) {
	const senders, perSender = 8, 25
	node := busTestID("node")
	rec := &busRecorder{slow: true}
	busListen(t, b, node, rec.handle)
	busSend(t, b, node, busBatch(senders, 0)) // wait until the bus knows the node
	var wg sync.WaitGroup
	for s := range senders {
		wg.Go(func() {
			for i := range perSender {
				if err := b.Send(t.Context(), node, busBatch(s, i)); err != nil {
					t.Errorf("Send: %v", err)
				}
			}
		})
	}
	wg.Wait()
	rec.wait(t, 1+senders*perSender)
	if n := rec.overlaps.Load(); n != 0 {
		t.Errorf("handler calls overlapped %d times, want 0", n)
	}
}

func testBusNodesSeparate(t *testing.T, b parley.Bus) {
	const n = 20
	nodeA, nodeB := busTestID("node-a"), busTestID("node-b")
	recA, recB := &busRecorder{}, &busRecorder{}
	busListen(t, b, nodeA, recA.handle)
	busListen(t, b, nodeB, recB.handle)
	var wantA, wantB [][]parley.Delivery
	for i := range n {
		a, bb := busBatch(1, i), busBatch(2, i)
		wantA, wantB = append(wantA, a), append(wantB, bb)
		busSend(t, b, nodeA, a)
		busSend(t, b, nodeB, bb)
	}
	if diff := gocmp.Diff(wantA, recA.wait(t, n), cmpopts.EquateEmpty()); diff != "" {
		t.Errorf("node A batches (-sent +received):\n%s", diff)
	}
	if diff := gocmp.Diff(wantB, recB.wait(t, n), cmpopts.EquateEmpty()); diff != "" {
		t.Errorf("node B batches (-sent +received):\n%s", diff)
	}
}

func testBusNotListening(t *testing.T, b parley.Bus) {
	rec := &busRecorder{}
	busListen(t, b, busTestID("node"), rec.handle) // another node listens
	err := b.Send(t.Context(), busTestID("nobody"), busBatch(0, 0))
	if got := parley.ErrorCode(err); got != parley.EUnavailable {
		t.Errorf("Send to a node that is not listening: got code %q (%v), want %q", got, err, parley.EUnavailable)
	}
}

func testBusListenTwice(t *testing.T, b parley.Bus) {
	node := busTestID("node")
	first, second := &busRecorder{}, &busRecorder{}
	busListen(t, b, node, first.handle)
	stop, err := b.Listen(node, second.handle)
	if err == nil {
		stop()
	}
	if got := parley.ErrorCode(err); got != parley.EConflict {
		t.Fatalf("second Listen(%q): got code %q (%v), want %q", node, got, err, parley.EConflict)
	}
	// The refused Listen leaves the first listener in place.
	busSend(t, b, node, busBatch(0, 0))
	first.wait(t, 1)
	if n := len(second.got()); n != 0 {
		t.Errorf("the refused handler got %d batches, want 0", n)
	}
}

func testBusStop(t *testing.T, b parley.Bus) {
	node := busTestID("node")
	rec := &busRecorder{}
	stop := busListen(t, b, node, rec.handle)
	busSend(t, b, node, busBatch(0, 0))
	rec.wait(t, 1)

	stop()
	rec.stopped.Store(true)
	var err error
	busEventually(t, "Send to a stopped node to fail", func() bool {
		err = b.Send(t.Context(), node, busBatch(0, 1))
		return err != nil
	})
	if got := parley.ErrorCode(err); got != parley.EUnavailable {
		t.Errorf("Send to a stopped node: got code %q (%v), want %q", got, err, parley.EUnavailable)
	}
	// Give a bus that would still deliver a chance to do so.
	time.Sleep(20 * time.Millisecond)
	if n := rec.late.Load(); n != 0 {
		t.Errorf("handler called %d times after stop returned, want 0", n)
	}
}

func testBusListenAgain(t *testing.T, b parley.Bus) {
	node := busTestID("node")
	old, again := &busRecorder{}, &busRecorder{}
	stop := busListen(t, b, node, old.handle)
	stop()
	old.stopped.Store(true)
	var err error
	busEventually(t, "Listen after stop to succeed", func() bool {
		var s func()
		if s, err = b.Listen(node, again.handle); err == nil {
			t.Cleanup(s)
		}
		return parley.ErrorCode(err) != parley.EConflict
	})
	if err != nil {
		t.Fatalf("Listen after stop: %v", err)
	}
	busSend(t, b, node, busBatch(0, 0))
	again.wait(t, 1)
	if n := len(old.got()); n != 0 {
		t.Errorf("the stopped handler got %d batches, want 0", n)
	}
}

func testBusConcurrentSenders(t *testing.T, b parley.Bus) {
	const senders, perSender = 8, 50
	node := busTestID("node")
	rec := &busRecorder{}
	busListen(t, b, node, rec.handle)
	busSend(t, b, node, busBatch(senders, 0)) // wait until the bus knows the node
	var wg sync.WaitGroup
	for s := range senders {
		wg.Go(func() {
			for i := range perSender {
				if err := b.Send(t.Context(), node, busBatch(s, i)); err != nil {
					t.Errorf("Send: %v", err)
				}
			}
		})
	}
	wg.Wait()
	// Each sender's batches arrive once each and in the order it sent
	// them; batches of different senders interleave freely.
	next := make([]int, senders+1)
	for _, batch := range rec.wait(t, 1+senders*perSender) {
		s, i := busBatchID(t, batch)
		if i != next[s] {
			t.Fatalf("sender %d: got batch %d, want %d", s, i, next[s])
		}
		next[s]++
	}
}

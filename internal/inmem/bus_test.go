package inmem

import (
	"context"
	"testing"
	"time"

	"github.com/parley-im/parley"
)

// These tests cover what the inmem bus promises beyond the parley.Bus
// contract (which TestBusContract checks): the queue bound, stop waiting
// for the handler, and Close.

func mustListen(t *testing.T, b *Bus, node string, h func([]parley.Delivery)) func() {
	t.Helper()
	stop, err := b.Listen(node, h)
	if err != nil {
		t.Fatalf("Listen(%q): %v", node, err)
	}
	t.Cleanup(stop)
	return stop
}

func batch(kind string) []parley.Delivery {
	return []parley.Delivery{{AppID: "app", Users: []string{"u1"}, Kind: kind}}
}

// blockingHandler returns a handler that reports each call on entered and
// then waits for release to be closed.
func blockingHandler() (h func([]parley.Delivery), entered chan string, release chan struct{}) {
	entered = make(chan string, 100)
	release = make(chan struct{})
	h = func(b []parley.Delivery) {
		entered <- b[0].Kind
		<-release
	}
	return h, entered, release
}

func wantCode(t *testing.T, what string, err error, code string) {
	t.Helper()
	if got := parley.ErrorCode(err); got != code {
		t.Errorf("%s: got code %q (%v), want %q", what, got, err, code)
	}
}

func TestBusQueueFull(t *testing.T) {
	const queueLen = 4
	b := NewBus(queueLen)
	defer b.Close()
	h, entered, release := blockingHandler()
	mustListen(t, b, "n1", h)
	ctx := context.Background()

	// The first batch is taken by the handler, which then blocks; the
	// next queueLen fill the queue; the one after is refused at once.
	if err := b.Send(ctx, "n1", batch("0")); err != nil {
		t.Fatal(err)
	}
	<-entered
	for i := range queueLen {
		if err := b.Send(ctx, "n1", batch("queued")); err != nil {
			t.Fatalf("Send %d into a queue of %d: %v", i, queueLen, err)
		}
	}
	wantCode(t, "Send to a full queue", b.Send(ctx, "n1", batch("dropped")), parley.EUnavailable)

	// Other nodes are not held up by the slow one.
	got := make(chan string, 1)
	mustListen(t, b, "n2", func(b []parley.Delivery) { got <- b[0].Kind })
	if err := b.Send(ctx, "n2", batch("other")); err != nil {
		t.Fatal(err)
	}
	if k := <-got; k != "other" {
		t.Errorf("n2 got %q, want %q", k, "other")
	}

	// Once the handler catches up the queue drains and accepts again.
	close(release)
	for range queueLen {
		if k := <-entered; k != "queued" {
			t.Errorf("handler got %q, want %q", k, "queued")
		}
	}
	if err := b.Send(ctx, "n1", batch("later")); err != nil {
		t.Fatalf("Send after the queue drained: %v", err)
	}
	if k := <-entered; k != "later" {
		t.Errorf("handler got %q, want %q", k, "later")
	}
}

func TestBusStopWaitsForHandler(t *testing.T) {
	b := NewBus(0)
	defer b.Close()
	h, entered, release := blockingHandler()
	stop := mustListen(t, b, "n1", h)
	ctx := context.Background()
	if err := b.Send(ctx, "n1", batch("running")); err != nil {
		t.Fatal(err)
	}
	<-entered
	if err := b.Send(ctx, "n1", batch("queued")); err != nil {
		t.Fatal(err)
	}

	stopped := make(chan struct{})
	go func() { stop(); close(stopped) }()
	// stop cannot return while the handler runs. Once the node is gone
	// from the bus, Send fails; poll for that rather than sleep.
	for b.Send(ctx, "n1", batch("x")) == nil {
		time.Sleep(time.Millisecond)
	}
	select {
	case <-stopped:
		t.Fatal("stop returned while the handler was running")
	default:
	}
	close(release)
	<-stopped
	// The queued batch was dropped, not handled.
	select {
	case k := <-entered:
		t.Errorf("handler called with %q after stop", k)
	default:
	}
	stop() // again: no effect
}

func TestBusOldStopLeavesNewListener(t *testing.T) {
	b := NewBus(0)
	defer b.Close()
	stop1 := mustListen(t, b, "n1", func([]parley.Delivery) {})
	stop1()
	got := make(chan string, 1)
	mustListen(t, b, "n1", func(b []parley.Delivery) { got <- b[0].Kind })
	stop1() // must not remove the second listener
	if err := b.Send(context.Background(), "n1", batch("new")); err != nil {
		t.Fatalf("Send after a stale stop: %v", err)
	}
	if k := <-got; k != "new" {
		t.Errorf("got %q, want %q", k, "new")
	}
}

func TestBusClose(t *testing.T) {
	b := NewBus(0)
	h, entered, release := blockingHandler()
	stop, err := b.Listen("n1", h)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := b.Listen("n2", func([]parley.Delivery) {}); err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	if err := b.Send(ctx, "n1", batch("running")); err != nil {
		t.Fatal(err)
	}
	<-entered
	closed := make(chan struct{})
	go func() { b.Close(); close(closed) }()
	for b.Send(ctx, "n2", batch("x")) == nil {
		time.Sleep(time.Millisecond)
	}
	select {
	case <-closed:
		t.Fatal("Close returned while a handler was running")
	default:
	}
	close(release)
	<-closed

	wantCode(t, "Send after Close", b.Send(ctx, "n1", batch("x")), parley.EUnavailable)
	_, err = b.Listen("n3", func([]parley.Delivery) {})
	wantCode(t, "Listen after Close", err, parley.EUnavailable)
	stop() // after Close: no effect
	if err := b.Close(); err != nil {
		t.Errorf("second Close: %v", err)
	}
}

func TestBusListenInvalid(t *testing.T) {
	b := NewBus(0)
	defer b.Close()
	_, err := b.Listen("", func([]parley.Delivery) {})
	wantCode(t, "Listen with no node", err, parley.EInvalid)
	_, err = b.Listen("n1", nil)
	wantCode(t, "Listen with no handler", err, parley.EInvalid)
}

func TestBusSendCopiesBatch(t *testing.T) {
	b := NewBus(0)
	defer b.Close()
	h, entered, release := blockingHandler()
	mustListen(t, b, "n1", h)
	close(release)
	buf := batch("first")
	if err := b.Send(context.Background(), "n1", buf); err != nil {
		t.Fatal(err)
	}
	buf[0].Kind = "overwritten" // the caller reuses its slice at once
	if k := <-entered; k != "first" {
		t.Errorf("handler got %q, want %q", k, "first")
	}
}

// A handler may send, even to its own node: the bus holds no lock while
// it runs.
func TestBusHandlerMaySend(t *testing.T) {
	b := NewBus(0)
	defer b.Close()
	got := make(chan string, 2)
	mustListen(t, b, "n1", func(d []parley.Delivery) {
		got <- d[0].Kind
		if d[0].Kind == "ping" {
			if err := b.Send(context.Background(), "n1", batch("pong")); err != nil {
				t.Errorf("Send from a handler: %v", err)
			}
		}
	})
	if err := b.Send(context.Background(), "n1", batch("ping")); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"ping", "pong"} {
		if k := <-got; k != want {
			t.Errorf("got %q, want %q", k, want)
		}
	}
}

package natsbus_test

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/parley-im/parley"
	"github.com/parley-im/parley/internal/natsbus"
	"github.com/parley-im/parley/internal/testservers"
)

// eventually polls cond every few milliseconds until it holds, failing
// the test after 10 s.
func eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("gave up after 10s waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// seqChecker is a handler for batches whose payloads are "sender:i". It
// fails the test if a sender's numbers ever go backwards or repeat (gaps
// are allowed: the bus is at most once) and keeps the last of each.
type seqChecker struct {
	t    *testing.T
	mu   sync.Mutex
	last map[string]int
	n    int
}

func newSeqChecker(t *testing.T) *seqChecker {
	return &seqChecker{t: t, last: make(map[string]int)}
}

func (c *seqChecker) handle(batch []parley.Delivery) {
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, d := range batch {
		sender, num, _ := strings.Cut(string(d.Payload), ":")
		i, err := strconv.Atoi(num)
		if err != nil {
			c.t.Errorf("got payload %q", d.Payload)
			return
		}
		if last, ok := c.last[sender]; ok && i <= last {
			c.t.Errorf("sender %s: got %d after %d", sender, i, last)
		}
		c.last[sender] = i
		c.n++
	}
}

func (c *seqChecker) count() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.n
}

// lastOf returns the last number seen from sender, -1 if none.
func (c *seqChecker) lastOf(sender string) int {
	c.mu.Lock()
	defer c.mu.Unlock()
	if i, ok := c.last[sender]; ok {
		return i
	}
	return -1
}

func seqBatch(sender string, i int) []parley.Delivery {
	return []parley.Delivery{{AppID: "app", Users: []string{"u"}, Kind: "msg", Payload: fmt.Appendf(nil, "%s:%d", sender, i)}}
}

// TestNATSOutage stops the NATS server for 3 s while four goroutines send
// as fast as they can: every Send returns promptly (EUnavailable while NATS
// is away), nothing arrives twice or out of order, and once the server is
// back the same Buses and listener carry batches again.
func TestNATSOutage(t *testing.T) {
	const timeout = time.Second
	ns := testservers.StartNATS(t)
	sender := newBus(t, ns.Connect(t, "sender"), natsbus.Options{Timeout: timeout})
	receiver := newBus(t, ns.Connect(t, "receiver"), natsbus.Options{Timeout: timeout})
	check := newSeqChecker(t)
	stop, err := receiver.Listen("n1", check.handle)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(stop)

	var (
		done                 = make(chan struct{})
		wg                   sync.WaitGroup
		slowest              atomic.Int64 // ns
		accepted, refused    atomic.Int64
		wrapsReconnecting    atomic.Bool
		sentBefore, sentDown atomic.Int64 // accepted before and during the outage
		down                 atomic.Bool
	)
	for g := range 4 {
		wg.Go(func() {
			name := "s" + strconv.Itoa(g)
			for i := 0; ; i++ {
				select {
				case <-done:
					return
				default:
				}
				start := time.Now()
				err := sender.Send(t.Context(), "n1", seqBatch(name, i))
				d := time.Since(start)
				for old := slowest.Load(); int64(d) > old && !slowest.CompareAndSwap(old, int64(d)); old = slowest.Load() {
				}
				switch {
				case err == nil:
					accepted.Add(1)
					if down.Load() {
						sentDown.Add(1)
					} else {
						sentBefore.Add(1)
					}
				case parley.ErrorCode(err) == parley.EUnavailable:
					refused.Add(1)
					if errors.Is(err, nats.ErrConnectionReconnecting) {
						wrapsReconnecting.Store(true)
					}
				default:
					t.Errorf("Send: got %v, want nil or %s", err, parley.EUnavailable)
				}
				time.Sleep(200 * time.Microsecond)
			}
		})
	}
	eventually(t, "batches to arrive before the outage", func() bool { return check.lastOf("s0") > 10 })

	down.Store(true)
	ns.Stop()
	refusedBefore := refused.Load()
	time.Sleep(3 * time.Second)
	refusedDown := refused.Load() - refusedBefore
	ns.Start()
	down.Store(false)

	// Back: a batch sent now arrives, through the same Bus and listener.
	mark := check.lastOf("s1")
	eventually(t, "batches to arrive after the restart", func() bool { return check.lastOf("s1") > mark+10 })
	close(done)
	wg.Wait()

	t.Logf("sends: %d accepted (%d while NATS was down), %d refused (%d while down); slowest Send %v; %d deliveries arrived",
		accepted.Load(), sentDown.Load(), refused.Load(), refusedDown, time.Duration(slowest.Load()), check.count())
	if refusedDown == 0 {
		t.Errorf("no Send was refused while NATS was down")
	}
	if !wrapsReconnecting.Load() {
		t.Errorf("no refusal wrapped nats.ErrConnectionReconnecting")
	}
	if max := time.Duration(slowest.Load()); max > timeout+500*time.Millisecond {
		t.Errorf("slowest Send took %v, want at most the bus timeout %v and a little", max, timeout)
	}
}

func TestListenTwiceAcrossConnections(t *testing.T) {
	ns := testservers.StartNATS(t)
	a := newBus(t, ns.Connect(t, "process-a"), natsbus.Options{})
	b := newBus(t, ns.Connect(t, "process-b"), natsbus.Options{})
	stop, err := a.Listen("n1", func([]parley.Delivery) {})
	if err != nil {
		t.Fatal(err)
	}
	_, err = b.Listen("n1", func([]parley.Delivery) {})
	if got := parley.ErrorCode(err); got != parley.EConflict {
		t.Fatalf("second Listen through another connection: got %q (%v), want %q", got, err, parley.EConflict)
	}
	if !strings.Contains(err.Error(), `"process-a"`) {
		t.Errorf("the conflict %q does not name the connection that holds the node", err)
	}
	stop()
	stop2, err := b.Listen("n1", func([]parley.Delivery) {})
	if err != nil {
		t.Fatalf("Listen after the other process stopped: %v", err)
	}
	stop2()
}

func TestClosedIsUnavailable(t *testing.T) {
	ns := testservers.StartNATS(t)
	nc := ns.Connect(t, "c")
	b := newBus(t, nc, natsbus.Options{})
	if err := b.Close(); err != nil {
		t.Fatal(err)
	}
	if err := b.Send(t.Context(), "n1", seqBatch("s", 0)); parley.ErrorCode(err) != parley.EUnavailable {
		t.Errorf("Send on a closed Bus: got %v, want %s", err, parley.EUnavailable)
	}
	if _, err := b.Listen("n1", func([]parley.Delivery) {}); parley.ErrorCode(err) != parley.EUnavailable {
		t.Errorf("Listen on a closed Bus: got %v, want %s", err, parley.EUnavailable)
	}

	nc.Close()
	b2 := newBus(t, nc, natsbus.Options{})
	err := b2.Send(t.Context(), "n1", seqBatch("s", 0))
	if parley.ErrorCode(err) != parley.EUnavailable || !errors.Is(err, nats.ErrConnectionClosed) {
		t.Errorf("Send on a closed connection: got %v, want %s wrapping %v", err, parley.EUnavailable, nats.ErrConnectionClosed)
	}
}

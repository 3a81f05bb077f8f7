package singleton_test

import (
	"context"
	"sync"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/parley-im/parley/internal/singleton"
	"github.com/parley-im/parley/internal/testservers"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// node runs one lease and records whether it is active.
type node struct {
	mu     sync.Mutex
	active bool
	starts int
	cancel context.CancelFunc
	done   chan struct{}
}

func start(l *singleton.Lease) *node {
	ctx, cancel := context.WithCancel(context.Background())
	n := &node{cancel: cancel, done: make(chan struct{})}
	go func() {
		defer close(n.done)
		l.Run(ctx, func(on bool) {
			n.mu.Lock()
			n.active = on
			if on {
				n.starts++
			}
			n.mu.Unlock()
		})
	}()
	return n
}

func (n *node) stop()           { n.cancel(); <-n.done }
func (n *node) isActive() bool  { n.mu.Lock(); defer n.mu.Unlock(); return n.active }
func (n *node) startCount() int { n.mu.Lock(); defer n.mu.Unlock(); return n.starts }

// TestOneActiveThenTakeOver: of three nodes exactly one works at any
// moment; when it stops, another takes over.
func TestOneActiveThenTakeOver(t *testing.T) {
	c := testservers.Redis(t)
	key := testservers.RedisPrefix(t, c) + "work"
	var nodes []*node
	for range 3 {
		nodes = append(nodes, start(singleton.New(c, key, 600*time.Millisecond, nil)))
	}
	defer func() {
		for _, n := range nodes {
			n.stop()
		}
	}()
	active := func() []int {
		var out []int
		for i, n := range nodes {
			if n.isActive() {
				out = append(out, i)
			}
		}
		return out
	}
	waitOne := func(why string) int {
		t.Helper()
		for deadline := time.Now().Add(5 * time.Second); time.Now().Before(deadline); time.Sleep(10 * time.Millisecond) {
			if a := active(); len(a) == 1 {
				return a[0]
			}
		}
		t.Fatalf("%s: active nodes %v, want exactly one", why, active())
		return -1
	}
	first := waitOne("at start")
	// Watch a while: never two.
	for range 50 {
		if a := active(); len(a) > 1 {
			t.Fatalf("two nodes active at once: %v", a)
		}
		time.Sleep(10 * time.Millisecond)
	}
	nodes[first].stop()
	second := waitOne("after the first stopped")
	if second == first || nodes[first].isActive() {
		t.Fatalf("after node %d stopped: node %d active", first, second)
	}
	if n := nodes[second].startCount(); n != 1 {
		t.Fatalf("node %d started %d times, want once", second, n)
	}
}

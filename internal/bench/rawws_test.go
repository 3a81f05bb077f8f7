package bench

import (
	"net"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/parley-im/parley"
	"github.com/parley-im/parley/internal/server"
)

// TestLeanDevicePullsLostPush: a lean device that loses a push notices the
// gap at the next one, pulls the lost message and delivers everything
// once and in order, after the group's history it synced on connecting;
// its own message comes from the send's answer, not a push.
func TestLeanDevicePullsLostPush(t *testing.T) {
	tg := startServer(t)
	ctx := t.Context()
	ids := []string{"lean-a", "lean-b"}
	tokens, err := tg.Provision(ctx, ids, len(ids))
	if err != nil {
		t.Fatal(err)
	}
	c := &Config{Target: tg, groupConv: "g:lean"}
	if err := c.createGroup(ctx, ids); err != nil {
		t.Fatal(err)
	}
	var lost atomic.Bool
	var drops atomic.Int32
	dev, u := leanDevice(t, tg, UserSpec{ID: ids[0], Token: tokens[0], Conv: c.groupConv}, rawOptions{
		onDrop: func() { drops.Add(1) },
		lose:   func(m parley.Message) bool { return m.Kind == parley.KindText && lost.CompareAndSwap(false, true) },
	})
	history := u.convs[c.groupConv].max // the creation's system message, synced
	if history == 0 {
		t.Fatal("the group's history was not synced on connecting")
	}
	for i := range 3 {
		if err := tg.api(ctx, "/v1/server/messages", map[string]any{"from": ids[1], "conv": c.groupConv,
			"body": map[string]string{"text": "m" + string(rune('0'+i))}}, nil); err != nil {
			t.Fatal(err)
		}
	}
	own, err := dev.SendConv(ctx, c.groupConv, "", []byte(`{"text":"mine"}`))
	if err != nil {
		t.Fatal(err)
	}
	if own.Seq != history+4 {
		t.Fatalf("own message at seq %d, want %d", own.Seq, history+4)
	}
	deadline := time.Now().Add(10 * time.Second)
	for {
		u.mu.Lock()
		ck := *u.convs[c.groupConv]
		u.mu.Unlock()
		if ck.max == own.Seq {
			if l := ck.lost(ck.max); l != 0 || ck.dup != 0 || ck.reordered != 0 {
				t.Fatalf("up to seq %d: %d lost, %d twice, %d out of order", ck.max, l, ck.dup, ck.reordered)
			}
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("delivered up to seq %d, want %d", ck.max, own.Seq)
		}
		time.Sleep(10 * time.Millisecond)
	}
	if !lost.Load() {
		t.Fatal("no push was lost: the gap was never made")
	}
	if drops.Load() != 0 {
		t.Fatalf("%d connections dropped", drops.Load())
	}
}

// TestLeanDevicePings: a lean device pings every heartbeat the server
// names, so that an idle one outlives the server's idle timeout.
func TestLeanDevicePings(t *testing.T) {
	tg := startServer(t, func(c *server.Config) { c.Heartbeat, c.IdleTimeout = time.Second, 2*time.Second })
	ctx := t.Context()
	tokens, err := tg.Provision(ctx, []string{"idle-a"}, 1)
	if err != nil {
		t.Fatal(err)
	}
	var drops atomic.Int32
	dev, _ := leanDevice(t, tg, UserSpec{ID: "idle-a", Token: tokens[0]}, rawOptions{onDrop: func() { drops.Add(1) }})
	time.Sleep(5 * time.Second) // two and a half idle timeouts
	if drops.Load() != 0 {
		t.Fatal("the idle device was dropped: it did not ping")
	}
	if _, err := dev.Pull(ctx, "d:idle-a:idle-b", parley.MessageRange{Limit: 1}); err != nil && !strings.Contains(err.Error(), "not_found") && !strings.Contains(err.Error(), "forbidden") {
		t.Fatalf("a request after the idle time: %v", err)
	}
}

// leanDevice connects one lean device for us on its own poller; both are
// closed when the test ends.
func leanDevice(t *testing.T, tg *Target, us UserSpec, o rawOptions) (*rawConn, *vuser) {
	t.Helper()
	p, err := newRawPoller()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(p.close)
	w := &worker{byID: map[string]*vuser{}, errCodes: map[string]uint64{}}
	u := &vuser{w: w, spec: us, convs: map[string]*seqCheck{}, acked: map[string]uint64{}}
	dev, err := dialRaw(t.Context(), p, (&net.Dialer{}).DialContext, tg.URL, us.Token, "bench", u, o)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = dev.Close() })
	return dev, u
}

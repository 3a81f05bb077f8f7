package client_test

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/parley-im/parley"
	"github.com/parley-im/parley/client"
	"github.com/parley-im/parley/internal/server"
	"github.com/parley-im/parley/wire"
)

func withHooks(h client.Hooks) func(*client.Options) {
	return func(o *client.Options) { *o = client.WithHooks(*o, h) }
}

func hasState(s client.State) func(r *recorder) bool {
	return func(r *recorder) bool { return slices.Contains(r.states, s) }
}

// TestSendSurvivesLostConnection: a send whose connection drops before its
// answer is sent again with the same client message id after the
// reconnection, and stored exactly once.
func TestSendSurvivesLostConnection(t *testing.T) {
	isSend := func(f []byte) bool { return bytes.Contains(f, []byte(`"type":"send"`)) }
	isSendAnswer := func(f []byte) bool { return bytes.Contains(f, []byte(`"dup":`)) }
	for _, tc := range []struct {
		name  string
		hooks func(armed *atomic.Bool) client.Hooks
	}{
		{"request lost", func(armed *atomic.Bool) client.Hooks {
			// Drop the connection right after writing the send: the
			// server may or may not have read it.
			return client.Hooks{Wrote: func(f []byte) bool { return isSend(f) && armed.CompareAndSwap(true, false) }}
		}},
		{"answer lost", func(armed *atomic.Bool) client.Hooks {
			// The server stored the message; its answer is lost.
			return client.Hooks{Received: func(f []byte) client.FrameAction {
				if isSendAnswer(f) && armed.CompareAndSwap(true, false) {
					return client.FrameDrop
				}
				return client.FrameHandle
			}}
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnv(t, "gws")
			e.users("alice", "bob")
			conv := parley.DirectConvID("alice", "bob")
			var armed atomic.Bool
			armed.Store(true)
			h := tc.hooks(&armed)
			var mu sync.Mutex
			var cmids []string
			wrote := h.Wrote
			h.Wrote = func(f []byte) bool {
				if isSend(f) {
					var in wire.In
					_ = json.Unmarshal(f, &in)
					mu.Lock()
					cmids = append(cmids, in.CMID)
					mu.Unlock()
				}
				return wrote != nil && wrote(f)
			}
			alice, ra := e.dial("alice", "phone", withHooks(h))
			_, rb := e.dial("bob", "laptop")

			m, err := alice.Send(ctxT(t), "bob", parley.KindText, text("once"))
			if err != nil {
				t.Fatalf("send: %v", err)
			}
			if armed.Load() {
				t.Fatal("the hook never dropped the connection")
			}
			mu.Lock()
			sent := slices.Clone(cmids)
			mu.Unlock()
			if len(sent) < 2 || sent[0] != sent[1] || sent[0] == "" {
				t.Fatalf("send frames carried client message ids %q, want the same one at least twice", sent)
			}
			if m.ClientMsgID != sent[0] {
				t.Errorf("stored cmid %q, want %q", m.ClientMsgID, sent[0])
			}
			m2, err := alice.Send(ctxT(t), "bob", parley.KindText, text("after"))
			if err != nil {
				t.Fatalf("second send: %v", err)
			}
			hist := e.history(conv)
			if len(hist) != 2 || hist[0].ID != m.ID || hist[1].ID != m2.ID {
				t.Fatalf("history %v, want exactly [%s %s]", ids(hist), m.ID, m2.ID)
			}
			rb.waitCount(t, conv, 2)
			ra.waitCount(t, conv, 2)
			ra.wait(t, "a disconnection", hasState(client.StateDisconnected))
			if got := ids(rb.msgs(conv)); !slices.Equal(got, ids(hist)) {
				t.Fatalf("bob got %v, want %v", got, ids(hist))
			}
		})
	}
}

// waitUntil polls cond; for conditions no callback signals.
func waitUntil(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(waitLimit)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("gave up waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func ids(ms []parley.Message) []string {
	var out []string
	for _, m := range ms {
		out = append(out, m.ID)
	}
	return out
}

// TestDevicesShareMessagesAndReads: three devices of one user all receive
// every message, and when one reads, the others and the peer see the read
// cursor move.
func TestDevicesShareMessagesAndReads(t *testing.T) {
	e := newEnv(t, "gws")
	e.users("alice", "bob")
	conv := parley.DirectConvID("alice", "bob")
	alice, ra := e.dial("alice", "phone")
	var bobs []*client.Client
	var recs []*recorder
	for _, dev := range []struct {
		id string
		p  parley.Platform
	}{{"web", parley.PlatformWeb}, {"ios", parley.PlatformIOS}, {"android", parley.PlatformAndroid}} {
		c, r := e.dial("bob", dev.id, func(o *client.Options) { o.Platform = dev.p })
		bobs, recs = append(bobs, c), append(recs, r)
	}
	ctx := ctxT(t)
	for i := range 3 {
		if _, err := alice.Send(ctx, "bob", "", text(fmt.Sprintf("hi %d", i))); err != nil {
			t.Fatal(err)
		}
	}
	want := ids(e.history(conv))
	for _, r := range append([]*recorder{ra}, recs...) {
		r.waitCount(t, conv, 3)
		if got := ids(r.msgs(conv)); !slices.Equal(got, want) {
			t.Fatalf("%s got %v, want %v", r.name, got, want)
		}
	}

	// The web device reads up to 2: the other two and alice see it.
	st, err := bobs[0].Read(ctx, conv, 2)
	if err != nil {
		t.Fatal(err)
	}
	if st.ReadSeq != 2 || st.Unread != 1 {
		t.Fatalf("after reading: read_seq %d unread %d, want 2 and 1", st.ReadSeq, st.Unread)
	}
	read2 := func(r *recorder) bool {
		return slices.Contains(r.reads, wire.ReadEvent{Conv: conv, User: "bob", Seq: 2})
	}
	for _, r := range []*recorder{recs[1], recs[2], ra} {
		r.wait(t, "bob's read cursor at 2", read2)
	}

	// One device answers; every device and alice see all four.
	if _, err := bobs[1].Send(ctx, "alice", "", text("hello from ios")); err != nil {
		t.Fatal(err)
	}
	want = ids(e.history(conv))
	for _, r := range append([]*recorder{ra}, recs...) {
		r.waitCount(t, conv, 4)
		if got := ids(r.msgs(conv)); !slices.Equal(got, want) {
			t.Fatalf("%s got %v, want %v", r.name, got, want)
		}
	}
	recs[0].mu.Lock()
	for _, ev := range recs[0].reads {
		if ev.User == "bob" {
			t.Errorf("the reading device was told of its own read: %+v", ev)
		}
	}
	recs[0].mu.Unlock()
}

// TestReconnectAfterServerRestart: clients reconnect to a restarted server
// (same address, same data dir) and resync without loss or duplication,
// including messages sent while they were away; alice's client runs over
// each transport.
func TestReconnectAfterServerRestart(t *testing.T) {
	for _, tr := range []string{client.TransportWS, client.TransportLongPoll} {
		t.Run(tr, func(t *testing.T) { testRestart(t, tr) })
	}
}

func testRestart(t *testing.T, transport string) {
	e := newEnv(t, "gws")
	e.users("alice", "bob")
	conv := parley.DirectConvID("alice", "bob")
	alice, ra := e.dial("alice", "phone", func(o *client.Options) { o.Transport = transport })
	bob, rb := e.dial("bob", "laptop")
	ctx := ctxT(t)
	send := func(c *client.Client, to, prefix string) {
		for i := range 5 {
			if _, err := c.Send(ctx, to, "", text(fmt.Sprintf("%s %d", prefix, i))); err != nil {
				t.Fatalf("%s %d: %v", prefix, i, err)
			}
		}
	}
	send(alice, "bob", "before a")
	send(bob, "alice", "before b")
	rb.waitCount(t, conv, 10)
	ra.waitCount(t, conv, 10)

	e.restart()
	// Sent through the server API, likely before the clients are back.
	for i := range 5 {
		e.sendAs("alice", "bob", fmt.Sprintf("while away %d", i))
	}
	send(alice, "bob", "after a")
	send(bob, "alice", "after b")

	want := ids(e.history(conv))
	if len(want) != 25 {
		t.Fatalf("history holds %d messages, want 25", len(want))
	}
	for _, r := range []*recorder{ra, rb} {
		r.waitCount(t, conv, 25)
		if got := ids(r.msgs(conv)); !slices.Equal(got, want) {
			t.Fatalf("%s got %v, want %v", r.name, got, want)
		}
		states, errs := r.stateLog()
		i := slices.Index(states, client.StateDisconnected)
		if i < 0 {
			t.Fatalf("%s never saw a disconnection: %v", r.name, states)
		}
		// The protocol promises close code 1001 on shutdown. A long-poll
		// client that is between polls when the server closes finds the
		// port closed instead, and so, over the gws server transport, does
		// a WebSocket now and then: a known server bug (gwsws's
		// Upgrader.Close closes sockets before their queued close frames
		// are written). Either way the client must reconnect, which the
		// checks above prove; a close code other than 1001 is an error.
		var ce *client.CloseError
		switch {
		case errors.As(errs[i], &ce):
			if ce.Code != wire.CloseGoingAway {
				t.Errorf("%s was disconnected with close code %d, want %d", r.name, ce.Code, wire.CloseGoingAway)
			}
		default:
			t.Logf("%s was disconnected without a close frame: %v", r.name, errs[i])
		}
	}
}

// TestResyncFrame: pushes the client never acknowledges make the server
// send a resync frame, and the resync brings the messages.
func TestResyncFrame(t *testing.T) {
	e := newEnv(t, "gws", func(c *server.Config) {
		c.RetryInterval = time.Second
		c.MaxRetries = 1
	})
	e.users("alice", "bob")
	conv := parley.DirectConvID("alice", "bob")
	var resyncs atomic.Int32
	var deaf atomic.Bool
	bob, rb := e.dial("bob", "laptop", withHooks(client.Hooks{Received: func(f []byte) client.FrameAction {
		switch {
		case bytes.HasPrefix(f, []byte(`{"type":"msg"`)) && deaf.Load():
			return client.FrameDiscard // every push is lost
		case bytes.Equal(f, []byte(`{"type":"resync"}`)):
			resyncs.Add(1)
		}
		return client.FrameHandle
	}}))
	// Once the first sync is done, only a resync brings messages whose
	// pushes are lost.
	waitUntil(t, "the first sync", func() bool { return bob.Resyncs() > 0 })
	deaf.Store(true)
	for i := range 3 {
		e.sendAs("alice", "bob", fmt.Sprintf("lost push %d", i))
	}
	rb.waitCount(t, conv, 3)
	if resyncs.Load() == 0 {
		t.Fatal("messages arrived without a resync frame, yet every push was discarded")
	}
}

// TestHeartbeatTimeout: a connection on which nothing arrives for two
// heartbeats is dropped and replaced, and nothing is lost meanwhile.
func TestHeartbeatTimeout(t *testing.T) {
	e := newEnv(t, "gws", func(c *server.Config) { c.Heartbeat = time.Second })
	e.users("alice", "bob")
	conv := parley.DirectConvID("alice", "bob")
	var deaf atomic.Bool
	_, rb := e.dial("bob", "laptop", withHooks(client.Hooks{Received: func(f []byte) client.FrameAction {
		if !deaf.Load() {
			return client.FrameHandle
		}
		if bytes.Contains(f, []byte(`"heartbeat":`)) {
			deaf.Store(false) // the auth answer of the next connection
			return client.FrameHandle
		}
		return client.FrameDiscard
	}}))
	deaf.Store(true)
	e.sendAs("alice", "bob", "unheard push")
	rb.wait(t, "a disconnection", hasState(client.StateDisconnected))
	rb.waitCount(t, conv, 1)
	states, errs := rb.stateLog()
	i := slices.Index(states, client.StateDisconnected)
	if !errors.Is(errs[i], client.ErrHeartbeat) {
		t.Fatalf("disconnected by %v, want %v", errs[i], client.ErrHeartbeat)
	}
}

// TestGapPulledBeforeDelivery: a push that arrives ahead of a lost one
// makes the client pull the gap, so messages still come in order.
func TestGapPulledBeforeDelivery(t *testing.T) {
	e := newEnv(t, "gws")
	e.users("alice", "bob")
	conv := parley.DirectConvID("alice", "bob")
	var armed atomic.Bool
	var pulls atomic.Int32
	bob, rb := e.dial("bob", "laptop", withHooks(client.Hooks{
		Received: func(f []byte) client.FrameAction {
			if bytes.HasPrefix(f, []byte(`{"type":"msg"`)) && armed.CompareAndSwap(true, false) {
				return client.FrameDiscard // the first push is lost
			}
			return client.FrameHandle
		},
		Wrote: func(f []byte) bool {
			if bytes.Contains(f, []byte(`"type":"pull"`)) {
				pulls.Add(1)
			}
			return false
		},
	}))
	waitUntil(t, "the first sync", func() bool { return bob.Resyncs() > 0 })
	pulls.Store(0)
	armed.Store(true)
	e.sendAs("alice", "bob", "lost push")
	e.sendAs("alice", "bob", "pushed")
	rb.waitCount(t, conv, 2)
	if got := []string{textOf(rb.msgs(conv)[0]), textOf(rb.msgs(conv)[1])}; !slices.Equal(got, []string{"lost push", "pushed"}) {
		t.Fatalf("got %q", got)
	}
	if pulls.Load() == 0 {
		t.Fatal("the lost push arrived without a pull")
	}
}

// TestResyncManyConversations: a client that was away from more
// conversations than one sync page holds catches up on all of them.
func TestResyncManyConversations(t *testing.T) {
	const n = wire.MaxLimit + 10 // more conversations than a sync page holds
	e := newEnv(t, "gws")
	var senders []string
	for i := range n {
		senders = append(senders, fmt.Sprintf("u%03d", i))
	}
	e.users(append(senders, "bob")...)
	var wg sync.WaitGroup
	for w := range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := w; i < n; i += 4 {
				e.sendAs(senders[i], "bob", "one")
			}
		}()
	}
	wg.Wait()
	_, rb := e.dial("bob", "laptop")
	rb.wait(t, "every conversation", func(r *recorder) bool {
		for _, s := range senders {
			if len(r.convs[parley.DirectConvID(s, "bob")]) < 1 {
				return false
			}
		}
		return true
	})
}

// TestAcksWithinRetryInterval: the client acknowledges every push well
// within the retry interval its server names in the auth answer, so that
// none is sent twice, however short the server's interval.
func TestAcksWithinRetryInterval(t *testing.T) {
	const retry = 600 * time.Millisecond
	e := newEnv(t, "gws", func(c *server.Config) { c.RetryInterval = retry })
	e.users("alice", "bob")
	var mu sync.Mutex
	got := map[uint64]time.Time{}   // push n -> when it arrived
	acked := map[uint64]time.Time{} // push n -> when its ack was written
	twice := 0
	_, rb := e.dial("bob", "laptop", withHooks(client.Hooks{
		Received: func(f []byte) client.FrameAction {
			var p struct {
				Type string `json:"type"`
				N    uint64 `json:"n"`
			}
			if json.Unmarshal(f, &p) == nil && p.Type == wire.TMsg {
				mu.Lock()
				if _, ok := got[p.N]; ok {
					twice++
				}
				got[p.N] = time.Now()
				mu.Unlock()
			}
			return client.FrameHandle
		},
		Wrote: func(f []byte) bool {
			var a struct {
				Type string   `json:"type"`
				N    []uint64 `json:"n"`
			}
			if json.Unmarshal(f, &a) == nil && a.Type == wire.TAck {
				mu.Lock()
				for _, n := range a.N {
					acked[n] = time.Now()
				}
				mu.Unlock()
			}
			return false
		},
	}))
	const msgs = 4
	for i := range msgs {
		e.sendAs("alice", "bob", fmt.Sprintf("push %d", i))
		time.Sleep(retry / 2)
	}
	rb.waitCount(t, parley.DirectConvID("alice", "bob"), msgs)
	waitUntil(t, "every push acknowledged", func() bool {
		mu.Lock()
		defer mu.Unlock()
		return len(acked) >= msgs
	})
	time.Sleep(2 * time.Second) // past the server's next retransmission check
	mu.Lock()
	defer mu.Unlock()
	for n, at := range got {
		a, ok := acked[n]
		switch {
		case !ok:
			t.Errorf("push %d was never acknowledged", n)
		case a.Sub(at) >= retry:
			t.Errorf("push %d was acknowledged %v after it arrived, not within the retry interval %v", n, a.Sub(at), retry)
		}
	}
	if twice > 0 {
		t.Errorf("%d pushes arrived twice: acknowledged too late", twice)
	}
}

package client_test

import (
	"context"
	"fmt"
	"net"
	"sync"
	"testing"

	"github.com/parley-im/parley"
	"github.com/parley-im/parley/client"
)

// chatBothWays has alice and bob send n messages each to the other at the
// same time, and checks that both see the same 2n messages, in order, once
// each, and that what Send returned is what everyone received.
func chatBothWays(t *testing.T, e *env, alice, bob *client.Client, ra, rb *recorder, n int) {
	t.Helper()
	conv := parley.DirectConvID("alice", "bob")
	sent := make(map[string]parley.Message)
	var mu sync.Mutex
	var wg sync.WaitGroup
	ctx := ctxT(t)
	for _, side := range []struct {
		c    *client.Client
		from string
		to   string
	}{{alice, "alice", "bob"}, {bob, "bob", "alice"}} {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range n {
				m, err := side.c.Send(ctx, side.to, parley.KindText, text(fmt.Sprintf("%s %d", side.from, i)))
				if err != nil {
					t.Errorf("%s send %d: %v", side.from, i, err)
					return
				}
				mu.Lock()
				sent[m.ID] = *m
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	if t.Failed() {
		t.FailNow()
	}
	ra.waitCount(t, conv, 2*n)
	rb.waitCount(t, conv, 2*n)
	got, other := ra.msgs(conv), rb.msgs(conv)
	if len(got) != 2*n || len(other) != 2*n {
		t.Fatalf("alice got %d messages, bob %d, want %d each", len(got), len(other), 2*n)
	}
	next := map[string]int{}
	for i, m := range got {
		if other[i].ID != m.ID {
			t.Fatalf("message %d: alice got %s, bob got %s", i, m.ID, other[i].ID)
		}
		s, ok := sent[m.ID]
		if !ok || s.Seq != m.Seq || string(s.Body) != string(m.Body) {
			t.Fatalf("message %d (%s %q) is not what Send returned (%+v)", i, m.ID, textOf(m), s)
		}
		// Each sender's messages keep their order.
		if want := fmt.Sprintf("%s %d", m.Sender, next[m.Sender]); textOf(m) != want {
			t.Fatalf("message %d from %s is %q, want %q", i, m.Sender, textOf(m), want)
		}
		next[m.Sender]++
	}
	if h := e.history(conv); len(h) != 2*n {
		t.Fatalf("history holds %d messages, want %d", len(h), 2*n)
	}
}

// TestChatWebSocket: two users chat both ways over WebSocket, on both
// server transports.
func TestChatWebSocket(t *testing.T) {
	for _, tr := range []string{"gws", "nbio"} {
		t.Run(tr, func(t *testing.T) {
			e := newEnv(t, tr)
			e.users("alice", "bob")
			alice, ra := e.dial("alice", "phone")
			bob, rb := e.dial("bob", "laptop")
			chatBothWays(t, e, alice, bob, ra, rb, 30)
		})
	}
}

// TestChatLongPollWithWebSocket: a long-poll client and a WebSocket client
// chat both ways.
func TestChatLongPollWithWebSocket(t *testing.T) {
	e := newEnv(t, "gws")
	e.users("alice", "bob")
	alice, ra := e.dial("alice", "browser", func(o *client.Options) { o.Transport = client.TransportLongPoll })
	bob, rb := e.dial("bob", "laptop")
	chatBothWays(t, e, alice, bob, ra, rb, 30)
}

// TestOfflineRecipientGetsEverything: 1,000 messages sent while bob is
// offline all reach him when he connects, in order, once each.
func TestOfflineRecipientGetsEverything(t *testing.T) {
	const n = 1000
	e := newEnv(t, "gws")
	e.users("alice", "bob")
	conv := parley.DirectConvID("alice", "bob")
	var wg sync.WaitGroup
	const workers = 4
	for w := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := w; i < n; i += workers {
				e.sendAs("alice", "bob", fmt.Sprintf("m%d", i))
			}
		}()
	}
	wg.Wait()

	_, rb := e.dial("bob", "phone")
	rb.waitCount(t, conv, n)
	got := rb.msgs(conv)
	seen := make(map[string]bool)
	for _, m := range got {
		if seen[textOf(m)] {
			t.Fatalf("%q delivered twice", textOf(m))
		}
		seen[textOf(m)] = true
	}
	for i := range n {
		if !seen[fmt.Sprintf("m%d", i)] {
			t.Fatalf("m%d never delivered", i)
		}
	}
	// The recorder checked seq 1..n in order; n delivered, so none extra.
	if len(got) != n {
		t.Fatalf("got %d messages, want %d", len(got), n)
	}
}

// TestDialContextChoosesSourceAddress: Options.DialContext opens the
// connections of both transports, so a client can pick its source address
// (the benchmark spreads connections over 127.0.0.2...).
func TestDialContextChoosesSourceAddress(t *testing.T) {
	e := newEnv(t, "gws")
	e.users("alice", "bob")
	var mu sync.Mutex
	var locals []string
	dial := func(ctx context.Context, network, addr string) (net.Conn, error) {
		d := net.Dialer{LocalAddr: &net.TCPAddr{IP: net.IPv4(127, 0, 0, 2)}}
		c, err := d.DialContext(ctx, network, addr)
		if err == nil {
			mu.Lock()
			locals = append(locals, c.LocalAddr().(*net.TCPAddr).IP.String())
			mu.Unlock()
		}
		return c, err
	}
	alice, ra := e.dial("alice", "phone", func(o *client.Options) { o.DialContext = dial })
	bob, rb := e.dial("bob", "browser", func(o *client.Options) {
		o.DialContext = dial
		o.Transport = client.TransportLongPoll
	})
	chatBothWays(t, e, alice, bob, ra, rb, 3)
	mu.Lock()
	defer mu.Unlock()
	if len(locals) < 2 {
		t.Fatalf("DialContext opened %d connections, want at least 2 (one per transport)", len(locals))
	}
	for _, ip := range locals {
		if ip != "127.0.0.2" {
			t.Fatalf("a connection came from %s, want 127.0.0.2", ip)
		}
	}
}

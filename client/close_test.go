package client_test

import (
	"context"
	"errors"
	"slices"
	"testing"

	"github.com/parley-im/parley"
	"github.com/parley-im/parley/client"
	"github.com/parley-im/parley/wire"
)

// expectFinal waits for c to end with close code code, then checks that
// it never reconnected and that calls fail with the same error.
func expectFinal(t *testing.T, c *client.Client, r *recorder, code int) {
	t.Helper()
	r.wait(t, "the end of the client", hasState(client.StateClosed))
	<-c.Done()
	var ce *client.CloseError
	if err := c.Err(); !errors.As(err, &ce) || ce.Code != code {
		t.Fatalf("client ended with %v, want close code %d", err, code)
	}
	// StateConnected may be missing: events still queued when the client
	// ends are dropped. What matters is that it never reconnected.
	states, _ := r.stateLog()
	if slices.Contains(states, client.StateDisconnected) || states[len(states)-1] != client.StateClosed {
		t.Errorf("states %v, want [connected] closed", states)
	}
	_, err := c.Send(ctxT(t), "bob", "", text("too late"))
	if !errors.As(err, &ce) || ce.Code != code {
		t.Errorf("send after the end: %v, want close code %d", err, code)
	}
}

// TestKicked: a revoked session ends with close code 4003 and the client
// does not reconnect, over both transports.
func TestKicked(t *testing.T) {
	for _, tr := range []string{client.TransportWS, client.TransportLongPoll} {
		t.Run(tr, func(t *testing.T) {
			e := newEnv(t, "gws")
			e.users("alice", "bob")
			alice, ra := e.dial("alice", "phone", func(o *client.Options) { o.Transport = tr })
			e.api("POST", "/v1/server/users/alice/revoke", nil, nil)
			expectFinal(t, alice, ra, wire.CloseKicked)
		})
	}
}

// TestReplaced: a second connection of the same device replaces the first,
// which ends with close code 4004 instead of fighting back.
func TestReplaced(t *testing.T) {
	e := newEnv(t, "gws")
	e.users("alice", "bob")
	old, rOld := e.dial("alice", "phone")
	newer, rNew := e.dial("alice", "phone")
	expectFinal(t, old, rOld, wire.CloseReplaced)
	if _, err := newer.Send(ctxT(t), "bob", "", text("still here")); err != nil {
		t.Fatalf("the newer connection: %v", err)
	}
	rNew.waitCount(t, parley.DirectConvID("alice", "bob"), 1)
}

// TestBadToken: Dial reports a refused token as unauthorized.
func TestBadToken(t *testing.T) {
	e := newEnv(t, "gws")
	for _, tr := range []string{client.TransportWS, client.TransportLongPoll} {
		_, err := client.Dial(ctxT(t), client.Options{URL: e.url(), Token: "not-a-token", Device: "d", Transport: tr})
		if parley.ErrorCode(err) != parley.EUnauthorized {
			t.Errorf("%s: dial with a bad token: %v, want code %s", tr, err, parley.EUnauthorized)
		}
	}
}

// TestNoReconnect: with NoReconnect, a lost connection ends the client.
func TestNoReconnect(t *testing.T) {
	e := newEnv(t, "gws")
	e.users("alice", "bob")
	alice, ra := e.dial("alice", "phone", func(o *client.Options) { o.NoReconnect = true })
	alice.Drop()
	ra.wait(t, "the end of the client", hasState(client.StateClosed))
	if alice.Err() == nil {
		t.Fatal("Err is nil after the client ended")
	}
	if _, err := alice.Send(ctxT(t), "bob", "", text("x")); err == nil {
		t.Fatal("send succeeded on an ended client")
	}
}

// TestRequestErrors: refused requests come back as *parley.Error with the
// server's code; pending and later calls fail with ErrClosed after Close.
func TestRequestErrors(t *testing.T) {
	e := newEnv(t, "gws")
	e.users("alice", "bob")
	alice, _ := e.dial("alice", "phone")
	ctx := ctxT(t)
	if _, err := alice.Send(ctx, "nobody", "", text("hi")); parley.ErrorCode(err) != parley.ENotFound {
		t.Errorf("send to an unknown user: %v, want %s", err, parley.ENotFound)
	}
	if _, err := alice.Send(ctx, "bob", "", []byte(`{"txt":"hi"}`)); parley.ErrorCode(err) != parley.EInvalid {
		t.Errorf("send of a bad body: %v, want %s", err, parley.EInvalid)
	}
	if _, err := alice.Pull(ctx, "d:bob:carol", parley.MessageRange{}); parley.ErrorCode(err) != parley.EForbidden {
		t.Errorf("pull of another's conversation: %v, want %s", err, parley.EForbidden)
	}
	if err := alice.Ping(ctx); err != nil {
		t.Errorf("ping: %v", err)
	}
	convs, err := alice.Conversations(ctx, 0, 0)
	if err != nil || len(convs.Convs) != 0 {
		t.Errorf("conversations: %+v, %v; want none", convs, err)
	}
	alice.Close()
	if _, err := alice.Send(context.Background(), "bob", "", text("hi")); !errors.Is(err, client.ErrClosed) {
		t.Errorf("send after Close: %v, want ErrClosed", err)
	}
}

package client_test

import (
	"sync"
	"testing"
	"time"

	"github.com/parley-im/parley"
	"github.com/parley-im/parley/client"
	"github.com/parley-im/parley/wire"
)

// typingLog records the typing indicators a client is told of.
type typingLog struct {
	mu  sync.Mutex
	got []wire.TypingEvent
}

func (l *typingLog) add(ev wire.TypingEvent) {
	l.mu.Lock()
	l.got = append(l.got, ev)
	l.mu.Unlock()
}

func (l *typingLog) events() []wire.TypingEvent {
	l.mu.Lock()
	defer l.mu.Unlock()
	return append([]wire.TypingEvent(nil), l.got...)
}

// TestTyping: alice's typing indicator reaches bob, the other member, and
// not carol; it is rate limited per conversation; a non-member may not
// send one; nothing is stored.
func TestTyping(t *testing.T) {
	for _, tr := range []string{"gws", "nbio"} {
		t.Run(tr, func(t *testing.T) {
			e := newEnv(t, tr)
			e.users("alice", "bob", "carol")
			var bobLog, carolLog typingLog
			alice, _ := e.dial("alice", "phone")
			e.dial("bob", "laptop", func(o *client.Options) { o.OnTyping = bobLog.add })
			carol, _ := e.dial("carol", "tablet", func(o *client.Options) { o.OnTyping = carolLog.add })
			ctx := ctxT(t)
			conv := parley.DirectConvID("alice", "bob")

			if err := alice.Typing(ctx, conv); err != nil {
				t.Fatalf("Typing: %v", err)
			}
			deadline := time.Now().Add(5 * time.Second)
			for len(bobLog.events()) == 0 && time.Now().Before(deadline) {
				time.Sleep(5 * time.Millisecond)
			}
			if got := bobLog.events(); len(got) != 1 || got[0] != (wire.TypingEvent{Conv: conv, User: "alice"}) {
				t.Fatalf("bob was told %+v, want alice typing in %s once", got, conv)
			}
			if err := alice.Typing(ctx, conv); parley.ErrorCode(err) != parley.ERateLimited {
				t.Fatalf("a second indicator within a second: %v, want rate_limited", err)
			}
			if err := carol.Typing(ctx, conv); parley.ErrorCode(err) != parley.EForbidden {
				t.Fatalf("carol typing in alice and bob's conversation: %v, want forbidden", err)
			}
			if err := carol.Typing(ctx, parley.DirectConvID(parley.SystemUserID, "carol")); parley.ErrorCode(err) != parley.EForbidden {
				t.Fatalf("typing in a system conversation: %v, want forbidden", err)
			}
			// A round trip to carol's server session after the push to
			// bob: had carol been told, she would have been by now.
			if _, err := carol.Conversations(ctx, 0, 0); err != nil {
				t.Fatal(err)
			}
			if got := carolLog.events(); len(got) != 0 {
				t.Fatalf("carol was told %+v", got)
			}
			if msgs := e.history(conv); len(msgs) != 0 {
				t.Fatalf("typing stored %d messages", len(msgs))
			}
		})
	}
}

package server_test

import (
	"context"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/parley-im/parley"
	"github.com/parley-im/parley/internal/notify"
	"github.com/parley-im/parley/internal/server"
)

// pushLog is a Notifier that records what it is handed.
type pushLog struct {
	mu sync.Mutex
	ps []notify.Push
}

func (l *pushLog) Notify(_ context.Context, ps []notify.Push) error {
	l.mu.Lock()
	l.ps = append(l.ps, ps...)
	l.mu.Unlock()
	return nil
}

// settle waits until the log holds want notifications and no more come
// for a moment, and returns them as "user conv seq title: preview".
func (l *pushLog) settle(t *testing.T, want int) []string {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for {
		l.mu.Lock()
		n := len(l.ps)
		l.mu.Unlock()
		if n >= want || time.Now().After(deadline) {
			break
		}
		time.Sleep(10 * time.Millisecond)
	}
	time.Sleep(200 * time.Millisecond) // anything extra would arrive by now
	l.mu.Lock()
	defer l.mu.Unlock()
	var out []string
	for _, p := range l.ps {
		out = append(out, fmt.Sprintf("%s %s %d %s: %s", p.UserID, p.ConvID, p.Seq, p.Title, p.Preview))
	}
	l.ps = nil
	return out
}

// TestOfflinePushExactlyOncePerMessage: a user with no online device gets
// one notification per message, whatever retries the sender made; never
// for a muted conversation, a recall or a group's membership notice; and
// none once a device of theirs is online.
func TestOfflinePushExactlyOncePerMessage(t *testing.T) {
	log := &pushLog{}
	n := startNode(t, "gws", func(c *server.Config) { c.Notifier = log })
	n.users(t, "alice", "bob", "carol")
	dm := parley.DirectConvID("alice", "bob")

	bob := dialWS(t, n)
	bob.auth(t, n.token(t, "bob"), "b1")
	for i, cmid := range []string{"c1", "c2", "c2", "c3", "c1"} { // two retries
		bob.request(t, fmt.Sprintf(`{"type":"send","id":"s%d","to":"alice","cmid":%q,"body":{"text":"hello %d\n  there"}}`, i, cmid, i))
	}
	got := log.settle(t, 3)
	want := []string{
		"alice " + dm + " 1 BOB: hello 0 there",
		"alice " + dm + " 2 BOB: hello 1 there",
		"alice " + dm + " 3 BOB: hello 3 there",
	}
	if !slices.Equal(got, want) {
		t.Fatalf("notifications for 5 sends (2 retries) to offline alice:\n got %q\nwant %q", got, want)
	}

	// A recall notifies nobody; a long text is cut.
	bob.request(t, `{"type":"send","id":"r","conv":"`+dm+`","kind":"recall","body":{"seq":3}}`)
	long := ""
	for range 30 {
		long += "word "
	}
	bob.request(t, `{"type":"send","id":"l","to":"alice","body":{"text":"`+long+`"}}`)
	got = log.settle(t, 1)
	if len(got) != 1 || len([]rune(got[0])) > len("alice "+dm+" 5 BOB: ")+notify.MaxPreviewRunes {
		t.Fatalf("after a recall and a long text: got %q, want one clipped notification (seq 5)", got)
	}

	// Muted: nothing from carol, though alice is still offline.
	cd := parley.DirectConvID("alice", "carol")
	if st := n.api(t, "POST", "/v1/server/users/alice/conversations/"+cd+"/settings", map[string]any{"mute": true}, nil); st != 200 {
		t.Fatalf("mute: status %d", st)
	}
	if st := n.api(t, "POST", "/v1/server/messages", map[string]any{"from": "carol", "to": "alice", "body": map[string]string{"text": "muted"}}, nil); st != 200 {
		t.Fatalf("send: status %d", st)
	}

	// A group: its creation notice notifies nobody; a message notifies
	// each offline member but the sender.
	if st := n.api(t, "POST", "/v1/server/groups", map[string]any{"id": "team", "owner": "bob", "name": "Team", "members": []string{"alice", "carol"}}, nil); st != 200 {
		t.Fatalf("create group: status %d", st)
	}
	gc := parley.GroupConvID("team")
	img := map[string]any{"file": "aaaaaaaaaaaaaaaaaaaaaaaaaa", "size": 1, "mime": "image/png"}
	if st := n.api(t, "POST", "/v1/server/messages", map[string]any{"from": "bob", "conv": gc, "kind": "image", "body": img}, nil); st != 200 {
		t.Fatalf("send an image: status %d", st)
	}
	got = log.settle(t, 2)
	slices.Sort(got)
	want = []string{"alice " + gc + " 2 BOB: [Image]", "carol " + gc + " 2 BOB: [Image]"}
	if !slices.Equal(got, want) {
		t.Fatalf("group message with alice and carol offline (carol's mute of another conversation irrelevant):\n got %q\nwant %q", got, want)
	}

	// Online: nothing for alice, still one for carol.
	alice := dialWS(t, n)
	alice.auth(t, n.token(t, "alice"), "phone")
	bob.request(t, `{"type":"send","id":"g2","conv":"`+gc+`","body":{"text":"hi all"}}`)
	if got = log.settle(t, 1); !slices.Equal(got, []string{"carol " + gc + " 3 BOB: hi all"}) {
		t.Fatalf("with alice online: got %q, want carol's only", got)
	}
	// A system notice with variants is previewed in the variant for the
	// recipient's role.
	notice := map[string]any{"to": "carol", "kind": "system", "body": map[string]string{"text": "default"},
		"variants": []map[string]any{{"role": "user", "body": map[string]string{"text": "for users"}}, {"role": "agent", "body": map[string]string{"text": "for agents"}}}}
	if st := n.api(t, "POST", "/v1/server/messages", notice, nil); st != 200 {
		t.Fatalf("send a notice with variants: status %d", st)
	}
	sys := parley.DirectConvID(parley.SystemUserID, "carol")
	if got = log.settle(t, 1); !slices.Equal(got, []string{"carol " + sys + " 1 _system: for users"}) {
		t.Fatalf("a notice with variants: got %q, want carol's, in the user variant", got)
	}
	n.waitMetrics(t, nil, map[string]float64{
		`parley_offline_pushes_total{outcome="notified"}`: 8,
		`parley_offline_pushes_total{outcome="muted"}`:    1,
	})
}

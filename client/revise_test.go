package client_test

import (
	"encoding/json"
	"testing"
	"time"

	"github.com/parley-im/parley"
	"github.com/parley-im/parley/internal/server"
)

// TestRecallAndEdit: alice edits one message and recalls another while
// bob is offline; bob, connecting later, receives the revised messages and
// both events in seq order (the recalled text never reaches him), and
// history shows the revised messages. Only the
// sender may revise, and only within the windows.
func TestRecallAndEdit(t *testing.T) {
	e := newEnv(t, "gws", func(c *server.Config) { c.RecallWindow = time.Second })
	e.users("alice", "bob")
	alice, _ := e.dial("alice", "phone")
	ctx := ctxT(t)
	conv := parley.DirectConvID("alice", "bob")

	m1, err := alice.Send(ctx, "bob", "", text("hello"))
	if err != nil {
		t.Fatal(err)
	}
	m2, err := alice.Send(ctx, "bob", "", text("oops"))
	if err != nil {
		t.Fatal(err)
	}
	ed, err := alice.Edit(ctx, conv, m1.Seq, "hello, bob")
	if err != nil {
		t.Fatalf("Edit: %v", err)
	}
	rc, err := alice.Recall(ctx, conv, m2.Seq)
	if err != nil {
		t.Fatalf("Recall: %v", err)
	}
	if ed.Seq != 3 || rc.Seq != 4 || ed.Kind != parley.KindEdit || rc.Kind != parley.KindRecall {
		t.Fatalf("events: edit %+v, recall %+v; want seqs 3 and 4", ed, rc)
	}

	// bob was offline: he converges on connecting.
	bob, rb := e.dial("bob", "laptop")
	rb.waitCount(t, conv, 4)
	var kinds []parley.Kind
	for _, m := range rb.msgs(conv) {
		kinds = append(kinds, m.Kind)
	}
	// He pulls history as it is now: message 2 already recalled (its
	// text gone), message 1 already edited; then the two events.
	want := []parley.Kind{parley.KindText, parley.KindRecalled, parley.KindEdit, parley.KindRecall}
	if len(kinds) != 4 {
		t.Fatalf("bob got %v", kinds)
	}
	for i := range want {
		if kinds[i] != want[i] {
			t.Fatalf("bob got kinds %v, want %v", kinds, want)
		}
	}
	// History shows the revised messages.
	h := e.history(conv)
	if len(h) != 4 || h[1].Kind != parley.KindRecalled || string(h[1].Body) != `{}` {
		t.Fatalf("history: %+v", h)
	}
	var edited struct {
		Text   string `json:"text"`
		Edited uint64 `json:"edited"`
	}
	if err := json.Unmarshal(h[0].Body, &edited); err != nil || edited.Text != "hello, bob" || edited.Edited != 3 {
		t.Fatalf("edited message in history: %s", h[0].Body)
	}

	// Search finds the edited words, not the replaced or recalled ones.
	for q, want := range map[string]int{"bob": 1, "oops": 0} {
		res, err := alice.Search(ctx, parley.SearchQuery{Text: q, ConvID: conv})
		if err != nil {
			t.Fatalf("search %q: %v", q, err)
		}
		if len(res.Msgs) != want {
			t.Errorf("search %q found %d messages, want %d: %+v", q, len(res.Msgs), want, res.Msgs)
		}
	}
	for _, tc := range []struct {
		name string
		do   func() error
		code string
	}{
		{"bob recalls alice's message", func() error { _, err := bob.Recall(ctx, conv, m1.Seq); return err }, parley.EForbidden},
		{"bob edits alice's message", func() error { _, err := bob.Edit(ctx, conv, m1.Seq, "x"); return err }, parley.EForbidden},
		{"a second recall", func() error { _, err := alice.Recall(ctx, conv, m2.Seq); return err }, parley.EInvalid},
		{"recalling an event", func() error { _, err := alice.Recall(ctx, conv, ed.Seq); return err }, parley.EInvalid},
		{"a message that does not exist", func() error { _, err := alice.Edit(ctx, conv, 99, "x"); return err }, parley.ENotFound},
	} {
		if err := tc.do(); parley.ErrorCode(err) != tc.code {
			t.Errorf("%s: %v, want %s", tc.name, err, tc.code)
		}
	}
	// Past the recall window (1 s here), the sender may still edit.
	m5, err := alice.Send(ctx, "bob", "", text("late"))
	if err != nil {
		t.Fatal(err)
	}
	time.Sleep(1100 * time.Millisecond)
	if _, err := alice.Recall(ctx, conv, m5.Seq); parley.ErrorCode(err) != parley.EForbidden {
		t.Fatalf("recall past the window: %v, want forbidden", err)
	}
	if _, err := alice.Edit(ctx, conv, m5.Seq, "later"); err != nil {
		t.Fatalf("edit within its window: %v", err)
	}
}

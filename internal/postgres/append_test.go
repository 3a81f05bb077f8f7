package postgres_test

import (
	"fmt"
	"sync"
	"testing"

	"github.com/parley-im/parley"
	"github.com/parley-im/parley/internal/postgres"
)

func ensureDirect(t testing.TB, s *postgres.Store, app string, pairs ...[2]string) []string {
	t.Helper()
	var convs []parley.Conversation
	var ids []string
	for _, p := range pairs {
		id := parley.DirectConvID(p[0], p[1])
		convs = append(convs, parley.Conversation{AppID: app, ID: id, Kind: parley.ConvDirect, Members: p[:]})
		ids = append(ids, id)
	}
	if err := s.EnsureConversations(t.Context(), convs); err != nil {
		t.Fatal(err)
	}
	return ids
}

func text(app, conv, id, sender, cmid string) *parley.Message {
	return &parley.Message{AppID: app, ConvID: conv, ID: id, Sender: sender, ClientMsgID: cmid,
		Kind: parley.KindText, Body: []byte(`{"text":"a"}`), Time: 1}
}

// TestAppendAllOrNothing: a batch that fails (here on a repeated message
// id) stores nothing, leaves its input untouched, and leaves the
// connection usable: the next batches commit, with the seqs the failed
// one did not take.
func TestAppendAllOrNothing(t *testing.T) {
	ctx := t.Context()
	s, _ := mustOpen(t, postgres.WithMaxConns(1)) // one connection: the failed one is reused
	conv := ensureDirect(t, s, "app", [2]string{"alice", "bob"})[0]
	first := text("app", conv, "m1", "alice", "c1")
	same := *first
	same.ClientMsgID = "c2"
	res, err := s.Append(ctx, []*parley.Message{first, &same})
	if got := parley.ErrorCode(err); got != parley.EInternal || res != nil {
		t.Fatalf("Append with a repeated id: got %v, error %v (code %q), want no results and code %q", res, err, got, parley.EInternal)
	}
	if first.Seq != 0 || same.Seq != 0 {
		t.Errorf("input after a failed Append: got seqs %d and %d, want 0 and 0", first.Seq, same.Seq)
	}
	for i := range 3 {
		m := text("app", conv, fmt.Sprintf("n%d", i), "bob", "")
		if res, err := s.Append(ctx, []*parley.Message{m}); err != nil || res[0].Err != nil || m.Seq != uint64(i+1) {
			t.Fatalf("Append %d after a failed one: got %v, %v, seq %d; want seq %d", i, res, err, m.Seq, i+1)
		}
	}
	ch, err := s.Changes(ctx, "app", "alice", 0, 10)
	if err != nil || len(ch) != 1 || ch[0].LastSeq != 3 || ch[0].ReadSeq != 0 {
		t.Errorf("Changes after a failed and three good Appends: got %+v, %v, want LastSeq 3, ReadSeq 0", ch, err)
	}
	// A batch of duplicates only also ends its transaction.
	again := text("app", conv, "n9", "bob", "")
	again.ClientMsgID = ""
	dup := text("app", conv, "x", "alice", "c9")
	if _, err := s.Append(ctx, []*parley.Message{dup}); err != nil {
		t.Fatal(err)
	}
	retry := text("app", conv, "y", "alice", "c9")
	if res, err := s.Append(ctx, []*parley.Message{retry}); err != nil || !res[0].Dup || retry.ID != "x" {
		t.Fatalf("retried send: got %v, %v, id %s; want the stored duplicate x", res, err, retry.ID)
	}
	if res, err := s.Append(ctx, []*parley.Message{again}); err != nil || res[0].Err != nil || again.Seq != 5 {
		t.Fatalf("Append after a duplicates-only batch: got %v, %v, seq %d; want seq 5", res, err, again.Seq)
	}
}

// TestAppendSameClientIDConcurrently: a client id is one message per
// sender across conversations too. When two nodes store the same (app,
// sender, client id) at once in two conversations, one stores it and the
// other finds it (its transaction hits the unique index, rolls back and
// runs again), and no conversation is left with a gap.
func TestAppendSameClientIDConcurrently(t *testing.T) {
	ctx := t.Context()
	s1, dsn := mustOpen(t)
	s2 := mustOpenDSN(t, dsn)
	convs := ensureDirect(t, s1, "app", [2]string{"alice", "bob"}, [2]string{"alice", "carol"},
		[2]string{"dave", "erin"}, [2]string{"dave", "fred"})
	for round := range 20 {
		cmid := fmt.Sprintf("c%d", round)
		msgs := []*parley.Message{
			text("app", convs[0], fmt.Sprintf("r%d-a", round), "alice", cmid),
			text("app", convs[1], fmt.Sprintf("r%d-b", round), "alice", cmid),
		}
		res := make([]parley.AppendResult, 2)
		var wg sync.WaitGroup
		for i, st := range []*postgres.Store{s1, s2} {
			// Filler messages in conversations of their own make the
			// two transactions overlap, so that the second one's look
			// for duplicates often comes before the first one's commit.
			batch := []*parley.Message{msgs[i]}
			for j := range 200 {
				batch = append(batch, text("app", convs[2+i], fmt.Sprintf("r%d-%d-%d", round, i, j), "dave", ""))
			}
			wg.Go(func() {
				r, err := st.Append(ctx, batch)
				if err != nil {
					t.Errorf("round %d: Append %d: %v", round, i, err)
					return
				}
				res[i] = r[0]
			})
		}
		wg.Wait()
		if res[0].Dup == res[1].Dup || msgs[0].ID != msgs[1].ID {
			t.Fatalf("round %d: got dups %v %v, ids %s %s; want one stored and the other its duplicate",
				round, res[0].Dup, res[1].Dup, msgs[0].ID, msgs[1].ID)
		}
	}
	total := 0
	for _, c := range convs[:2] {
		got, err := s1.Messages(ctx, "app", c, parley.MessageRange{Limit: 100})
		if err != nil {
			t.Fatal(err)
		}
		for i, m := range got {
			if m.Seq != uint64(i+1) {
				t.Fatalf("%s: message %d has seq %d: a gap", c, i, m.Seq)
			}
		}
		total += len(got)
	}
	if total != 20 {
		t.Errorf("stored %d messages over 20 rounds, want 20", total)
	}
}

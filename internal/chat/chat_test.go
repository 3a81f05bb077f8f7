package chat_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/parley-im/parley"
	"github.com/parley-im/parley/internal/chat"
	"github.com/parley-im/parley/internal/sqlite"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

type pushes struct {
	mu sync.Mutex
	ds []parley.Delivery
}

func (p *pushes) Push(_ context.Context, ds []parley.Delivery) error {
	p.mu.Lock()
	p.ds = append(p.ds, ds...)
	p.mu.Unlock()
	return nil
}

func (p *pushes) count() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return len(p.ds)
}

// openStore opens a real SQLite store in a temp dir with app "app" and
// the given users; the test closes it.
func openStore(t testing.TB, users ...string) *sqlite.DB {
	t.Helper()
	ctx := context.Background()
	st, err := sqlite.Open(ctx, filepath.Join(t.TempDir(), "p.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = st.Close() })
	if err := st.CreateApp(ctx, &parley.App{ID: "app", Name: "x", KeyHash: []byte{1}, TokenSecret: []byte{1}}); err != nil {
		t.Fatal(err)
	}
	var us []parley.User
	for _, u := range users {
		us = append(us, parley.User{AppID: "app", ID: u, Role: parley.RoleUser})
	}
	if err := st.UpsertUsers(ctx, "app", us); err != nil {
		t.Fatal(err)
	}
	return st
}

func setup(t *testing.T, users ...string) (*chat.Service, *pushes) {
	t.Helper()
	st := openStore(t, users...)
	p := &pushes{}
	s := chat.New(st, p, chat.Config{})
	t.Cleanup(s.Close) // runs before the store's cleanup
	return s, p
}

func text(s string) json.RawMessage { return json.RawMessage(fmt.Sprintf(`{"text":%q}`, s)) }

// TestConcurrentSendsAreGaplessAndKeepEachSendersOrder: sends from many
// goroutines share batches, yet every conversation's seqs are 1..N and
// each sender's messages keep the order it sent them in.
func TestConcurrentSendsAreGaplessAndKeepEachSendersOrder(t *testing.T) {
	s, p := setup(t, "a", "b", "c")
	const senders, each = 8, 150
	var wg sync.WaitGroup
	seqs := make([][]uint64, senders)
	for g := 0; g < senders; g++ {
		wg.Add(1)
		go func(g int) {
			defer wg.Done()
			from, to := []string{"a", "b"}[g%2], "c"
			done := make(chan chat.SendResult, each)
			for i := 0; i < each; i++ {
				// SendAsync from one goroutine: committed in this order.
				s.SendAsync(context.Background(), chat.SendRequest{AppID: "app", Sender: from, To: to, ClientMsgID: fmt.Sprintf("g%d-%d", g, i), Body: text("x")},
					func(r chat.SendResult) { done <- r })
			}
			for i := 0; i < each; i++ {
				r := <-done
				if r.Err != nil {
					t.Errorf("send: %v", r.Err)
					return
				}
				seqs[g] = append(seqs[g], r.Msg.Seq)
			}
		}(g)
	}
	wg.Wait()
	seen := map[string]map[uint64]bool{}
	for g, ss := range seqs {
		conv := parley.DirectConvID([]string{"a", "b"}[g%2], "c")
		if seen[conv] == nil {
			seen[conv] = map[uint64]bool{}
		}
		for _, q := range ss {
			if seen[conv][q] {
				t.Fatalf("seq %d of %s given twice", q, conv)
			}
			seen[conv][q] = true
		}
	}
	for conv, m := range seen {
		for q := uint64(1); q <= uint64(len(m)); q++ {
			if !m[q] {
				t.Fatalf("%s: seq %d missing", conv, q)
			}
		}
	}
	if got, want := p.count(), senders*each; got != want {
		t.Fatalf("got %d pushes, want %d", got, want)
	}
}

func TestSendPerSenderOrder(t *testing.T) {
	s, _ := setup(t, "a", "b")
	var got []uint64
	var mu sync.Mutex
	var wg sync.WaitGroup
	for i := 0; i < 300; i++ {
		wg.Add(1)
		s.SendAsync(context.Background(), chat.SendRequest{AppID: "app", Sender: "a", To: "b", Body: text(fmt.Sprint(i))}, func(r chat.SendResult) {
			mu.Lock()
			got = append(got, r.Msg.Seq)
			mu.Unlock()
			wg.Done()
		})
	}
	wg.Wait()
	for i, q := range got {
		if q != uint64(i+1) {
			t.Fatalf("answer %d has seq %d: one sender's messages must keep their order", i, q)
		}
	}
}

func TestSendErrorsAndRetries(t *testing.T) {
	s, p := setup(t, "a", "b", "c")
	ctx := context.Background()
	send := func(req chat.SendRequest) chat.SendResult {
		req.AppID = "app"
		if req.Body == nil {
			req.Body = text("x")
		}
		return s.Send(ctx, req)
	}
	first := send(chat.SendRequest{Sender: "a", To: "b", ClientMsgID: "m1"})
	if first.Err != nil || first.Msg.Seq != 1 || first.Dup {
		t.Fatalf("first send: %+v", first)
	}
	// The committer answers before it pushes: wait for the first push.
	for deadline := time.Now().Add(5 * time.Second); p.count() == 0 && time.Now().Before(deadline); {
		time.Sleep(time.Millisecond)
	}
	before := p.count()
	retry := send(chat.SendRequest{Sender: "a", To: "b", ClientMsgID: "m1", Body: text("changed")})
	if retry.Err != nil || !retry.Dup || retry.Msg.ID != first.Msg.ID || retry.Msg.Seq != 1 {
		t.Fatalf("retry: got %+v, want the original message marked dup", retry)
	}
	if p.count() != before {
		t.Fatal("a retried send must not be pushed again")
	}
	sysConv := parley.DirectConvID(parley.SystemUserID, "a")
	if r := send(chat.SendRequest{Sender: "a", ConvID: sysConv, FromClient: true}); parley.ErrorCode(r.Err) != parley.EForbidden {
		t.Fatalf("client into its system conversation: got %v, want forbidden", r.Err)
	}
	changes, err := s.Sync(ctx, "app", "a", 0, 100)
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range changes.Convs {
		if c.ConvID == sysConv {
			t.Fatal("a refused send created the system conversation")
		}
	}
	for name, c := range map[string]struct {
		req  chat.SendRequest
		code string
	}{
		"cmid reused elsewhere": {chat.SendRequest{Sender: "a", To: "c", ClientMsgID: "m1"}, parley.EConflict},
		"unknown recipient":     {chat.SendRequest{Sender: "a", To: "ghost"}, parley.ENotFound},
		"to self":               {chat.SendRequest{Sender: "a", To: "a"}, parley.EInvalid},
		"not a member":          {chat.SendRequest{Sender: "c", ConvID: parley.DirectConvID("a", "b")}, parley.EForbidden},
		"bad body":              {chat.SendRequest{Sender: "a", To: "b", Body: json.RawMessage(`{"text":""}`)}, parley.EInvalid},
		"system from client":    {chat.SendRequest{Sender: "a", To: "b", Kind: parley.KindSystem, Body: json.RawMessage(`{}`), FromClient: true}, parley.EForbidden},
		"bad cmid":              {chat.SendRequest{Sender: "a", To: "b", ClientMsgID: "no spaces"}, parley.EInvalid},
	} {
		if got := parley.ErrorCode(send(c.req).Err); got != c.code {
			t.Errorf("%s: got %q, want %q", name, got, c.code)
		}
	}
}

func TestCloseCommitsAcceptedSends(t *testing.T) {
	ctx := context.Background()
	st := openStore(t, "a", "b")
	s := chat.New(st, &pushes{}, chat.Config{})
	results := make(chan chat.SendResult, 500)
	for i := 0; i < 500; i++ {
		s.SendAsync(ctx, chat.SendRequest{AppID: "app", Sender: "a", To: "b", Body: text("x")}, func(r chat.SendResult) { results <- r })
	}
	s.Close()
	ok := 0
	for i := 0; i < 500; i++ {
		select {
		case r := <-results:
			if r.Err == nil {
				ok++
			} else if parley.ErrorCode(r.Err) != parley.EUnavailable {
				t.Fatalf("send during close: %v", r.Err)
			}
		case <-time.After(5 * time.Second):
			t.Fatal("a send was never answered")
		}
	}
	msgs, _ := st.Messages(ctx, "app", parley.DirectConvID("a", "b"), parley.MessageRange{Limit: 1000})
	if len(msgs) != ok {
		t.Fatalf("%d sends succeeded but %d are stored", ok, len(msgs))
	}
	if r := s.Send(ctx, chat.SendRequest{AppID: "app", Sender: "a", To: "b", Body: text("late")}); parley.ErrorCode(r.Err) != parley.EUnavailable {
		t.Fatalf("send after close: got %v, want unavailable", r.Err)
	}
}

// panicOnce wraps the real store and panics in its first Append, as a bug
// would.
type panicOnce struct {
	*sqlite.DB
	once sync.Once
}

func (p *panicOnce) Append(ctx context.Context, msgs []*parley.Message) ([]parley.AppendResult, error) {
	p.once.Do(func() { panic("injected") })
	return p.DB.Append(ctx, msgs)
}

func TestCommitPanicAnswersSendersAndKeepsRunning(t *testing.T) {
	ctx := context.Background()
	st := openStore(t, "a", "b")
	s := chat.New(&panicOnce{DB: st}, &pushes{}, chat.Config{Logger: discard()})
	defer s.Close()
	if r := s.Send(ctx, chat.SendRequest{AppID: "app", Sender: "a", To: "b", Body: text("1")}); parley.ErrorCode(r.Err) != parley.EInternal {
		t.Fatalf("send hit by the panic: got %v, want internal", r.Err)
	}
	if r := s.Send(ctx, chat.SendRequest{AppID: "app", Sender: "a", To: "b", Body: text("2")}); r.Err != nil || r.Msg.Seq != 1 {
		t.Fatalf("send after the panic: got %+v, want seq 1", r)
	}
}

func discard() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }

package remote_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"go.uber.org/goleak"

	"github.com/parley-im/parley"
	"github.com/parley-im/parley/internal/chat"
	"github.com/parley-im/parley/internal/remote"
	"github.com/parley-im/parley/internal/sqlite"
	"github.com/parley-im/parley/internal/testservers"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

type noPush struct{}

func (noPush) Push(context.Context, []parley.Delivery) error { return nil }

var quiet = slog.New(slog.NewTextHandler(io.Discard, nil))

// logicNode is a chat service on the SQLite file at path, serving sends
// over nc until the test ends.
func logicNode(t *testing.T, path string, ns *testservers.NATSServer) *sqlite.DB {
	t.Helper()
	db, err := sqlite.Open(context.Background(), path)
	if err != nil {
		t.Fatal(err)
	}
	svc := chat.New(db, noPush{}, chat.Config{Logger: quiet})
	stop, err := remote.Serve(ns.Connect(t, "logic"), "", svc, 5*time.Second, quiet)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { stop(); svc.Close(); db.Close() })
	return db
}

func setUp(t *testing.T, db *sqlite.DB) {
	t.Helper()
	ctx := context.Background()
	if err := db.CreateApp(ctx, &parley.App{ID: "app", Name: "App", KeyHash: []byte("h"), TokenSecret: []byte("s"), CreatedAt: time.Now()}); err != nil {
		t.Fatal(err)
	}
	if err := db.UpsertUsers(ctx, "app", []parley.User{{ID: "ann", Role: parley.RoleUser}, {ID: "bob", Role: parley.RoleUser}}); err != nil {
		t.Fatal(err)
	}
}

func text(s string) json.RawMessage { b, _ := json.Marshal(map[string]string{"text": s}); return b }

// TestSendsReachALogicNodeAndKeepTheirOrder: two logic nodes share a
// store; a gateway's sends, fired without waiting, are stored once each
// in the order they were made, retries come back as duplicates, and a
// refusal keeps its code.
func TestSendsReachALogicNodeAndKeepTheirOrder(t *testing.T) {
	ns := testservers.StartNATS(t)
	path := filepath.Join(t.TempDir(), "parley.db")
	db := logicNode(t, path, ns)
	logicNode(t, path, ns)
	setUp(t, db)
	c := remote.NewClient(ns.Connect(t, "gateway"), "", 5*time.Second)
	ctx := context.Background()

	const n = 200
	var wg sync.WaitGroup
	var mu sync.Mutex
	var answered []int
	wg.Add(n)
	for i := range n {
		c.SendAsync(ctx, chat.SendRequest{AppID: "app", Sender: "ann", To: "bob", ClientMsgID: fmt.Sprint("c", i), Body: text(fmt.Sprint(i)), FromClient: true},
			func(r chat.SendResult) {
				if r.Err != nil || r.Msg == nil || r.Msg.AppID != "app" {
					t.Errorf("send %d: got %+v", i, r)
				}
				mu.Lock()
				answered = append(answered, i)
				mu.Unlock()
				wg.Done()
			})
	}
	wg.Wait()
	for i, v := range answered {
		if v != i {
			t.Fatalf("answers came in order %v..., want the order of the sends", answered[:i+1])
		}
	}
	msgs, err := db.Messages(ctx, "app", parley.DirectConvID("ann", "bob"), parley.MessageRange{Limit: 1000})
	if err != nil || len(msgs) != n {
		t.Fatalf("stored: got %d, %v; want %d", len(msgs), err, n)
	}
	for i, m := range msgs {
		if string(m.Body) != string(text(fmt.Sprint(i))) || m.Seq != uint64(i+1) {
			t.Fatalf("message %d: got seq %d body %s, want the sends' order", i, m.Seq, m.Body)
		}
	}

	r := c.Send(ctx, chat.SendRequest{AppID: "app", Sender: "ann", To: "bob", ClientMsgID: "c7", Body: text("again"), FromClient: true})
	if r.Err != nil || !r.Dup || r.Msg.Seq != 8 {
		t.Fatalf("a retry: got %+v, want the stored seq 8 as a duplicate", r)
	}
	r = c.Send(ctx, chat.SendRequest{AppID: "app", Sender: "ann", To: "zed", Body: text("?"), FromClient: true})
	if parley.ErrorCode(r.Err) != parley.ENotFound {
		t.Fatalf("to an unknown user: got %v, want not_found", r.Err)
	}
}

// TestNoLogicNodeIsUnavailable: with no logic node, a send fails with
// unavailable (NATS says nobody listens; no timeout is waited for).
func TestNoLogicNodeIsUnavailable(t *testing.T) {
	ns := testservers.StartNATS(t)
	c := remote.NewClient(ns.Connect(t, "gateway"), "", 5*time.Second)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	r := c.Send(ctx, chat.SendRequest{AppID: "app", Sender: "ann", To: "bob", Body: text("x")})
	if parley.ErrorCode(r.Err) != parley.EUnavailable || !errors.Is(r.Err, nats.ErrNoResponders) {
		t.Fatalf("no logic node: got %v, want unavailable from NATS's no responders (not a timeout)", r.Err)
	}
}

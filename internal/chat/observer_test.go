package chat_test

import (
	"context"
	"encoding/json"
	"sync"
	"testing"

	"github.com/parley-im/parley"
	"github.com/parley-im/parley/internal/chat"
)

type observed struct {
	mu   sync.Mutex
	msgs []parley.Message
}

func (o *observed) Stored(msgs []*parley.Message) {
	o.mu.Lock()
	defer o.mu.Unlock()
	for _, m := range msgs {
		o.msgs = append(o.msgs, *m)
	}
}

// TestObserverSeesNewMessagesOnly: the observer is told of each stored
// message once, before its sender is answered, and never of a retry.
func TestObserverSeesNewMessagesOnly(t *testing.T) {
	st := openStore(t, "alice", "bob")
	obs := &observed{}
	s := chat.New(st, &pushes{}, chat.Config{Observer: obs})
	t.Cleanup(s.Close)
	ctx := context.Background()
	send := func(cmid string) *parley.Message {
		r := s.Send(ctx, chat.SendRequest{AppID: "app", Sender: "alice", To: "bob", ClientMsgID: cmid,
			Body: json.RawMessage(`{"text":"hi"}`)})
		if r.Err != nil {
			t.Fatalf("send %s: %v", cmid, r.Err)
		}
		obs.mu.Lock()
		defer obs.mu.Unlock()
		if n := len(obs.msgs); n == 0 || obs.msgs[n-1].ID != r.Msg.ID {
			t.Fatalf("send %s answered before the observer saw it: %+v", cmid, obs.msgs)
		}
		return r.Msg
	}
	send("c1")
	send("c2")
	r := s.Send(ctx, chat.SendRequest{AppID: "app", Sender: "alice", To: "bob", ClientMsgID: "c1", Body: json.RawMessage(`{"text":"hi"}`)})
	if !r.Dup {
		t.Fatalf("retry: got %+v, want a duplicate", r)
	}
	obs.mu.Lock()
	defer obs.mu.Unlock()
	if len(obs.msgs) != 2 || obs.msgs[0].Seq != 1 || obs.msgs[1].Seq != 2 {
		t.Fatalf("observed %+v, want seqs 1 and 2 once each", obs.msgs)
	}
}

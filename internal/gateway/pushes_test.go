package gateway

import (
	"bytes"
	"encoding/json"
	"sync"
	"testing"
	"time"

	"github.com/parley-im/parley"
	"github.com/parley-im/parley/internal/chat"
	"github.com/parley-im/parley/wire"
)

// manyConn is a Conn that can write several frames at once and records
// what each write carried, copying it as a socket would.
type manyConn struct {
	mu     sync.Mutex
	writes [][][]byte
}

func (c *manyConn) Write(frame []byte) error { return c.WriteMany([][]byte{frame}) }

func (c *manyConn) WriteMany(frames [][]byte) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	w := make([][]byte, len(frames))
	for i, f := range frames {
		w[i] = bytes.Clone(f)
	}
	c.writes = append(c.writes, w)
	return nil
}

func (c *manyConn) Close(int, string) {}
func (c *manyConn) RemoteIP() string  { return "127.0.0.1" }

func pushSession(c Conn) *Session {
	g := &Gateway{cfg: Config{MaxUnacked: 1 << 20, RetryInterval: time.Minute, Now: time.Now}}
	g.scratch.New = func() any { return new(pushScratch) }
	s := &Session{g: g, out: c}
	s.state.Store(stateAuthed)
	return s
}

// TestDeliverPushesOneWrite: pushes delivered together go out in one
// write, numbered in order, each frame exactly wire.Msg's; the buffer
// they were built in is reused without changing frames already written.
func TestDeliverPushesOneWrite(t *testing.T) {
	c := &manyConn{}
	s := pushSession(c)
	ds := []*parley.Delivery{
		{Kind: chat.DeliverMsg, Payload: []byte(`{"conv":"g:a","seq":1}`)},
		{Kind: chat.DeliverMsg, Payload: []byte(`{"conv":"g:a","seq":2,"body":{"text":"` + string(bytes.Repeat([]byte("x"), 300)) + `"}}`)},
	}
	s.deliverPushes(ds)
	s.deliverPushes(ds[:1])
	if len(c.writes) != 2 || len(c.writes[0]) != 2 || len(c.writes[1]) != 1 {
		t.Fatalf("writes: got %d (%v), want two: of 2 frames, then of 1", len(c.writes), c.writes)
	}
	want := [][]byte{wire.Msg(1, ds[0].Payload), wire.Msg(2, ds[1].Payload), wire.Msg(3, ds[0].Payload)}
	got := append(c.writes[0], c.writes[1]...)
	for i := range want {
		if !bytes.Equal(got[i], want[i]) {
			t.Errorf("frame %d: got %s, want %s", i, got[i], want[i])
		}
	}
	if s.unacked.len() != 3 {
		t.Errorf("unacked: got %d, want 3", s.unacked.len())
	}
}

// BenchmarkDeliverPushes: one session's share of a busy group's traffic,
// two message pushes per write.
func BenchmarkDeliverPushes(b *testing.B) {
	s := pushSession(discardConn{})
	p := []byte(`{"conv":"g:big","seq":1,"id":"01JABCDEFGHJKMNPQRSTVWXYZ0","from":"u1","kind":"text","body":{"text":"hello"},"ts":1795450257921}`)
	ds := []*parley.Delivery{{Kind: chat.DeliverMsg, Payload: p}, {Kind: chat.DeliverMsg, Payload: p}}
	b.ReportAllocs()
	for b.Loop() {
		s.deliverPushes(ds)
		s.mu.Lock()
		s.unacked.ack(s.nextN - 1)
		s.unacked.ack(s.nextN)
		s.mu.Unlock()
	}
}

type discardConn struct{}

func (discardConn) Write([]byte) error       { return nil }
func (discardConn) WriteMany([][]byte) error { return nil }
func (discardConn) Close(int, string)        {}
func (discardConn) RemoteIP() string         { return "127.0.0.1" }

// TestGroupPushWindow: a group push to a session pushed one less than a
// window ago is held, with what comes after it for that session, and
// written in one go, in order, once the window has passed; direct pushes
// and other sessions are not held.
func TestGroupPushWindow(t *testing.T) {
	const window = int64(100 * time.Millisecond)
	busyConn, otherConn := &manyConn{}, &manyConn{}
	busy, other := pushSession(busyConn), pushSession(otherConn)
	w := fanWriter{window: window, held: map[*Session][]fanItem{}}
	members := make([]string, holdMinUsers)
	group := func(seq string) *parley.Delivery {
		return &parley.Delivery{Kind: chat.DeliverMsg, Users: members, Payload: []byte(`{"conv":"g:a","seq":` + seq + `}`)}
	}
	small := &parley.Delivery{Kind: chat.DeliverMsg, Users: members[1:], Payload: []byte(`{"conv":"g:b","seq":1}`)}
	direct := &parley.Delivery{Kind: chat.DeliverMsg, Payload: []byte(`{"conv":"d:u1:u2","seq":1}`)}
	frame := &parley.Delivery{Kind: chat.DeliverFrame, Payload: []byte(`{"type":"typing"}`)}
	frames := func(c *manyConn) (n int, all []string) {
		c.mu.Lock()
		defer c.mu.Unlock()
		for _, wr := range c.writes {
			for _, f := range wr {
				all = append(all, string(f))
			}
		}
		return len(c.writes), all
	}

	t0 := int64(1_000_000_000)
	// Two group messages in one batch go out together at once: nothing
	// was pushed before.
	w.take([]fanItem{{busy, group("1")}, {busy, group("2")}}, t0)
	if n, _ := frames(busyConn); n != 1 {
		t.Fatalf("first batch: %d writes, want 1", n)
	}
	// Within the window: a group push is held, and so is a typing frame
	// after it; a direct push to another session is not, nor a push of a
	// group with fewer recipients on the node.
	w.take([]fanItem{{other, group("1")}}, t0)
	w.take([]fanItem{{busy, group("3")}, {busy, frame}, {other, direct}, {other, small}}, t0+window/2)
	w.take([]fanItem{{busy, group("4")}}, t0+window*3/4)
	if n, _ := frames(busyConn); n != 1 {
		t.Fatalf("within the window: %d writes to the busy session, want 1", n)
	}
	if _, all := frames(otherConn); len(all) != 3 {
		t.Fatalf("%d pushes written to the other session, want 3: a direct push or a small group's was held", len(all))
	}
	w.release(t0 + window - 1)
	if n, _ := frames(busyConn); n != 1 {
		t.Fatalf("released before the window passed")
	}
	w.release(t0 + window)
	n, all := frames(busyConn)
	if n != 4 { // then seq 3, the typing frame, seq 4: a frame ends a run of pushes
		t.Fatalf("after the window: %d writes, want 4: %q", n, all)
	}
	want := []string{
		string(wire.Msg(1, group("1").Payload)), string(wire.Msg(2, group("2").Payload)),
		string(wire.Msg(3, group("3").Payload)), `{"type":"typing"}`, string(wire.Msg(4, group("4").Payload)),
	}
	if len(all) != len(want) {
		t.Fatalf("frames: got %q, want %q", all, want)
	}
	for i := range want {
		if all[i] != want[i] {
			t.Errorf("frame %d: got %s, want %s", i, all[i], want[i])
		}
	}
	if len(w.held) != 0 || len(w.order) != 0 {
		t.Errorf("still held: %d sessions", len(w.held))
	}
	// The release counts as a push: the next group message within the
	// window of it is held again; a direct one is not.
	w.take([]fanItem{{busy, direct}, {busy, group("5")}}, t0+window+1)
	if n, _ := frames(busyConn); n != 5 || len(w.held[busy]) != 1 {
		t.Fatalf("after the release: %d writes and %d held, want 5 and 1", n, len(w.held[busy]))
	}
}

// TestGroupPushPrefix: groupPush reads the conversation off a message as
// json.Marshal writes a parley.Message, which must keep "conv" first.
func TestGroupPushPrefix(t *testing.T) {
	for conv, want := range map[string]bool{"g:team": true, "d:u1:u2": false, "s:u1": false} {
		b, err := json.Marshal(parley.Message{ConvID: conv, Seq: 1, Kind: parley.KindText, Body: json.RawMessage(`{}`)})
		if err != nil {
			t.Fatal(err)
		}
		if got := groupPush(b); got != want {
			t.Errorf("%s: groupPush %v, want %v (%s)", conv, got, want, b)
		}
	}
}

package gateway

import (
	"bytes"
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

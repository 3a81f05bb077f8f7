package gateway

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strings"
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
	s := &Session{g: g, out: c, connID: newID(9)}
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

// groupAt is a message of group g:a with seq and holdMinUsers recipients.
func groupAt(seq int) *parley.Delivery {
	return &parley.Delivery{Kind: chat.DeliverMsg, Users: make([]string, holdMinUsers), Payload: []byte(fmt.Sprintf(`{"conv":"g:a","seq":%d}`, seq))}
}

// frames returns the writes made to c and every frame they carried.
func (c *manyConn) frames() (writes int, all []string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, wr := range c.writes {
		for _, f := range wr {
			all = append(all, string(f))
		}
	}
	return len(c.writes), all
}

// TestGroupPushWindow: a busy group's pushes are held and written a few
// at a time, in order, with what came after them for a session; a quiet
// group, a small group and direct pushes are written at once.
func TestGroupPushWindow(t *testing.T) {
	const window = 150 * time.Millisecond
	const gap = int64(50 * time.Millisecond) // 20 messages/s
	busyConn, otherConn := &manyConn{}, &manyConn{}
	busy, other := pushSession(busyConn), pushSession(otherConn)
	w := newFanWriter(window)
	small := &parley.Delivery{Kind: chat.DeliverMsg, Users: make([]string, holdMinUsers-1), Payload: []byte(`{"conv":"g:b","seq":1}`)}
	direct := &parley.Delivery{Kind: chat.DeliverMsg, Payload: []byte(`{"conv":"d:u1:u2","seq":1}`)}
	frame := &parley.Delivery{Kind: chat.DeliverFrame, Payload: []byte(`{"type":"typing"}`)}

	// The group's first message is written at once: nothing says it is
	// busy. So are the next ones, until its pace is known.
	now, seq := int64(1_000_000_000), 0
	next := func() { seq++; w.take([]fanItem{{busy, groupAt(seq)}}, now); now += gap }
	next()
	if n, _ := busyConn.frames(); n != 1 {
		t.Fatalf("first message: %d writes, want 1", n)
	}
	// Its pace settles on three messages a write (at 20 messages/s and a
	// 150 ms window). Then it waits for the session's turn to be written.
	turn := func() bool {
		g := w.groups["g:a"]
		return g != nil && g.k == 3 && g.turn > 0 && int(g.turn%3) == phaseOf(busy, 3)
	}
	for len(w.open) != 0 || !turn() {
		if seq > 30 {
			t.Fatal("a group at 20 messages/s is never held three messages at a time")
		}
		next()
	}
	next()
	// The next message is held.
	written, _ := busyConn.frames()
	if len(busy.held) != 1 {
		t.Fatalf("after its phase was written: %d held, want 1", len(busy.held))
	}
	first := seq
	// Held with it: a typing frame for the session; not held: a direct
	// push and a small group's push to another session.
	w.take([]fanItem{{busy, frame}, {other, direct}, {other, small}}, now-gap/2)
	if _, all := otherConn.frames(); len(all) != 2 {
		t.Fatalf("%d pushes written to the other session, want 2", len(all))
	}
	// At 20 messages/s and a 150 ms window a session is written every
	// third message: the second is held, the third writes them all.
	next()
	if n, _ := busyConn.frames(); n != written || len(busy.held) != 3 {
		t.Fatalf("second message: %d writes and %d held, want %d and 3", n, len(busy.held), written)
	}
	next()
	n, all := busyConn.frames()
	if n != written+3 || len(busy.held) != 0 || len(w.open) != 0 {
		t.Fatalf("third message: %d writes (want %d: the push before the frame, the frame, the two after it), %d held, %d open", n, written+3, len(busy.held), len(w.open))
	}
	want := []string{
		string(wire.Msg(uint64(first), groupAt(first).Payload)), `{"type":"typing"}`,
		string(wire.Msg(uint64(first+1), groupAt(first+1).Payload)), string(wire.Msg(uint64(first+2), groupAt(first+2).Payload)),
	}
	all = all[len(all)-len(want):]
	for i := range want {
		if all[i] != want[i] {
			t.Errorf("frame %d: got %s, want %s", i, all[i], want[i])
		}
	}

	// Pushes whose next message does not come are written a window after
	// the first of them, not before.
	next()
	if len(w.open) != 1 {
		t.Fatalf("the next message is not held")
	}
	opened := now - gap
	if d := w.deadline(); d != opened+int64(window) {
		t.Fatalf("deadline %d, want %d", d, opened+int64(window))
	}
	w.expire(opened + int64(window) - 1)
	if len(busy.held) != 1 {
		t.Fatal("written before its window ended")
	}
	w.expire(opened + int64(window))
	if len(busy.held) != 0 || len(w.open) != 0 || w.deadline() != 0 {
		t.Fatalf("not written when its window ended: %d held", len(busy.held))
	}

	// After a pause the group is quiet again: written at once.
	now += 10 * int64(window)
	next()
	if len(busy.held) != 0 {
		t.Fatal("the first message after a pause was held")
	}
	// A group quiet for long is forgotten.
	w.sweep(now + int64(groupQuiet))
	if len(w.groups) != 0 {
		t.Fatalf("%d groups remembered after a quiet minute", len(w.groups))
	}
}

// TestGroupPushPace: at a steady pace a busy group's members get about
// one write per window, no push waits a window or more, and each message
// writes to a share of the members only (their phase), not all of them
// every few messages; a group slower than a window is written at once;
// renderings of one message (variants) count once; pushes keep their
// order when the pace changes.
func TestGroupPushPace(t *testing.T) {
	const window = int64(150 * time.Millisecond)
	ms := func(n int64) int64 { return n * int64(time.Millisecond) }
	for _, tc := range []struct {
		name       string
		gap        func(seq int) int64 // before message seq
		perWrite   float64             // at least this many messages per write
		maxWait    int64
		maxBurst   float64 // at most this share of the sessions written at once
		renderings int
		batch      int // messages arriving together (committed together), every batch gaps
		k          int // once its pace is known, the group is written every k messages throughout (0: not checked)
	}{
		{"20/s", func(int) int64 { return ms(50) }, 2.6, ms(100), 0.5, 1, 0, 3},
		{"20/s in pairs", func(int) int64 { return ms(50) }, 2.5, ms(100), 0.5, 1, 2, 3},
		{"20/s, every 20th message 150 ms late", func(seq int) int64 {
			switch seq % 20 {
			case 0:
				return ms(200)
			case 1:
				return 0
			case 2:
				return 0
			}
			return ms(50)
		}, 2.4, window, 0.5, 1, 0, 3},
		{"40/s with variants", func(int) int64 { return ms(25) }, 4.5, window, 0.3, 2, 0, 6},
		{"15/s", func(int) int64 { return int64(time.Second / 15) }, 2.6, 2 * int64(time.Second/15), 0.5, 1, 0, 3},
		{"12/s", func(int) int64 { return int64(time.Second / 12) }, 1.8, window, 0.7, 1, 0, 2},
		{"5/s", func(int) int64 { return ms(200) }, 1, 0, 1, 1, 0, 1},
		{"a backlog 10 µs apart", func(int) int64 { return int64(10 * time.Microsecond) }, 10, window, 0.15, 1, 0, maxPerWrite},
		{"12/s, 40/s, 5/s, 20/s", func(seq int) int64 { return []int64{ms(83), ms(25), ms(200), ms(50)}[(seq-1)*4/101] }, 1.5, window, 1, 1, 0, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			const sessions = 200
			w := newFanWriter(time.Duration(window))
			conns := make([]*manyConn, sessions)
			ss := make([]*Session, sessions)
			for i := range ss {
				conns[i] = &manyConn{}
				ss[i] = pushSession(conns[i])
			}
			const msgs = 100
			arrivals := make([]int64, msgs+2) // when message seq arrives
			arrivals[0] = 1_000_000_000
			for seq := 1; seq < len(arrivals); seq++ {
				switch {
				case tc.batch <= 1:
					arrivals[seq] = arrivals[seq-1] + tc.gap(seq)
				case (seq-1)%tc.batch == 0:
					arrivals[seq] = arrivals[seq-1] + int64(tc.batch)*tc.gap(seq)
				default:
					arrivals[seq] = arrivals[seq-1]
				}
			}
			heldAt := map[*Session][]int64{} // arrival of each held push
			var worst int64
			burst := 0
			writes := make([]int, sessions)
			note := func(now int64) { // after take or expire: what was written waited now - arrival
				written := 0
				for i, s := range ss {
					if n := len(conns[i].writes); n != writes[i] {
						writes[i] = n
						written++
					}
					if h := heldAt[s]; len(h) > len(s.held) {
						for _, arrived := range h[:len(h)-len(s.held)] {
							if arrived >= arrivals[2*paceOver] { // its pace known
								worst = max(worst, now-arrived)
							}
						}
						heldAt[s] = h[len(h)-len(s.held):]
					}
				}
				if now >= arrivals[2*paceOver] {
					burst = max(burst, written)
				}
			}
			var now int64
			for seq := 1; seq <= msgs; seq++ {
				now = arrivals[seq]
				// Each session gets one of the renderings, as Deliver
				// hands them: in one batch.
				ds := make([]*parley.Delivery, tc.renderings)
				for i := range ds {
					ds[i] = groupAt(seq)
				}
				items := make([]fanItem, sessions)
				for i, s := range ss {
					items[i] = fanItem{s, ds[i%len(ds)]}
				}
				w.take(items, now)
				if g := w.groups["g:a"]; tc.k != 0 && seq > 2*paceOver && g.k != tc.k {
					t.Fatalf("message %d: written every %d messages, want %d", seq, g.k, tc.k)
				}
				for _, s := range ss {
					for len(heldAt[s]) < len(s.held) {
						heldAt[s] = append(heldAt[s], now)
					}
				}
				note(now)
				for end := arrivals[seq+1]; w.deadline() != 0 && w.deadline() < end; {
					at := w.deadline()
					w.expire(at)
					note(at)
				}
			}
			w.expire(now + window)
			total := 0
			for _, c := range conns {
				n, all := c.frames()
				if len(all) != msgs {
					t.Fatalf("a session got %d pushes, want %d", len(all), msgs)
				}
				for i, f := range all {
					if want := fmt.Sprintf(`"seq":%d}`, i+1); !strings.Contains(f, want) {
						t.Fatalf("push %d of a session is %s, want seq %d", i, f, i+1)
					}
				}
				total += n
			}
			if per := float64(msgs*sessions) / float64(total); per < tc.perWrite {
				t.Errorf("%.2f messages per write, want at least %.1f", per, tc.perWrite)
			}
			if worst > tc.maxWait {
				t.Errorf("a push waited %v, want at most %v", time.Duration(worst), time.Duration(tc.maxWait))
			}
			if share := float64(burst) / sessions; share > tc.maxBurst {
				t.Errorf("%d of %d sessions written at once, want at most %.0f%%", burst, sessions, 100*tc.maxBurst)
			}
		})
	}
}

// TestGroupMsg: groupMsg reads the conversation and seq off a message as
// json.Marshal writes a parley.Message, which must keep "conv" then "seq"
// first; anything else is not held.
func TestGroupMsg(t *testing.T) {
	for conv, want := range map[string]bool{"g:team": true, "d:u1:u2": false, "s:u1": false} {
		b, err := json.Marshal(parley.Message{ConvID: conv, Seq: 12345678901, Kind: parley.KindText, Body: json.RawMessage(`{}`)})
		if err != nil {
			t.Fatal(err)
		}
		got, seq, ok := groupMsg(b)
		if ok != want || ok && (string(got) != conv || seq != 12345678901) {
			t.Errorf("%s: groupMsg %q %d %v, want %v (%s)", conv, got, seq, ok, want, b)
		}
	}
	for _, p := range []string{`{"conv":"g:a\"b","seq":1}`, `{"conv":"g:a","id":"x"}`, `{"conv":"g:a","seq":x}`, `{"conv":"g:a`, `{"conv":"g:a","seq":`} {
		if _, _, ok := groupMsg([]byte(p)); ok {
			t.Errorf("%s: read as a group message", p)
		}
	}
}

// FuzzGroupMsg: groupMsg never panics, and what it reads is what a
// parley.Message with that conversation and seq marshals to.
func FuzzGroupMsg(f *testing.F) {
	f.Add([]byte(`{"conv":"g:team","seq":42,"id":"x"}`))
	f.Add([]byte(`{"conv":"g:","seq":1}`))
	f.Add([]byte(`{"conv":"g:a\"","seq":1}`))
	f.Add([]byte(`{"conv":"g:a","seq":99999999999999999999}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		conv, seq, ok := groupMsg(b)
		if !ok {
			return
		}
		want := fmt.Sprintf(`{"conv":"%s","seq":%d`, conv, seq)
		if !bytes.HasPrefix(b, []byte(want)) && !bytes.HasPrefix(b, []byte(fmt.Sprintf(`{"conv":"%s","seq":0`, conv))) {
			t.Fatalf("read %q seq %d off %q", conv, seq, b)
		}
	})
}

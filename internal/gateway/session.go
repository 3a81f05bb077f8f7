package gateway

import (
	"context"
	"errors"
	"fmt"
	"runtime/debug"
	"sync"
	"sync/atomic"
	"time"

	"github.com/parley-im/parley"
	"github.com/parley-im/parley/internal/chat"
	"github.com/parley-im/parley/internal/consult"
	"github.com/parley-im/parley/internal/social"
	"github.com/parley-im/parley/wire"
)

// Session states.
const (
	stateNew int32 = iota
	stateAuthed
	stateClosed
)

// maxQueuedFrames bounds the frames a session has received but not yet
// handled; beyond it frames are refused with rate_limited.
const maxQueuedFrames = 256

// Session is one authenticated (or authenticating) device connection,
// over WebSocket or long-poll. The protocol logic is the same for both;
// only the outlet differs.
//
// Frames are handled in arrival order by a worker goroutine that exists
// only while frames are waiting, so an idle session costs no goroutine.
type Session struct {
	g      *Gateway
	out    Conn
	connID string
	ip     string
	tr     transport
	slot   uint64 // position in the hub's set of open sessions

	// Set once by auth before state becomes stateAuthed; read-only after.
	app, user, device string
	platform          parley.Platform
	role              parley.Role

	state    atomic.Int32
	closing  atomic.Bool  // close was called: the close is counted once
	lastSeen atomic.Int64 // unix nanoseconds of the last frame received
	born     int64        // unix nanoseconds
	// held are the deliveries its fan-out writer holds for it
	// (fanWriter); only that writer touches it.
	held []*parley.Delivery

	mu      sync.Mutex // guards the fields below
	nextN   uint64
	unacked pending
	work    [][]byte
	working bool
	// A token bucket for request frames, inline rather than a
	// *rate.Limiter: ~100 bytes less per session, and guarded by mu.
	typingConv string  // the conversation of the last typing indicator relayed
	typingAt   int64   // and when, unix ns
	tokens     float64 // request frames the session may still make
	tokensAt   int64   // unix ns when tokens was last topped up; 0: never

}

func (g *Gateway) newSession(out Conn, ip string, tr transport) *Session {
	now := g.cfg.Now().UnixNano()
	s := &Session{g: g, out: out, connID: newID(9), ip: ip, tr: tr, born: now}
	s.lastSeen.Store(now)
	g.hub.track(s)
	g.m.connected(tr)
	return s
}

// Frame queues one received frame for the worker. It implements Handler.
func (s *Session) Frame(data []byte) {
	if s.state.Load() == stateClosed {
		return
	}
	s.lastSeen.Store(s.g.cfg.Now().UnixNano())
	s.mu.Lock()
	if len(s.work) >= maxQueuedFrames {
		s.mu.Unlock()
		s.write(wire.Err(wire.PeekID(data), parley.Errorf(parley.ERateLimited, "too many frames in flight")))
		return
	}
	s.work = append(s.work, append([]byte(nil), data...))
	start := !s.working
	s.working = true
	s.mu.Unlock()
	if start {
		go s.drain()
	}
}

func (s *Session) drain() {
	for {
		s.mu.Lock()
		if len(s.work) == 0 || s.state.Load() == stateClosed {
			s.work = nil
			s.working = false
			s.mu.Unlock()
			return
		}
		f := s.work[0]
		s.work[0] = nil
		s.work = s.work[1:]
		s.mu.Unlock()
		if _, ok := s.handleSafely(f, s.write); !ok {
			return
		}
	}
}

// handleSafely is handle where a panic (a bug) ends this session, not the
// node. ok is false after a panic.
func (s *Session) handleSafely(f []byte, reply func([]byte)) (answers, ok bool) {
	defer func() {
		if v := recover(); v != nil {
			s.g.log.Error("session handler panicked", "err", fmt.Errorf("panic: %v", v),
				"conn_id", s.connID, "stack", string(debug.Stack()))
			s.mu.Lock()
			s.work, s.working = nil, false
			s.mu.Unlock()
			s.close(wire.CloseInternal, "internal error")
			answers, ok = false, false
		}
	}()
	return s.handle(f, reply), true
}

// Closed releases everything the session holds. It implements Handler and
// is also called for long-poll sessions; only the first call acts.
func (s *Session) Closed(err error) {
	prev := s.state.Swap(stateClosed)
	if prev == stateClosed {
		return
	}
	s.g.hub.untrack(s)
	s.g.watch.drop(s) // after the state: a watch being added sees it (watch.go)
	if prev == stateAuthed {
		s.g.m.ended(s.tr)
		s.g.hub.remove(s)
		ctx, cancel := context.WithTimeout(context.Background(), s.g.cfg.RequestTimeout)
		if err := s.g.reg.Unregister(ctx, s.app, s.user, s.connID); err != nil {
			s.g.log.Warn("unregister failed", "err", err, "conn_id", s.connID)
		}
		cancel()
	}
	s.mu.Lock()
	s.unacked.reset()
	s.work = nil
	s.mu.Unlock()
}

// close ends the session with a close code; Closed follows. Only the
// first close of an open session is counted: the outlet ignores the
// others.
func (s *Session) close(code int, reason string) {
	if s.state.Load() != stateClosed && s.closing.CompareAndSwap(false, true) {
		s.g.m.closed(code)
	}
	s.out.Close(code, reason)
}

// write sends a frame; a backlog past its bound closes the session as a
// slow consumer. It must not be called with s.mu held (use send).
func (s *Session) write(frame []byte) {
	if !s.send(frame) {
		s.closeSlow()
	}
}

// send writes a frame and reports false when the backlog is over its
// bound; the caller then calls closeSlow once it holds no lock.
func (s *Session) send(frame []byte) bool {
	return !errors.Is(s.out.Write(frame), ErrBacklog)
}

// pushWriter is implemented by outlets that acknowledge pushes themselves
// (long-poll: polling past a push acknowledges it) and so need its n.
type pushWriter interface {
	WritePush(n uint64, frame []byte) error
}

// sendPush is send for push number n of a message.
func (s *Session) sendPush(n uint64, msg []byte) bool {
	frame := wire.Msg(n, msg)
	if pw, ok := s.out.(pushWriter); ok {
		return !errors.Is(pw.WritePush(n, frame), ErrBacklog)
	}
	return s.send(frame)
}

func (s *Session) closeSlow() {
	s.close(wire.CloseSlowConsumer, "slow consumer: send backlog over its bound")
}

// deliver pushes one delivery to this session. It never blocks on the
// network.
func (s *Session) deliver(d *parley.Delivery) {
	if s.state.Load() != stateAuthed {
		return
	}
	switch d.Kind {
	case chat.DeliverMsg:
		one := [1]*parley.Delivery{d}
		s.deliverPushes(one[:])
	case chat.DeliverFrame:
		s.write(d.Payload)
	case chat.DeliverRead:
		if f := wire.ReadRaw(d.Payload); f != nil {
			s.write(f)
		}
	case DeliverKick:
		if dev := string(d.Payload); dev == "" || dev == s.device {
			s.close(wire.CloseKicked, "session revoked")
		}
	case social.DeliverFrame:
		s.write(d.Payload)
	case consult.DeliverWatch:
		s.deliverWatch(d) // watch.go
	}
}

// deliverPushes pushes messages (DeliverMsg): each numbered and tracked
// for its ack, and written under the lock so that pushes leave in n
// order. Several go in one write when the transport can (multiWriter; a
// long-poll outlet numbers its own pushes, pushWriter).
func (s *Session) deliverPushes(ds []*parley.Delivery) {
	if s.state.Load() != stateAuthed {
		return
	}
	mw, batch := s.out.(multiWriter)
	if _, lp := s.out.(pushWriter); lp {
		batch = false
	}
	now := s.g.cfg.Now().UnixNano()
	var sc *pushScratch
	if batch {
		sc = s.g.scratch.Get().(*pushScratch)
		defer sc.put(&s.g.scratch)
	}
	s.mu.Lock()
	if s.unacked.len()+len(ds) > s.g.cfg.MaxUnacked {
		s.mu.Unlock()
		s.close(wire.CloseSlowConsumer, "slow consumer: too many unacknowledged pushes")
		return
	}
	ok := true
	for _, d := range ds {
		s.nextN++
		s.unacked.add(s.nextN, d.Payload, now+int64(s.g.cfg.RetryInterval))
		if batch {
			sc.add(s.nextN, d.Payload)
		} else if ok {
			ok = s.sendPush(s.nextN, d.Payload)
		}
	}
	if batch {
		ok = !errors.Is(mw.WriteMany(sc.frames()), ErrBacklog)
	}
	s.mu.Unlock()
	if !ok {
		s.closeSlow()
		return
	}
	for range ds {
		s.g.m.pushWritten()
	}
}

// pushScratch holds the push frames of one deliverPushes call end to end
// in one buffer, reused through the pool Gateway.scratch: a group message
// is a frame for each of thousands of sessions, and allocating each one
// was a large part of a node's garbage. The frames are only valid until
// put, which is why only a multiWriter, which keeps none of them, is
// handed them.
type pushScratch struct {
	buf  []byte
	ends []int
	out  [][]byte
}

// maxScratch bounds the buffer a pushScratch keeps for reuse.
const maxScratch = 64 << 10

func (p *pushScratch) add(n uint64, msg []byte) {
	p.buf = wire.AppendMsg(p.buf, n, msg)
	p.ends = append(p.ends, len(p.buf))
}

// frames returns the frames added since the scratch was taken.
func (p *pushScratch) frames() [][]byte {
	start := 0
	for _, end := range p.ends {
		p.out = append(p.out, p.buf[start:end:end])
		start = end
	}
	return p.out
}

func (p *pushScratch) put(pool *sync.Pool) {
	if cap(p.buf) > maxScratch {
		return
	}
	clear(p.out)
	p.buf, p.ends, p.out = p.buf[:0], p.ends[:0], p.out[:0]
	pool.Put(p)
}

// DeliverKick is the delivery kind that ends sessions: Payload is a device
// id, or empty for every device of the users.
const DeliverKick = "kick"

func (s *Session) ack(ns []uint64) {
	s.mu.Lock()
	for _, n := range ns {
		s.unacked.ack(n)
	}
	s.mu.Unlock()
}

// allow reports whether a request frame fits the session's rate limit.
func (s *Session) allow() bool {
	now := s.g.cfg.Now().UnixNano()
	burst := float64(s.g.cfg.FrameBurst)
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.tokensAt == 0 {
		s.tokens = burst
	} else if now > s.tokensAt {
		s.tokens = min(burst, s.tokens+float64(now-s.tokensAt)*s.g.cfg.FrameRate/1e9)
	}
	s.tokensAt = now
	if s.tokens < 1 {
		return false
	}
	s.tokens--
	return true
}

// typingInterval is the shortest time between two typing indicators of a
// session in one conversation.
const typingInterval = time.Second

// typingAllowed rate-limits typing indicators: one per conversation per
// typingInterval, per session (clients send one every few seconds while
// the user types).
func (s *Session) typingAllowed(conv string) error {
	now := s.g.cfg.Now().UnixNano()
	s.mu.Lock()
	defer s.mu.Unlock()
	if conv == s.typingConv && now-s.typingAt < int64(typingInterval) {
		return parley.Errorf(parley.ERateLimited, "at most one typing indicator per conversation per second")
	}
	s.typingConv, s.typingAt = conv, now
	return nil
}

package gateway

import (
	"context"
	"sync"

	"github.com/parley-im/parley"
	"github.com/parley-im/parley/wire"
)

// lpConn is the outlet of a long-poll session: a bounded, indexed buffer
// of server frames that polls read from. A waiting poll parks on a
// channel; it holds no thread and no timer of its own beyond its request.
type lpConn struct {
	sid  string
	max  int
	sess *Session

	mu      sync.Mutex
	first   uint64 // index of frames[0]; indexes start at 1
	frames  []lpFrame
	closed  bool
	told    bool          // a poll has returned the close frame
	endedAt int64         // unix nanoseconds the session ended, 0 while open
	wake    chan struct{} // closed and replaced whenever frames arrive
}

type lpFrame struct {
	n     uint64 // push number for msg frames, else 0
	frame []byte
}

// Write appends a frame. It implements Conn.
func (c *lpConn) Write(frame []byte) error { return c.WritePush(0, frame) }

// WritePush appends push number n (0: not a push), so that a poll past it
// acknowledges it.
func (c *lpConn) WritePush(n uint64, frame []byte) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closed {
		return ErrClosed
	}
	if len(c.frames) >= c.max {
		return ErrBacklog
	}
	c.frames = append(c.frames, lpFrame{n: n, frame: frame})
	c.signal()
	return nil
}

// Close appends the close frame and ends the session. It implements Conn.
func (c *lpConn) Close(code int, reason string) {
	c.mu.Lock()
	if c.closed {
		c.mu.Unlock()
		return
	}
	c.closed = true
	c.endedAt = c.sess.g.cfg.Now().UnixNano()
	c.frames = append(c.frames, lpFrame{frame: wire.Close(code, reason)})
	c.signal()
	c.mu.Unlock()
	// Closed takes the session's lock; never call it with c.mu held.
	go c.sess.Closed(nil)
}

// ended reports whether Close was called.
func (c *lpConn) ended() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.closed
}

// RemoteIP implements Conn.
func (c *lpConn) RemoteIP() string { return c.sess.ip }

// signal wakes waiting polls. c.mu must be held.
func (c *lpConn) signal() {
	close(c.wake)
	c.wake = make(chan struct{})
}

// poll returns the frames after index after, waiting until there are
// some or ctx ends. Frames up to after are dropped: the client has them,
// and msg pushes among them count as acknowledged. next is the index of
// the last frame returned (after, if none).
func (c *lpConn) poll(ctx context.Context, after uint64) (frames [][]byte, next uint64, ended bool, err error) {
	for {
		c.mu.Lock()
		if last := c.first + uint64(len(c.frames)) - 1; after > last {
			c.mu.Unlock()
			return nil, 0, false, parley.Errorf(parley.EInvalid, "after %d is past the last frame sent (%d)", after, last)
		}
		var acked []uint64
		for len(c.frames) > 0 && c.first <= after {
			if n := c.frames[0].n; n != 0 {
				acked = append(acked, n)
			}
			c.frames[0] = lpFrame{}
			c.frames = c.frames[1:]
			c.first++
		}
		if len(c.frames) > 0 || (c.closed && len(c.frames) == 0) {
			for _, f := range c.frames {
				frames = append(frames, f.frame)
			}
			next = c.first + uint64(len(c.frames)) - 1
			if len(c.frames) == 0 {
				next = after
			}
			ended = c.closed && len(c.frames) == 0
			if c.closed {
				c.told = true // the close frame is the last frame
			}
			c.mu.Unlock()
			if len(acked) > 0 {
				c.sess.ack(acked)
			}
			return frames, next, ended, nil
		}
		wake := c.wake
		c.mu.Unlock()
		if len(acked) > 0 {
			c.sess.ack(acked)
		}
		select {
		case <-wake:
		case <-ctx.Done():
			return nil, after, false, nil
		}
	}
}

// lpTable finds long-poll sessions by their session id.
type lpTable struct {
	mu sync.Mutex
	m  map[string]*lpConn
}

func (t *lpTable) init() { t.m = make(map[string]*lpConn) }

func (t *lpTable) put(c *lpConn) {
	t.mu.Lock()
	t.m[c.sid] = c
	t.mu.Unlock()
}

func (t *lpTable) get(sid string) *lpConn {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.m[sid]
}

// expire forgets sessions that ended more than grace ago (their close
// frame had time to be polled).
func (t *lpTable) expire(now, grace int64) {
	t.mu.Lock()
	defer t.mu.Unlock()
	for sid, c := range t.m {
		c.mu.Lock()
		gone := c.closed && now-c.endedAt > grace
		c.mu.Unlock()
		if gone {
			delete(t.m, sid)
		}
	}
}

// untold counts ended sessions whose close frame no poll has returned yet.
func (t *lpTable) untold() int {
	t.mu.Lock()
	defer t.mu.Unlock()
	n := 0
	for _, c := range t.m {
		c.mu.Lock()
		if c.closed && !c.told {
			n++
		}
		c.mu.Unlock()
	}
	return n
}

func (t *lpTable) all() []*Session {
	t.mu.Lock()
	defer t.mu.Unlock()
	out := make([]*Session, 0, len(t.m))
	for _, c := range t.m {
		out = append(out, c.sess)
	}
	return out
}

package client

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/parley-im/parley"
	"github.com/parley-im/parley/wire"
)

// transport is what a conn needs from WebSocket or long-poll.
type transport interface {
	// write sends one client frame. For long-poll the answer frame comes
	// back in the same call and is handed to conn.received before write
	// returns. A *parley.Error means the request was refused as such (it
	// answers the request); any other error means the connection failed.
	write(ctx context.Context, frame []byte) error
	// abort ends the connection at once.
	abort()
	// shutdown ends the connection politely (a WebSocket close frame).
	shutdown()
	// needsAcks reports whether pushes must be acknowledged with ack
	// frames (long-poll acknowledges by polling on).
	needsAcks() bool
}

// conn is one authenticated (or authenticating) session with the server.
// Requests are bound to the conn they were written on: when it ends, their
// answers are lost (lostError).
type conn struct {
	c         *Client
	tr        transport
	ctx       context.Context // ends when the conn ends
	cancel    context.CancelFunc
	heartbeat time.Duration // set before the conn is published; read by the manager
	// ackDelay is how long after they arrive pushes are acknowledged
	// (wire.AckDelay), in nanoseconds. It is atomic because the reader
	// may hand the deliverer a push before connect has stored the auth
	// answer's value.
	ackDelay atomic.Int64
	lastRecv atomic.Int64  // unix nanoseconds of the last frame received
	done     chan struct{} // closed when the conn's reader has exited

	mu      sync.Mutex // guards the fields below
	pending map[string]waiter
	pongs   []chan struct{}
	dead    bool
	why     error // why the conn ended
}

// waiter is a request waiting for its answer.
type waiter struct {
	ch   chan reply
	send bool // a send: its answer also goes to the deliverer
}

// reply is the answer to one request: the data of a res frame or the
// error of an err frame.
type reply struct {
	data json.RawMessage
	err  error
}

func newConn(c *Client) *conn {
	cn := &conn{c: c, pending: make(map[string]waiter), done: make(chan struct{}),
		heartbeat: wire.DefaultHeartbeat}
	cn.setAuth(wire.AuthRes{})
	cn.ctx, cn.cancel = context.WithCancel(c.ctx)
	cn.lastRecv.Store(time.Now().UnixNano())
	return cn
}

// setAuth applies the heartbeat and retry intervals of an auth answer
// (the defaults where it has none).
func (cn *conn) setAuth(ar wire.AuthRes) {
	cn.heartbeat = ar.HeartbeatInterval()
	cn.ackDelay.Store(int64(wire.AckDelay(ar.RetryInterval())))
}

// readerGrace is how long a failed write waits for the reader to end the
// conn with the server's reason before ending it with the write's error.
const readerGrace = time.Second

// kill ends the conn for reason: the transport is aborted and every
// pending request is answered with a lostError. Only the first call acts.
func (cn *conn) kill(reason error) {
	cn.mu.Lock()
	if cn.dead {
		cn.mu.Unlock()
		return
	}
	cn.dead, cn.why = true, reason
	pending, pongs := cn.pending, cn.pongs
	cn.pending, cn.pongs = nil, nil
	cn.mu.Unlock()
	cn.cancel()
	if cn.tr != nil {
		cn.tr.abort()
	}
	for _, w := range pending {
		w.ch <- reply{err: &lostError{cause: reason}}
	}
	for _, ch := range pongs {
		close(ch)
	}
}

// isDead reports whether the conn has ended.
func (cn *conn) isDead() bool {
	cn.mu.Lock()
	defer cn.mu.Unlock()
	return cn.dead
}

// reason is why the conn ended (nil while it is alive).
func (cn *conn) reason() error {
	cn.mu.Lock()
	defer cn.mu.Unlock()
	return cn.why
}

// roundTrip sends the request in (its ID is assigned here) and returns the
// data of the res frame that answers it. Errors: the *parley.Error of an
// err frame, a lostError when the conn ends first, ctx's error, or
// ETooLarge when the frame exceeds wire.MaxFrameSize.
func (cn *conn) roundTrip(ctx context.Context, in wire.In) (json.RawMessage, error) {
	in.ID = strconv.FormatUint(cn.c.reqID.Add(1), 36)
	frame, err := json.Marshal(in)
	if err != nil {
		return nil, err
	}
	if len(frame) > wire.MaxFrameSize {
		return nil, parley.Errorf(parley.ETooLarge, "%s frame larger than %d bytes", in.Type, wire.MaxFrameSize)
	}
	ch := make(chan reply, 1)
	cn.mu.Lock()
	if cn.dead {
		why := cn.why
		cn.mu.Unlock()
		return nil, &lostError{cause: why}
	}
	cn.pending[in.ID] = waiter{ch: ch, send: in.Type == wire.TSend}
	cn.mu.Unlock()
	defer func() {
		cn.mu.Lock()
		delete(cn.pending, in.ID)
		cn.mu.Unlock()
	}()
	if err := cn.write(ctx, frame); err != nil {
		if perr := (*parley.Error)(nil); errors.As(err, &perr) {
			return nil, perr
		}
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
		return nil, &lostError{cause: err}
	}
	select {
	case r := <-ch:
		return r.data, r.err
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

// write sends a frame that expects no res (ack, ping) or, from
// roundTrip, one that does. A transport failure kills the conn.
func (cn *conn) write(ctx context.Context, frame []byte) error {
	err := cn.tr.write(ctx, frame)
	if err != nil {
		if perr := (*parley.Error)(nil); !errors.As(err, &perr) && ctx.Err() == nil {
			// The server may have ended the session, and the reader be
			// about to learn why (a close frame, which over long-poll
			// comes by the next poll). Its reason, not this error,
			// must decide whether to reconnect: wait for it a moment.
			t := time.NewTimer(readerGrace)
			select {
			case <-cn.done:
			case <-t.C:
			}
			t.Stop()
			cn.kill(err)
		}
		return err
	}
	if h := cn.c.opts.hooks; h != nil && h.wrote != nil && h.wrote(frame) {
		cn.kill(errors.New("client: connection dropped by a test hook"))
	}
	return nil
}

// ping writes a ping frame without waiting for the pong.
func (cn *conn) ping(ctx context.Context) {
	_ = cn.write(ctx, []byte(wire.PingFrame))
}

// awaitPong returns a channel closed at the next pong (or when the conn
// ends). Pongs carry no request id, so any pong counts.
func (cn *conn) awaitPong() <-chan struct{} {
	ch := make(chan struct{})
	cn.mu.Lock()
	defer cn.mu.Unlock()
	if cn.dead {
		close(ch)
		return ch
	}
	cn.pongs = append(cn.pongs, ch)
	return ch
}

// serverFrame is any frame the server sends; each type fills its own
// fields.
type serverFrame struct {
	Type           string          `json:"type"`
	ID             string          `json:"id"`
	Data           json.RawMessage `json:"data"`    // res
	Code           json.RawMessage `json:"code"`    // err: a string; close: a number
	Message        string          `json:"message"` // err
	Reason         string          `json:"reason"`  // close
	N              uint64          `json:"n"`       // msg
	Msg            *parley.Message `json:"msg"`     // msg
	wire.ReadEvent                 // read: conv, user, seq
}

// received handles one server frame. It is called by the conn's reader,
// and for long-poll also by request goroutines with the answers of their
// requests; it never blocks on delivery. b is only valid during the call
// (the WebSocket reader reuses it): everything kept is copied, which
// DecodePush and json.Unmarshal do anyway.
func (cn *conn) received(b []byte) {
	if h := cn.c.opts.hooks; h != nil && h.received != nil {
		switch h.received(bytes.Clone(b)) {
		case frameDiscard:
			return
		case frameDrop:
			cn.kill(errors.New("client: connection dropped by a test hook"))
			return
		}
	}
	cn.lastRecv.Store(time.Now().UnixNano())
	// Message pushes are most of the frames a busy client gets; the fast
	// path decodes them as the TMsg case below would.
	if n, m, ok := wire.DecodePush(b); ok {
		cn.c.q.push(event{kind: evPush, conn: cn, n: n, msg: m})
		return
	}
	var f serverFrame
	if err := json.Unmarshal(b, &f); err != nil {
		cn.c.log.Warn("undecodable server frame", "err", err)
		return
	}
	switch f.Type {
	case wire.TRes:
		cn.answer(f.ID, reply{data: f.Data})

	case wire.TErr:
		var code string
		_ = json.Unmarshal(f.Code, &code)
		err := &parley.Error{Code: code, Message: f.Message}
		if f.ID == "" {
			cn.c.log.Warn("session error from the server", "err", err)
			return
		}
		cn.answer(f.ID, reply{err: err})
	case wire.TPong:
		cn.mu.Lock()
		pongs := cn.pongs
		cn.pongs = nil
		cn.mu.Unlock()
		for _, ch := range pongs {
			close(ch)
		}
	case wire.TMsg:
		if f.Msg == nil {
			cn.c.log.Warn("msg push without a message", "n", f.N)
			return
		}
		cn.c.q.push(event{kind: evPush, conn: cn, n: f.N, msg: *f.Msg})
	case wire.TReadRx:
		cn.c.q.push(event{kind: evRead, read: f.ReadEvent})
	case wire.TResync:
		cn.c.q.push(event{kind: evResync})
	case wire.TPresenceRx, wire.TProfileRx, wire.TContactsRx, wire.TTypingRx, wire.TConvRx, wire.TConsultRx, wire.TConsultMsgRx:
		cn.c.q.push(event{kind: evSocial, raw: append([]byte(nil), b...)})
	case wire.TClose:
		var code int
		_ = json.Unmarshal(f.Code, &code)
		cn.kill(&CloseError{Code: code, Reason: f.Reason})
	default:
		// Newer servers may send frame types this client does not know.
		cn.c.log.Debug("ignored server frame", "type", f.Type)
	}
}

// answer hands a request its answer. The stored message that answers a
// send goes to the deliverer here, on the reader's goroutine, so that it
// is queued before any push read after it: the server answers a send
// before it pushes later messages of the conversation, and were the
// sender's goroutine to queue it once it wakes up, a push of the next
// message could overtake it and look like a gap to pull.
func (cn *conn) answer(id string, r reply) {
	cn.mu.Lock()
	w, ok := cn.pending[id]
	delete(cn.pending, id)
	cn.mu.Unlock()
	if !ok {
		return
	}
	if w.send && r.err == nil {
		var res wire.SendRes
		if json.Unmarshal(r.data, &res) == nil && res.Msg != nil {
			cn.c.q.push(event{kind: evSent, msg: *res.Msg})
		}
	}
	w.ch <- r
}

package nbiows

import (
	"encoding/binary"
	"errors"
	"fmt"
	"runtime/debug"
	"sync"
	"sync/atomic"
	"time"

	"github.com/lesismal/nbio"
	"github.com/lesismal/nbio/nbhttp/websocket"

	"github.com/parley-im/parley/internal/gateway"
	"github.com/parley-im/parley/wire"
)

// closeTimeout bounds how long Close waits for the peer's answering close
// frame before it closes the socket.
const closeTimeout = 5 * time.Second

// States of a conn.
const (
	stateOpen    int32 = iota
	stateClosing       // our close frame is queued, or the peer's is being answered
	stateClosed        // Closed has been delivered
)

// conn is one connection: the gateway.Conn handed to the session.
//
// Lock order: evMu, then mu, then nbio's locks (websocket.Conn, nbio.Conn).
// nbio calls Upgrader.written with nbio.Conn's lock held; it takes no lock.
type conn struct {
	u  *Upgrader
	ws websocket.Upgrader // this connection's handlers; see Upgrader.tmpl

	// Set by Upgrade before evMu is released; read-only afterwards.
	wsc *websocket.Conn
	nc  *nbio.Conn
	h   gateway.Handler

	// evMu is held while an event is delivered to h, and by Upgrade until
	// h is set.
	evMu  sync.Mutex
	ended bool // Closed delivered (or the upgrade failed); guarded by evMu

	mu     sync.Mutex // serialises writes and the open->closing transition
	state  atomic.Int32
	unsent atomic.Int64 // bytes handed to nbio that the kernel has not taken
}

var _ gateway.Conn = (*conn)(nil)

// Write implements gateway.Conn.
func (c *conn) Write(frame []byte) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.state.Load() != stateOpen {
		return gateway.ErrClosed
	}
	return c.writeLocked(websocket.TextMessage, frame, true)
}

// WriteMany writes text frames in one write to the socket (one system
// call where Write takes one per frame), in order; the backlog bound
// applies to them together. It implements the gateway's multiWriter and
// keeps none of frames once it returns (nbio copies what the socket does
// not take).
// Frames too large for one WebSocket frame go one by one through Write's
// path.
func (c *conn) WriteMany(frames [][]byte) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.state.Load() != stateOpen {
		return gateway.ErrClosed
	}
	total := 0
	for _, f := range frames {
		if len(f) > c.u.framePayloadMax {
			for _, f := range frames {
				if err := c.writeLocked(websocket.TextMessage, f, true); err != nil {
					return err
				}
			}
			return nil
		}
		total += headerSize(len(f)) + len(f)
	}
	if c.unsent.Load()+int64(total) > int64(c.u.opts.MaxBacklog) {
		return gateway.ErrBacklog
	}
	pb, _ := c.u.bufs.Get().(*[]byte)
	if pb == nil {
		pb = new([]byte)
	}
	defer c.u.putBuf(pb)
	buf := (*pb)[:0]
	for _, f := range frames {
		// An unmasked, final text frame (RFC 6455 5.2), as nbio writes it.
		switch n := len(f); {
		case n < 126:
			buf = append(buf, 0x81, byte(n))
		case n <= 0xFFFF:
			buf = append(buf, 0x81, 126, byte(n>>8), byte(n))
		default:
			buf = append(buf, 0x81, 127)
			buf = binary.BigEndian.AppendUint64(buf, uint64(n))
		}
		buf = append(buf, f...)
	}
	*pb = buf
	c.unsent.Add(int64(total))
	if _, err := c.nc.Write(buf); err != nil {
		if errors.Is(err, nbio.ErrOverflow) {
			return gateway.ErrBacklog
		}
		return gateway.ErrClosed
	}
	return nil
}

// maxPooledBuf bounds the WriteMany buffers kept for reuse.
const maxPooledBuf = 64 << 10

func (u *Upgrader) putBuf(pb *[]byte) {
	if cap(*pb) <= maxPooledBuf {
		u.bufs.Put(pb)
	}
}

// writeLocked hands one message to nbio, which copies it. With bounded it
// refuses the message if it would take the backlog past MaxBacklog.
// c.mu must be held.
func (c *conn) writeLocked(mt websocket.MessageType, payload []byte, bounded bool) error {
	n := wireSize(len(payload), c.u.framePayloadMax)
	if bounded && c.unsent.Load()+n > int64(c.u.opts.MaxBacklog) {
		return gateway.ErrBacklog
	}
	c.unsent.Add(n)
	if err := c.wsc.WriteMessage(mt, payload); err != nil {
		// nbio has closed the socket, or is closing it; Closed follows.
		// The count no longer matters.
		if errors.Is(err, nbio.ErrOverflow) {
			return gateway.ErrBacklog
		}
		return gateway.ErrClosed
	}
	return nil
}

// Close implements gateway.Conn.
func (c *conn) Close(code int, reason string) {
	c.mu.Lock()
	if !c.state.CompareAndSwap(stateOpen, stateClosing) {
		c.mu.Unlock()
		return
	}
	err := c.writeLocked(websocket.CloseMessage, closePayload(code, reason), false)
	c.mu.Unlock()
	if err != nil {
		_ = c.nc.Close()
		return
	}
	// The peer answers our close frame with its own, upon which nbio
	// closes the socket (onCloseFrame). A peer that does not answer is
	// cut off by the read deadline, a timer that exists only from now on.
	_ = c.nc.SetReadDeadline(time.Now().Add(closeTimeout))
}

// RemoteIP implements gateway.Conn.
func (c *conn) RemoteIP() string {
	return gateway.RemoteIP(c.nc.RemoteAddr())
}

// onMessage is nbio's message handler, run on a worker.
func (c *conn) onMessage(_ *websocket.Conn, _ websocket.MessageType, data []byte) {
	c.evMu.Lock()
	defer c.evMu.Unlock()
	if c.ended || c.state.Load() != stateOpen {
		return
	}
	defer c.recoverHandler("Frame")
	c.h.Frame(data)
}

// onPing answers a ping, within the backlog bound.
func (c *conn) onPing(_ *websocket.Conn, appData string) {
	c.evMu.Lock()
	defer c.evMu.Unlock()
	if c.ended {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.state.Load() == stateOpen {
		_ = c.writeLocked(websocket.PongMessage, []byte(appData), true)
	}
}

// onCloseFrame handles the peer's close frame; nbio closes the socket
// when it returns. nbio has already refused invalid codes with 1002.
func (c *conn) onCloseFrame(_ *websocket.Conn, code int, _ string) {
	c.evMu.Lock()
	defer c.evMu.Unlock()
	if c.ended {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if !c.state.CompareAndSwap(stateOpen, stateClosing) {
		return // it answers our close frame: the closing handshake is done
	}
	var payload []byte // 1005: the peer gave no code, so neither do we
	if code != 1005 {
		payload = closePayload(code, "")
	}
	_ = c.writeLocked(websocket.CloseMessage, payload, false)
}

// onClose is nbio's close handler, run as the connection's last job.
func (c *conn) onClose(_ *websocket.Conn, err error) {
	c.end(err)
}

// end delivers Closed once.
func (c *conn) end(err error) {
	c.evMu.Lock()
	if c.ended {
		c.evMu.Unlock()
		return
	}
	c.ended = true
	c.evMu.Unlock()

	c.state.Store(stateClosed)
	c.u.conns.delete(c.nc)
	defer c.recoverHandler("Closed")
	c.h.Closed(err)
}

// recoverHandler, deferred around a Handler call, turns a panic into a log
// line and the end of this connection rather than of the process.
func (c *conn) recoverHandler(method string) {
	v := recover()
	if v == nil {
		return
	}
	c.u.log.Error("nbiows: handler panicked",
		"method", method, "err", fmt.Errorf("panic: %v", v), "stack", string(debug.Stack()))
	c.Close(wire.CloseInternal, "internal error")
}

// wireSize is the number of bytes nbio writes for a server message of n
// payload bytes: it splits the payload into frames of at most maxPayload
// bytes, each with an unmasked header of 2, 4 or 10 bytes.
func wireSize(n, maxPayload int) int64 {
	if n == 0 {
		return 2
	}
	full, rest := n/maxPayload, n%maxPayload
	size := int64(full) * int64(headerSize(maxPayload)+maxPayload)
	if rest > 0 {
		size += int64(headerSize(rest) + rest)
	}
	return size
}

func headerSize(payload int) int {
	switch {
	case payload < 126:
		return 2
	case payload <= 0xFFFF:
		return 4
	default:
		return 10
	}
}

// closePayload is the body of a close frame: the code, big-endian, then
// the reason cut to fit a control frame (125 bytes) on a rune boundary. A
// code that may not be sent on the wire becomes 1000.
func closePayload(code int, reason string) []byte {
	if !gateway.SendableCloseCode(code) {
		code = wire.CloseNormal
	}
	reason = gateway.CutCloseReason(reason)
	b := make([]byte, 2+len(reason))
	binary.BigEndian.PutUint16(b, uint16(code))
	copy(b[2:], reason)
	return b
}

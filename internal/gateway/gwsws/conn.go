package gwsws

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"runtime/debug"
	"sync"
	"sync/atomic"
	"time"

	"github.com/lxzan/gws"

	"github.com/parley-im/parley/internal/gateway"
	"github.com/parley-im/parley/wire"
)

// closeTimeout bounds how long a Close may wait for the frames queued
// before it, and the close frame, to reach the kernel.
const closeTimeout = 5 * time.Second

// sessionKey is where a gws.Conn's session storage keeps its *conn.
const sessionKey = "parley.conn"

// States of a conn.
const (
	stateOpen    = iota
	stateClosing // the close frame is queued or the peer's is being answered
	stateClosed  // Closed has been delivered
)

// conn is one connection: the gateway.Conn handed to the session.
type conn struct {
	u  *Upgrader
	ws *gws.Conn
	h  gateway.Handler // set before the read goroutine starts

	ended atomic.Bool // Closed delivered

	mu      sync.Mutex
	state   int
	queue   []outFrame // waiting for the writer, in order
	unsent  int        // bytes of queue plus the frame being written
	writing bool       // a writer goroutine is running
}

// outFrame is one queued message. For a close frame, data is the reason.
type outFrame struct {
	op   gws.Opcode
	code int
	data []byte
	size int // bytes on the wire
}

var _ gateway.Conn = (*conn)(nil)

// Write implements gateway.Conn.
func (c *conn) Write(frame []byte) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.state != stateOpen {
		return gateway.ErrClosed
	}
	return c.enqueueLocked(outFrame{op: gws.OpcodeText, data: bytes.Clone(frame)}, true)
}

// enqueueLocked queues f and makes sure a writer runs. With bounded it
// refuses f if it would take the backlog past MaxBacklog. c.mu must be
// held.
func (c *conn) enqueueLocked(f outFrame, bounded bool) error {
	f.size = wireSize(len(f.data))
	if f.op == gws.OpcodeCloseConnection {
		f.size += 2 // the code
	}
	if bounded && c.unsent+f.size > c.u.opts.MaxBacklog {
		return gateway.ErrBacklog
	}
	c.unsent += f.size
	c.queue = append(c.queue, f)
	if !c.writing {
		c.writing = true
		c.u.wg.Add(1)
		c.u.writers.Add(1)
		go c.writeLoop()
	}
	return nil
}

// writeLoop writes the queue until it is empty. After a failed write gws
// has closed the connection; the rest of the queue is dropped.
func (c *conn) writeLoop() {
	defer c.u.wg.Done()
	defer c.u.writers.Add(-1)
	for {
		c.mu.Lock()
		if len(c.queue) == 0 {
			c.queue = nil // let a burst's backing array go
			c.writing = false
			c.mu.Unlock()
			return
		}
		f := c.queue[0]
		c.queue[0] = outFrame{}
		c.queue = c.queue[1:]
		c.mu.Unlock()

		var err error
		if f.op == gws.OpcodeCloseConnection {
			err = c.writeClose(f.code, f.data)
		} else {
			err = c.ws.WriteMessage(f.op, f.data)
		}

		c.mu.Lock()
		c.unsent -= f.size
		if err != nil {
			c.queue, c.unsent, c.writing = nil, 0, false
			c.mu.Unlock()
			return
		}
		c.mu.Unlock()
	}
}

// writeClose sends the close frame and half-closes the socket: the client
// reads the frame and the FIN, and the read goroutine goes on reading
// until the client closes too (or the read deadline passes). Closing the
// socket at once, as gws's WriteClose does, can make the kernel answer the
// client's in-flight data with a reset that destroys the close frame.
func (c *conn) writeClose(code int, reason []byte) error {
	payload := make([]byte, 2+len(reason))
	binary.BigEndian.PutUint16(payload, uint16(code))
	copy(payload[2:], reason)
	nc := c.ws.NetConn()
	_ = nc.SetReadDeadline(time.Now().Add(closeTimeout))
	if err := c.ws.WriteMessage(gws.OpcodeCloseConnection, payload); err != nil {
		_ = nc.Close()
		return err
	}
	if tc, ok := nc.(interface{ CloseWrite() error }); ok {
		_ = tc.CloseWrite()
		return nil
	}
	return nc.Close()
}

// Close implements gateway.Conn.
func (c *conn) Close(code int, reason string) {
	c.mu.Lock()
	if c.state != stateOpen {
		c.mu.Unlock()
		return
	}
	c.state = stateClosing
	if !gateway.SendableCloseCode(code) {
		code = wire.CloseNormal
	}
	_ = c.enqueueLocked(outFrame{op: gws.OpcodeCloseConnection, code: code, data: []byte(gateway.CutCloseReason(reason))}, false)
	c.mu.Unlock()
	// A writer blocked on a client that does not read gives up at the
	// deadline; gws then closes the socket, which ends the read goroutine.
	_ = c.ws.NetConn().SetWriteDeadline(time.Now().Add(closeTimeout))
}

// RemoteIP implements gateway.Conn.
func (c *conn) RemoteIP() string {
	return gateway.RemoteIP(c.ws.RemoteAddr())
}

// frame delivers one message; called on the read goroutine.
func (c *conn) frame(data []byte) {
	c.mu.Lock()
	open := c.state == stateOpen
	c.mu.Unlock()
	if !open {
		return
	}
	defer c.recoverHandler("Frame")
	c.h.Frame(data)
}

// pong answers a ping, within the backlog bound.
func (c *conn) pong(payload []byte) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.state == stateOpen {
		_ = c.enqueueLocked(outFrame{op: gws.OpcodePong, data: payload}, true)
	}
}

// end delivers Closed once; called on the read goroutine as it ends.
func (c *conn) end(err error) {
	if !c.ended.CompareAndSwap(false, true) {
		return
	}
	c.mu.Lock()
	c.state = stateClosed
	c.mu.Unlock()
	c.u.forget(c)
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
	c.u.log.Error("gwsws: handler panicked",
		"method", method, "err", fmt.Errorf("panic: %v", v), "stack", string(debug.Stack()))
	c.Close(wire.CloseInternal, "internal error")
}

// events is the gws event handler shared by all connections; it finds a
// connection's conn in the gws session storage.
type events struct{}

func connOf(ws *gws.Conn) *conn {
	v, _ := ws.Session().Load(sessionKey)
	c, _ := v.(*conn)
	return c
}

func (events) OnOpen(*gws.Conn) {}

func (events) OnClose(ws *gws.Conn, err error) {
	if c := connOf(ws); c != nil {
		c.end(err)
	}
}

func (events) OnPing(ws *gws.Conn, payload []byte) {
	if c := connOf(ws); c != nil {
		c.pong(payload)
	}
}

func (events) OnPong(*gws.Conn, []byte) {}

func (events) OnMessage(ws *gws.Conn, m *gws.Message) {
	defer m.Close()
	if c := connOf(ws); c != nil {
		c.frame(m.Bytes())
	}
}

// wireSize is the number of bytes gws writes for a server message of n
// payload bytes: one unmasked frame with a header of 2, 4 or 10 bytes.
func wireSize(n int) int {
	switch {
	case n < 126:
		return n + 2
	case n <= 0xFFFF:
		return n + 4
	default:
		return n + 10
	}
}

package bench

import (
	"bufio"
	"bytes"
	"cmp"
	"context"
	"crypto/rand"
	"crypto/sha1"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/url"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/parley-im/parley"
	"github.com/parley-im/parley/wire"
)

// The lean client: a simulated device that speaks the Parley protocol on
// a bare WebSocket, read by an epoll loop shared by thousands of them.
//
// The Go client gives each connection a reader and a delivery goroutine,
// which is right for an app with one connection but makes a generator of
// thousands of them pay two goroutine wake-ups, a read that finds nothing
// and the client's bookkeeping for every push: ~25 µs of CPU per push on
// the 2-core test machine, on the cores the server under test needs. A
// lean device does what the benchmark needs of a client and no more: it
// authenticates, syncs its group's history, delivers every message once
// and in order (pulling any gap, as the Go client does), acknowledges
// pushes with the Go client's policy, answers pings, pings every
// heartbeat and sends. Its messages go to the same vuser.message as the
// Go client's, so the same checks apply.

// rawPoller is one epoll loop and the lean devices it reads.
type rawPoller struct {
	epfd   int
	mu     sync.Mutex
	conns  map[int32]*rawConn
	acking []*rawConn // devices with pushes to acknowledge; loop-owned
	closed atomic.Bool
	done   chan struct{}
}

func newRawPoller() (*rawPoller, error) {
	epfd, err := syscall.EpollCreate1(syscall.EPOLL_CLOEXEC)
	if err != nil {
		return nil, fmt.Errorf("bench: epoll: %w", err)
	}
	p := &rawPoller{epfd: epfd, conns: map[int32]*rawConn{}, done: make(chan struct{})}
	go p.loop()
	return p, nil
}

// pollEvery is how often the loop looks for acks and pings due when no
// socket is readable, and at most how late either is.
const pollEvery = 20 * time.Millisecond

func (p *rawPoller) loop() {
	defer close(p.done)
	events := make([]syscall.EpollEvent, 512)
	var lastScan, lastPing time.Time
	for !p.closed.Load() {
		n, err := syscall.EpollWait(p.epfd, events, int(pollEvery/time.Millisecond))
		if err != nil && !errors.Is(err, syscall.EINTR) {
			return
		}
		for i := range n {
			p.mu.Lock()
			c := p.conns[events[i].Fd]
			p.mu.Unlock()
			if c != nil {
				c.readable()
			}
		}
		now := time.Now()
		if now.Sub(lastScan) >= pollEvery {
			lastScan = now
			p.flushAcks(now, false)
		}
		if now.Sub(lastPing) >= time.Second {
			lastPing = now
			p.ping(now)
		}
	}
}

// close stops the loop; the devices must be closed first.
func (p *rawPoller) close() {
	p.closed.Store(true)
	<-p.done
	_ = syscall.Close(p.epfd)
}

// flushAcks acknowledges the pushes of every device whose ack is due
// (all of them with force).
func (p *rawPoller) flushAcks(now time.Time, force bool) {
	keep := p.acking[:0]
	for _, c := range p.acking {
		if len(c.acks) == 0 {
			continue
		}
		if !force && now.Before(c.ackAt) {
			keep = append(keep, c)
			continue
		}
		c.flushAcks()
	}
	clear(p.acking[len(keep):])
	p.acking = keep
}

// ping writes a ping for every device that wrote nothing for a heartbeat.
func (p *rawPoller) ping(now time.Time) {
	p.mu.Lock()
	conns := make([]*rawConn, 0, len(p.conns))
	for _, c := range p.conns {
		conns = append(conns, c)
	}
	p.mu.Unlock()
	for _, c := range conns {
		if now.UnixNano()-c.lastWrite.Load() >= c.heartbeat.Load() {
			_ = c.write(appendClientFrame(nil, opText, []byte(wire.PingFrame)))
		}
	}
}

// rawConn is one lean device.
type rawConn struct {
	p         *rawPoller
	fd        int
	u         *vuser
	conv      string                    // the group it delivers in order, pulling gaps
	heartbeat atomic.Int64              // ns; from the auth answer
	ackDelay  atomic.Int64              // ns; from the auth answer
	onDrop    func()                    // a connection lost, not closed by Close
	lose      func(parley.Message) bool // tests: true drops the pushed message

	// Owned by the poller's loop.
	rbuf  []byte
	rn    int
	acks  []uint64
	ackAt time.Time

	wmu       sync.Mutex // serializes writes
	lastWrite atomic.Int64

	omu      sync.Mutex // guards the delivery order
	cursor   uint64     // conv's highest seq delivered
	catching bool       // a pull is filling a gap; pushes wait in held
	held     []parley.Message

	rmu     sync.Mutex // guards pending and dead
	pending map[string]chan rawReply
	nextID  atomic.Uint64
	dead    bool
	closing atomic.Bool
}

type rawReply struct {
	data json.RawMessage
	err  error
}

// errLost ends the requests of a device whose connection is gone.
var errLost = errors.New("bench: connection lost")

// rawOptions are a lean device's callbacks.
type rawOptions struct {
	onDrop func()                    // the connection was lost (not closed by Close)
	lose   func(parley.Message) bool // tests: true drops a pushed message, as if lost
}

// dialRaw connects a lean device for u: WebSocket handshake, auth, then
// the history of conv up to now. Pushes that arrive meanwhile are held
// and delivered after it, in order.
func dialRaw(ctx context.Context, p *rawPoller, dial func(ctx context.Context, network, addr string) (net.Conn, error),
	base, token, device string, u *vuser, o rawOptions) (*rawConn, error) {
	bu, err := url.Parse(base)
	if err != nil || bu.Scheme != "http" {
		return nil, fmt.Errorf("bench: the lean client needs an http:// base URL, not %q", base)
	}
	nc, err := dial(ctx, "tcp", bu.Host)
	if err != nil {
		return nil, err
	}
	stop := context.AfterFunc(ctx, func() { _ = nc.Close() })
	fd, rest, err := handshake(nc, bu.Host)
	stop()
	_ = nc.Close() // fd is a duplicate: the socket stays open
	if err != nil {
		if fd >= 0 {
			_ = syscall.Close(fd)
		}
		return nil, err
	}
	c := &rawConn{p: p, fd: fd, u: u, conv: u.spec.Conv,
		onDrop: o.onDrop, lose: o.lose, rbuf: make([]byte, 4096), pending: map[string]chan rawReply{}, catching: true}
	c.heartbeat.Store(int64(wire.DefaultHeartbeat))
	c.ackDelay.Store(int64(wire.AckDelay(wire.DefaultRetry)))
	c.lastWrite.Store(time.Now().UnixNano())
	c.rn = copy(c.rbuf, rest) // what the server sent after its handshake answer
	p.mu.Lock()
	p.conns[int32(fd)] = c
	p.mu.Unlock()
	if err := syscall.EpollCtl(p.epfd, syscall.EPOLL_CTL_ADD, fd, &syscall.EpollEvent{Events: syscall.EPOLLIN | syscall.EPOLLRDHUP, Fd: int32(fd)}); err != nil {
		c.fail(err)
		return nil, err
	}
	var ar wire.AuthRes
	if err := c.call(ctx, wire.In{Type: wire.TAuth, Token: token, Device: device, Platform: string(parley.PlatformWeb)}, &ar); err != nil {
		c.fail(err)
		return nil, err
	}
	c.heartbeat.Store(int64(ar.HeartbeatInterval()))
	c.ackDelay.Store(int64(wire.AckDelay(ar.RetryInterval())))
	if c.conv == "" {
		c.omu.Lock()
		c.catching = false
		c.omu.Unlock()
		return c, nil
	}
	if err := c.catchUp(ctx); err != nil {
		c.fail(err)
		return nil, err
	}
	return c, nil
}

// handshake upgrades nc to a WebSocket and returns a duplicate of its
// descriptor, which the caller owns, and the bytes read past the answer.
func handshake(nc net.Conn, host string) (fd int, rest []byte, err error) {
	fd = -1
	var key [16]byte
	_, _ = rand.Read(key[:])
	k := base64.StdEncoding.EncodeToString(key[:])
	_ = nc.SetDeadline(time.Now().Add(30 * time.Second))
	req := "GET /v1/ws HTTP/1.1\r\nHost: " + host + "\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n" +
		"Sec-WebSocket-Key: " + k + "\r\nSec-WebSocket-Version: 13\r\n\r\n"
	if _, err := nc.Write([]byte(req)); err != nil {
		return fd, nil, err
	}
	br := bufio.NewReaderSize(nc, 4096)
	status, err := br.ReadString('\n')
	if err != nil {
		return fd, nil, err
	}
	if !bytes.HasPrefix([]byte(status), []byte("HTTP/1.1 101")) {
		return fd, nil, fmt.Errorf("bench: WebSocket handshake: %s", bytes.TrimSpace([]byte(status)))
	}
	sum := sha1.Sum([]byte(k + "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"))
	accept := false
	for {
		line, err := br.ReadString('\n')
		if err != nil {
			return fd, nil, err
		}
		if line == "\r\n" {
			break
		}
		name, value, _ := bytes.Cut(bytes.TrimSpace([]byte(line)), []byte(":"))
		if bytes.EqualFold(name, []byte("Sec-WebSocket-Accept")) &&
			string(bytes.TrimSpace(value)) == base64.StdEncoding.EncodeToString(sum[:]) {
			accept = true
		}
	}
	if !accept {
		return fd, nil, errors.New("bench: WebSocket handshake: no valid Sec-WebSocket-Accept")
	}
	rest, _ = br.Peek(br.Buffered())
	rest = bytes.Clone(rest)
	_ = nc.SetDeadline(time.Time{})
	rc, err := nc.(syscall.Conn).SyscallConn()
	if err != nil {
		return fd, nil, err
	}
	var derr error
	if err := rc.Control(func(s uintptr) {
		fd, derr = syscall.Dup(int(s))
		if derr == nil {
			syscall.CloseOnExec(fd)
			derr = syscall.SetNonblock(fd, true)
		}
	}); err != nil {
		return fd, nil, err
	}
	return fd, rest, derr
}

// readable reads what the socket holds and handles every whole frame.
func (c *rawConn) readable() {
	for {
		if c.rn == len(c.rbuf) {
			c.rbuf = slices.Grow(c.rbuf[:c.rn], len(c.rbuf))[:2*len(c.rbuf)]
		}
		n, err := syscall.Read(c.fd, c.rbuf[c.rn:])
		switch {
		case errors.Is(err, syscall.EINTR):
			continue
		case errors.Is(err, syscall.EAGAIN):
			return
		case err != nil:
			c.fail(err)
			return
		case n == 0:
			c.fail(errLost)
			return
		}
		c.rn += n
		if !c.frames() {
			return
		}
		if c.rn < len(c.rbuf) {
			return // the socket is drained; epoll says when there is more
		}
	}
}

// frames handles the whole frames in the read buffer and keeps the rest;
// false when the connection failed.
func (c *rawConn) frames() bool {
	off := 0
	for {
		op, payload, n, need, err := nextFrame(c.rbuf[off:c.rn])
		if err != nil {
			c.fail(err)
			return false
		}
		if n == 0 {
			if need > len(c.rbuf) {
				c.rbuf = slices.Grow(c.rbuf[:c.rn], need-c.rn)[:need]
			}
			break
		}
		off += n
		if !c.frame(op, payload) {
			return false
		}
	}
	c.rn = copy(c.rbuf, c.rbuf[off:c.rn])
	if c.rn == 0 && len(c.rbuf) > 64<<10 {
		c.rbuf = make([]byte, 4096) // a large answer has gone
	}
	return true
}

func (c *rawConn) frame(op byte, payload []byte) bool {
	switch op {
	case opText:
		if n, m, ok := wire.DecodePush(payload); ok {
			c.push(n, m)
			return true
		}
		c.other(payload)
	case opPing:
		_ = c.write(appendClientFrame(nil, opPong, payload))
	case opPong:
	case opClose:
		c.fail(fmt.Errorf("bench: the server closed the connection: %x", payload))
		return false
	default:
		c.fail(fmt.Errorf("bench: unexpected WebSocket opcode %d", op))
		return false
	}
	return true
}

// push acknowledges message push n (with the Go client's batching) and
// delivers its message in order.
func (c *rawConn) push(n uint64, m parley.Message) {
	if c.lose != nil && c.lose(m) {
		m = parley.Message{} // acknowledged, never delivered: a test's lost push
	}
	c.acks = append(c.acks, n)
	switch {
	case len(c.acks) >= wire.AckBatch:
		c.flushAcks()
	case len(c.acks) == 1:
		d := time.Duration(c.ackDelay.Load())
		c.ackAt = time.Now().Add(d/2 + randDuration(d))
		c.p.acking = append(c.p.acking, c)
	}
	if m.ConvID != "" {
		c.deliver(m)
	}
}

func (c *rawConn) flushAcks() {
	for ns := c.acks; len(ns) > 0; {
		chunk := ns[:min(len(ns), wire.MaxAcks)]
		ns = ns[len(chunk):]
		if c.write(appendClientFrame(nil, opText, wire.Ack(chunk))) != nil {
			break
		}
	}
	c.acks = c.acks[:0]
}

// deliver hands m to the user once, in order within the group: a push
// past a gap waits while a pull brings the gap.
func (c *rawConn) deliver(m parley.Message) {
	if m.ConvID != c.conv {
		c.u.message(m)
		return
	}
	c.omu.Lock()
	defer c.omu.Unlock()
	switch {
	case c.catching:
		c.held = append(c.held, m)
	case m.Seq <= c.cursor:
		// Sent again (not acknowledged in time) or pulled already.
	case m.Seq == c.cursor+1:
		c.cursor = m.Seq
		c.u.message(m)
	default:
		c.catching = true
		c.held = append(c.held, m)
		go func() {
			if err := c.catchUp(context.Background()); err != nil {
				c.fail(err)
			}
		}()
	}
}

// catchUp pulls the group after the cursor to its end, then delivers the
// held pushes; it repeats while they leave a gap.
func (c *rawConn) catchUp(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, time.Minute)
	defer cancel()
	for {
		c.omu.Lock()
		after := c.cursor
		c.omu.Unlock()
		var res wire.PullRes
		if err := c.call(ctx, wire.In{Type: wire.TPull, Conv: c.conv, After: after, Limit: wire.MaxLimit}, &res); err != nil {
			return err
		}
		c.omu.Lock()
		for _, m := range res.Msgs {
			if m.Seq == c.cursor+1 {
				c.cursor = m.Seq
				c.u.message(m)
			}
		}
		if res.More && len(res.Msgs) > 0 {
			c.omu.Unlock()
			continue
		}
		// The history has ended. Held pushes past it came in meanwhile:
		// deliver them in order, pulling again for a gap among them,
		// unless this pull brought nothing, so that the server's history
		// has the gap (the check then counts it as lost; the Go client
		// logs it and delivers on likewise).
		stuck := c.cursor == after
		slices.SortFunc(c.held, func(a, b parley.Message) int { return cmp.Compare(a.Seq, b.Seq) })
		i := 0
		for ; i < len(c.held); i++ {
			m := c.held[i]
			if m.Seq <= c.cursor {
				continue
			}
			if m.Seq != c.cursor+1 && !stuck {
				break // still a gap: pull again
			}
			c.cursor = m.Seq
			c.u.message(m)
		}
		c.held = slices.Delete(c.held, 0, i)
		if len(c.held) == 0 {
			c.catching = false
			c.omu.Unlock()
			return nil
		}
		c.omu.Unlock()
	}
}

// other handles a text frame that is not a message push: answers, and a
// resync (the server forgot pushes never acknowledged: pull them).
func (c *rawConn) other(b []byte) {
	var f struct {
		Type    string          `json:"type"`
		ID      string          `json:"id"`
		Data    json.RawMessage `json:"data"`
		Code    string          `json:"code"`
		Message string          `json:"message"`
	}
	if json.Unmarshal(b, &f) != nil {
		return // pushes this client has no use for may not decode as above (a close code is a number)
	}
	switch f.Type {
	case wire.TRes, wire.TErr:
		c.rmu.Lock()
		ch, ok := c.pending[f.ID]
		delete(c.pending, f.ID)
		c.rmu.Unlock()
		if !ok {
			return
		}
		if f.Type == wire.TErr {
			ch <- rawReply{err: &parley.Error{Code: f.Code, Message: f.Message}}
			return
		}
		ch <- rawReply{data: bytes.Clone(f.Data)}
	case wire.TResync:
		c.omu.Lock()
		if !c.catching {
			c.catching = true
			go func() {
				if err := c.catchUp(context.Background()); err != nil {
					c.fail(err)
				}
			}()
		}
		c.omu.Unlock()
	}
}

// call makes a request and decodes its answer into out.
func (c *rawConn) call(ctx context.Context, in wire.In, out any) error {
	in.ID = "b" + strconv.FormatUint(c.nextID.Add(1), 10)
	frame, err := json.Marshal(in)
	if err != nil {
		return err
	}
	ch := make(chan rawReply, 1)
	c.rmu.Lock()
	if c.dead {
		c.rmu.Unlock()
		return errLost
	}
	c.pending[in.ID] = ch
	c.rmu.Unlock()
	if err := c.write(appendClientFrame(nil, opText, frame)); err != nil {
		return err
	}
	select {
	case r := <-ch:
		if r.err != nil {
			return r.err
		}
		return json.Unmarshal(r.data, out)
	case <-ctx.Done():
		c.rmu.Lock()
		delete(c.pending, in.ID)
		c.rmu.Unlock()
		return ctx.Err()
	}
}

// write writes a whole frame. The socket is non-blocking: a full send
// buffer is waited out for up to 10 s, as the Go client's write timeout.
func (c *rawConn) write(frame []byte) error {
	c.wmu.Lock()
	defer c.wmu.Unlock()
	deadline := time.Now().Add(10 * time.Second)
	for len(frame) > 0 {
		n, err := syscall.Write(c.fd, frame)
		switch {
		case errors.Is(err, syscall.EINTR):
			continue
		case errors.Is(err, syscall.EAGAIN):
			if time.Now().After(deadline) {
				err = errors.New("bench: write timed out")
				c.fail(err)
				return err
			}
			time.Sleep(time.Millisecond)
			continue
		case err != nil:
			c.fail(err)
			return err
		}
		frame = frame[n:]
	}
	c.lastWrite.Store(time.Now().UnixNano())
	return nil
}

// fail ends the connection once: requests waiting get errLost, and a loss
// that Close did not ask for is counted.
func (c *rawConn) fail(error) {
	c.rmu.Lock()
	if c.dead {
		c.rmu.Unlock()
		return
	}
	c.dead = true
	pending := c.pending
	c.pending = nil
	c.rmu.Unlock()
	for _, ch := range pending {
		ch <- rawReply{err: errLost}
	}
	c.p.mu.Lock()
	delete(c.p.conns, int32(c.fd))
	c.p.mu.Unlock()
	_ = syscall.EpollCtl(c.p.epfd, syscall.EPOLL_CTL_DEL, c.fd, nil)
	_ = syscall.Close(c.fd)
	if !c.closing.Load() && c.onDrop != nil {
		c.onDrop()
	}
}

// SendConv sends a message to conv and returns it as stored.
func (c *rawConn) SendConv(ctx context.Context, conv string, kind parley.Kind, body json.RawMessage) (*parley.Message, error) {
	if kind == "" {
		kind = parley.KindText
	}
	var res wire.SendRes
	cmid := "b" + strconv.FormatUint(c.nextID.Add(1), 36) + "-" + strconv.FormatInt(time.Now().UnixNano(), 36)
	if err := c.call(ctx, wire.In{Type: wire.TSend, Conv: conv, CMID: cmid, Kind: string(kind), Body: body}, &res); err != nil {
		return nil, err
	}
	if res.Msg == nil {
		return nil, errors.New("bench: send answered without the message")
	}
	// The server pushes a message to every connection but the sending
	// one, which learns of it from the answer (as the Go client does).
	c.deliver(*res.Msg)
	return res.Msg, nil
}

// Send is not needed of a lean device (the group scenario sends to its
// group only).
func (c *rawConn) Send(context.Context, string, parley.Kind, json.RawMessage) (*parley.Message, error) {
	return nil, errors.New("bench: lean devices send to groups only")
}

// Pull reads conv's history.
func (c *rawConn) Pull(ctx context.Context, conv string, r parley.MessageRange) (wire.PullRes, error) {
	var res wire.PullRes
	err := c.call(ctx, wire.In{Type: wire.TPull, Conv: conv, After: r.After, Before: r.Before, Limit: r.Limit}, &res)
	return res, err
}

// Close writes a close frame and closes the connection.
func (c *rawConn) Close() error {
	c.closing.Store(true)
	_ = c.write(appendClientFrame(nil, opClose, []byte{0x03, 0xE8})) // 1000
	c.fail(nil)
	return nil
}

package gatewaytest

import (
	"bytes"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/lxzan/gws"

	"github.com/parley-im/parley/internal/gateway"
)

// waitTimeout bounds every wait in the suite. It is a liveness bound (a
// hang fails instead of stalling the run), not a performance assertion.
const waitTimeout = 15 * time.Second

// behaviour is what the server side does with the frames it receives.
type behaviour struct {
	echo   bool // write every frame back
	record bool // keep a copy of every frame, in order, in serverConn.frames
	slow   bool // yield inside Frame, to widen the window for overlapping calls
	// closeOnFrame, if non-zero, makes Frame close the connection with
	// this code and reason "unauthorized", as a session refusing a client.
	closeOnFrame int
	// refuse makes newHandler return nil instead of a Handler.
	refuse bool
}

// harness is one transport under test: an upgrader, a real HTTP server
// that upgrades every request, and the clients dialled to it.
type harness struct {
	t        *testing.T
	up       gateway.Upgrader
	srv      *httptest.Server
	url      string
	b        behaviour
	accepted chan *serverConn
	upErrs   chan error

	mu      sync.Mutex
	all     []*serverConn
	clients []*client
	wg      sync.WaitGroup // client read loops

	stopOnce sync.Once
}

func start(t *testing.T, newUpgrader upgraderFunc, o gateway.TransportOptions, b behaviour) *harness {
	t.Helper()
	h := &harness{
		t:        t,
		up:       newUpgrader(t, o),
		b:        b,
		accepted: make(chan *serverConn, 1024),
		upErrs:   make(chan error, 64),
	}
	h.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		err := h.up.Upgrade(w, r, func(c gateway.Conn) gateway.Handler {
			if h.b.refuse {
				return nil
			}
			s := newServerConn(c, h.b)
			h.mu.Lock()
			h.all = append(h.all, s)
			h.mu.Unlock()
			h.accepted <- s
			return s
		})
		if err != nil {
			select {
			case h.upErrs <- err:
			default:
			}
		}
	}))
	h.url = "ws" + strings.TrimPrefix(h.srv.URL, "http")
	t.Cleanup(h.stop)
	return h
}

// stop closes the clients, the upgrader and the server, waits for the
// clients' goroutines, and then checks what must hold for every connection
// the upgrader ever handed out: Closed exactly once, no Frame call
// overlapping another, no Frame after Closed.
func (h *harness) stop() {
	h.stopOnce.Do(func() {
		h.mu.Lock()
		clients := h.clients
		h.mu.Unlock()
		for _, c := range clients {
			_ = c.ws.NetConn().Close()
		}
		if err := h.up.Close(); err != nil {
			h.t.Errorf("Upgrader.Close: %v", err)
		}
		if err := h.up.Close(); err != nil {
			h.t.Errorf("second Upgrader.Close: %v", err)
		}
		h.srv.Close()
		h.wg.Wait()

		h.mu.Lock()
		defer h.mu.Unlock()
		for i, s := range h.all {
			if n := s.closedN.Load(); n != 1 {
				h.t.Errorf("connection %d: Closed called %d times after Upgrader.Close, want 1", i, n)
			}
			if n := s.overlaps.Load(); n != 0 {
				h.t.Errorf("connection %d: %d Frame calls overlapped another", i, n)
			}
			if n := s.afterClosed.Load(); n != 0 {
				h.t.Errorf("connection %d: %d Frame calls after Closed", i, n)
			}
		}
	})
}

// accept waits for the server side of the next upgraded connection.
func (h *harness) accept() *serverConn {
	h.t.Helper()
	select {
	case s := <-h.accepted:
		return s
	case err := <-h.upErrs:
		h.t.Fatalf("Upgrade failed: %v", err)
	case <-time.After(waitTimeout):
		h.t.Fatal("no connection was upgraded")
	}
	return nil
}

// serverConn is the suite's gateway.Handler: it records what the
// transport does to it.
type serverConn struct {
	conn gateway.Conn
	b    behaviour

	frames chan []byte // copies of the frames, if b.record

	inFrame     atomic.Int32
	overlaps    atomic.Int32
	afterClosed atomic.Int32
	writeErrs   atomic.Int32 // failed echo writes
	dropped     atomic.Int32 // frames that did not fit in frames

	closedN   atomic.Int32
	closedErr error // set before closed is closed
	closed    chan struct{}
}

func newServerConn(c gateway.Conn, b behaviour) *serverConn {
	s := &serverConn{conn: c, b: b, closed: make(chan struct{})}
	if b.record {
		s.frames = make(chan []byte, 16<<10)
	}
	return s
}

func (s *serverConn) Frame(data []byte) {
	if s.inFrame.Add(1) != 1 {
		s.overlaps.Add(1)
	}
	defer s.inFrame.Add(-1)
	if s.closedN.Load() != 0 {
		s.afterClosed.Add(1)
	}
	if s.b.slow {
		for range 3 {
			runtime.Gosched()
		}
	}
	if s.b.record {
		select {
		case s.frames <- bytes.Clone(data):
		default:
			s.dropped.Add(1)
		}
	}
	if s.b.echo {
		if err := s.conn.Write(data); err != nil {
			s.writeErrs.Add(1)
		}
	}
	if s.b.closeOnFrame != 0 {
		s.conn.Close(s.b.closeOnFrame, "unauthorized")
	}
}

func (s *serverConn) Closed(err error) {
	if s.closedN.Add(1) == 1 {
		s.closedErr = err
		close(s.closed)
	}
}

// waitClosed waits for Closed.
func (s *serverConn) waitClosed(t *testing.T) {
	t.Helper()
	select {
	case <-s.closed:
	case <-time.After(waitTimeout):
		t.Fatal("Handler.Closed was not called")
	}
}

// nextFrame waits for the next frame the server received (b.record).
func (s *serverConn) nextFrame(t *testing.T) []byte {
	t.Helper()
	select {
	case f := <-s.frames:
		return f
	case <-time.After(waitTimeout):
		t.Fatal("server received no frame")
	}
	return nil
}

// client is a gws client connection.
type client struct {
	ws       *gws.Conn
	msgs     chan []byte
	pongs    chan []byte
	done     chan struct{} // closed when the read loop has returned
	closeErr error         // why the read loop returned; set before done is closed
}

// dial connects a client and starts its read loop.
func (h *harness) dial() *client {
	h.t.Helper()
	c, err := h.connect(true)
	if err != nil {
		h.t.Fatal(err)
	}
	return c
}

// dialNoRead connects a client that never reads.
func (h *harness) dialNoRead() *client {
	h.t.Helper()
	c, err := h.connect(false)
	if err != nil {
		h.t.Fatal(err)
	}
	return c
}

// connect dials a client, and starts its read loop if read. Safe to call
// from any goroutine.
func (h *harness) connect(read bool) (*client, error) {
	c := &client{
		msgs:  make(chan []byte, 1024),
		pongs: make(chan []byte, 16),
		done:  make(chan struct{}),
	}
	ws, resp, err := gws.NewClient(c, &gws.ClientOption{Addr: h.url})
	if err != nil {
		return nil, fmt.Errorf("dial %s: %w", h.url, err)
	}
	if resp != nil && resp.Body != nil {
		_ = resp.Body.Close()
	}
	c.ws = ws
	h.mu.Lock()
	h.clients = append(h.clients, c)
	h.mu.Unlock()
	if read {
		h.wg.Add(1)
		go func() {
			defer h.wg.Done()
			defer close(c.done)
			c.ws.ReadLoop()
		}()
	}
	return c, nil
}

func (c *client) OnOpen(*gws.Conn) {}

func (c *client) OnClose(_ *gws.Conn, err error) { c.closeErr = err }

func (c *client) OnPing(ws *gws.Conn, p []byte) { _ = ws.WritePong(p) }

func (c *client) OnPong(_ *gws.Conn, p []byte) {
	select {
	case c.pongs <- bytes.Clone(p):
	default:
	}
}

func (c *client) OnMessage(_ *gws.Conn, m *gws.Message) {
	c.msgs <- bytes.Clone(m.Bytes())
	_ = m.Close()
}

func (c *client) send(t *testing.T, s string) {
	t.Helper()
	if err := c.ws.WriteString(s); err != nil {
		t.Fatalf("client write: %v", err)
	}
}

// recv waits for the next message the client received. Safe to call
// from any goroutine.
func (c *client) recv() ([]byte, error) {
	select {
	case m := <-c.msgs:
		return m, nil
	case <-c.done:
		// Messages read before the end are still in the channel.
		select {
		case m := <-c.msgs:
			return m, nil
		default:
		}
		return nil, fmt.Errorf("connection ended before the next message: %v", c.closeErr)
	case <-time.After(waitTimeout):
		return nil, errors.New("client received no message")
	}
}

// next is recv for the test goroutine.
func (c *client) next(t *testing.T) []byte {
	t.Helper()
	m, err := c.recv()
	if err != nil {
		t.Fatal(err)
	}
	return m
}

// waitDone waits for the client's read loop to end and returns why.
func (c *client) waitDone(t *testing.T) error {
	t.Helper()
	select {
	case <-c.done:
		return c.closeErr
	case <-time.After(waitTimeout):
		t.Fatal("client connection did not end")
	}
	return nil
}

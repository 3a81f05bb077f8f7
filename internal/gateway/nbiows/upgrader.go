package nbiows

import (
	"bufio"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"runtime"
	"sync"

	"github.com/lesismal/nbio"
	"github.com/lesismal/nbio/nbhttp"
	"github.com/lesismal/nbio/nbhttp/websocket"

	"github.com/parley-im/parley/internal/gateway"
)

// backstopSlack is how far above MaxBacklog nbio's own write-buffer limit
// sits. Our count refuses data frames first; control frames (pong, close),
// which are not refused, and the handshake response fit in the slack.
const backstopSlack = 64 << 10

// Errors of Upgrade.
var (
	ErrUpgraderClosed = errors.New("nbiows: upgrader closed")
	ErrTLS            = errors.New("nbiows: WebSocket over TLS is not supported; terminate TLS in front of the server")
	ErrEarlyData      = errors.New("nbiows: client sent data before the handshake completed")
	errNotTransferred = errors.New("nbiows: connection could not be moved onto the poller")
	errNilHandler     = errors.New("nbiows: newHandler returned nil")
)

// Upgrader is the nbio transport. Create it with New; it is safe for
// concurrent use.
type Upgrader struct {
	opts            gateway.TransportOptions
	log             *slog.Logger
	engine          *nbhttp.Engine
	framePayloadMax int // nbio splits larger outgoing messages into frames this big

	// tmpl is copied into every conn: nbio keeps a connection's handlers
	// in its Upgrader, so each connection gets an Upgrader of its own
	// whose handlers are bound to it before the socket is polled.
	tmpl websocket.Upgrader

	// bufs holds *[]byte for WriteMany: nbio writes what the socket
	// takes at once and copies the rest, so a buffer is free again as
	// soon as Write returns.
	bufs sync.Pool

	workers sync.WaitGroup // goroutines started by execute
	slots   chan struct{}  // bounds the number of workers

	// mu is held for reading by Upgrade and for writing by Close, so that
	// no connection is added to the engine once Close has begun.
	mu        sync.RWMutex
	closed    bool
	closeOnce sync.Once

	// conns maps *nbio.Conn to *conn for every connection whose Handler
	// has not had Closed. The OnWrittenSize callback reads it.
	conns connTable
}

var _ gateway.Upgrader = (*Upgrader)(nil)

// New validates o and fills its defaults
// (gateway.TransportOptions.WithDefaults), then starts an nbio engine with
// one poller per CPU. Close stops it.
func New(o gateway.TransportOptions) (*Upgrader, error) {
	o, err := o.WithDefaults()
	if err != nil {
		return nil, fmt.Errorf("nbiows: %w", err)
	}
	u := &Upgrader{
		opts:  o,
		log:   o.Logger,
		slots: make(chan struct{}, 1024*runtime.NumCPU()),
	}

	engine := nbhttp.NewEngine(nbhttp.Config{
		Name:                    "parley-ws",
		NPoller:                 runtime.NumCPU(),
		ReleaseWebsocketPayload: true,
		MaxWriteBufferSize:      o.MaxBacklog + backstopSlack,
		SupportServerOnly:       true,      // no client task pool
		ServerExecutor:          u.execute, // our workers instead of nbio's pool
	})
	engine.OnWrittenSize(u.written)
	if err := engine.Start(); err != nil {
		return nil, fmt.Errorf("nbiows: start engine: %w", err)
	}
	if err := awaitPollers(engine); err != nil {
		// Stop in the background: if a poller never ran, Stop would not
		// return (see awaitPollers).
		go engine.Stop()
		return nil, err
	}
	u.engine = engine
	u.framePayloadMax = engine.MaxWebsocketFramePayloadSize

	t := websocket.NewUpgrader()
	t.Engine = engine
	t.KeepaliveTime = 0 // no read deadline, so no timer, per connection
	t.MessageLengthLimit = o.MaxMessageSize
	t.ReleasePayload = true
	t.BlockingModAsyncWrite = false
	t.BlockingModHandleRead = false
	// Origin policy belongs to the HTTP layer in front of Upgrade; the
	// session authenticates with a token frame, not with cookies.
	t.CheckOrigin = func(*http.Request) bool { return true }
	u.tmpl = *t
	return u, nil
}

// execute is the engine's executor: it runs f, the loop over one
// connection's job list, on a worker goroutine, waiting for a free slot
// when all are busy.
func (u *Upgrader) execute(f func()) {
	u.slots <- struct{}{}
	u.workers.Add(1)
	go func() {
		defer func() {
			<-u.slots
			u.workers.Done()
		}()
		f()
	}()
}

// written is nbio's OnWrittenSize callback: n bytes of nc went to the
// kernel. nbio calls it with nc's lock held.
func (u *Upgrader) written(nc *nbio.Conn, _ []byte, n int) {
	if c := u.conns.load(nc); c != nil {
		c.unsent.Add(-int64(n))
	}
}

// Upgrade implements gateway.Upgrader. Besides the handshake errors nbio
// answers, it refuses a request that arrived over TLS (ErrTLS, 501), one
// after Close (ErrUpgraderClosed, 503), and a client that sent bytes
// before the handshake completed (ErrEarlyData, 400).
func (u *Upgrader) Upgrade(w http.ResponseWriter, r *http.Request, newHandler func(gateway.Conn) gateway.Handler) error {
	if r.TLS != nil {
		http.Error(w, ErrTLS.Error(), http.StatusNotImplemented)
		return ErrTLS
	}
	u.mu.RLock()
	defer u.mu.RUnlock()
	if u.closed {
		http.Error(w, http.StatusText(http.StatusServiceUnavailable), http.StatusServiceUnavailable)
		return ErrUpgraderClosed
	}

	c := &conn{u: u, ws: u.tmpl}
	c.ws.OnMessage(c.onMessage)
	c.ws.OnClose(c.onClose)
	c.ws.SetPingHandler(c.onPing)
	c.ws.SetCloseHandler(c.onCloseFrame)

	// Events wait on evMu until the Handler is in place.
	c.evMu.Lock()
	defer c.evMu.Unlock()
	wsc, err := c.ws.UpgradeAndTransferConnToPoller(hijackWriter{w}, r, nil)
	if err != nil {
		c.ended = true
		return fmt.Errorf("nbiows: upgrade: %w", err)
	}
	nc, ok := wsc.UnderlayerConn().(*nbio.Conn)
	if !ok {
		// Only a *net.TCPConn is moved onto the poller; we disabled nbio's
		// goroutine-per-connection fallback, so close what we got.
		c.ended = true
		_ = wsc.UnderlayerConn().Close()
		return errNotTransferred
	}
	c.wsc, c.nc = wsc, nc
	u.conns.store(nc, c)
	defer func() {
		if c.h == nil { // newHandler panicked or returned nil: undo
			c.ended = true
			u.conns.delete(nc)
			_ = nc.Close()
		}
	}()
	if c.h = newHandler(c); c.h == nil {
		return errNilHandler
	}
	return nil
}

// Close implements gateway.Upgrader. It stops the engine, which closes
// every connection without a close frame, waits for the workers, and
// delivers Closed(ErrUpgraderClosed) to every connection whose Closed the
// engine's shutdown did not deliver. When Close returns no Handler method
// is running or will be called. It always returns nil; calls after the
// first wait for it to finish.
func (u *Upgrader) Close() error {
	u.closeOnce.Do(func() {
		u.mu.Lock()
		u.closed = true
		u.mu.Unlock()

		u.engine.Stop()
		u.workers.Wait()
		for _, c := range u.conns.all() {
			c.end(ErrUpgraderClosed)
		}
	})
	return nil
}

// hijackWriter lets nbio hijack a ResponseWriter that middleware has
// wrapped, and refuses a client that did not wait for the handshake
// response: nbio would drop the bytes net/http has already buffered.
type hijackWriter struct {
	http.ResponseWriter
}

func (h hijackWriter) Hijack() (net.Conn, *bufio.ReadWriter, error) {
	c, brw, err := http.NewResponseController(h.ResponseWriter).Hijack()
	if err != nil {
		return nil, nil, err
	}
	if brw.Reader.Buffered() > 0 {
		_, _ = c.Write([]byte("HTTP/1.1 400 Bad Request\r\nConnection: close\r\nContent-Length: 0\r\n\r\n"))
		_ = c.Close()
		return nil, nil, ErrEarlyData
	}
	return c, brw, nil
}

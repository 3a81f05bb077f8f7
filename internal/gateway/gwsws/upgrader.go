package gwsws

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/lxzan/gws"

	"github.com/parley-im/parley/internal/gateway"
)

// readBufferSize is the size of a connection's read buffer.
const readBufferSize = 4 << 10

// Errors of Upgrade.
var (
	ErrUpgraderClosed = errors.New("gwsws: upgrader closed")
	ErrHandshake      = errors.New("gwsws: not a WebSocket handshake")
	errNilHandler     = errors.New("gwsws: newHandler returned nil")
)

// Upgrader is the gws transport. Create it with New; it is safe for
// concurrent use.
type Upgrader struct {
	opts gateway.TransportOptions
	log  *slog.Logger
	gu   *gws.Upgrader

	mu     sync.Mutex
	closed bool
	conns  map[*conn]struct{} // connections whose Handler has not had Closed

	// wg counts read and writer goroutines. A writer is only started
	// while its connection's read goroutine runs, so the count is never
	// zero when one is added after Close has begun to wait.
	wg sync.WaitGroup
	// writers counts running writer goroutines, so that Close can let
	// queued close frames go out before it cuts the sockets. (A counter,
	// not a WaitGroup: writers may still start while Close waits.)
	writers   atomic.Int64
	closeOnce sync.Once
}

var _ gateway.Upgrader = (*Upgrader)(nil)

// New validates o and fills its defaults (gateway.TransportOptions.WithDefaults).
func New(o gateway.TransportOptions) (*Upgrader, error) {
	o, err := o.WithDefaults()
	if err != nil {
		return nil, fmt.Errorf("gwsws: %w", err)
	}
	u := &Upgrader{opts: o, log: o.Logger, conns: make(map[*conn]struct{})}
	u.gu = gws.NewUpgrader(events{}, &gws.ServerOption{
		ReadMaxPayloadSize: o.MaxMessageSize,
		ReadBufferSize:     readBufferSize,
		// Write refuses larger frames first (ErrBacklog); gws would
		// close the connection instead.
		WriteMaxPayloadSize: o.MaxBacklog,
		CheckUtf8Enabled:    true,
		Logger:              gwsLogger{o.Logger},
	})
	return u, nil
}

// Upgrade implements gateway.Upgrader. Besides a malformed handshake
// (ErrHandshake, 400 or 405) it refuses a request after Close
// (ErrUpgraderClosed, 503) and a client that sent bytes before the
// handshake completed (400).
func (u *Upgrader) Upgrade(w http.ResponseWriter, r *http.Request, newHandler func(gateway.Conn) gateway.Handler) error {
	if status, err := checkHandshake(r); err != nil {
		w.Header().Set("Sec-WebSocket-Version", "13")
		http.Error(w, err.Error(), status)
		return err
	}
	u.mu.Lock()
	closed := u.closed
	u.mu.Unlock()
	if closed {
		http.Error(w, http.StatusText(http.StatusServiceUnavailable), http.StatusServiceUnavailable)
		return ErrUpgraderClosed
	}

	netConn, brw, err := http.NewResponseController(w).Hijack()
	if err != nil {
		http.Error(w, "cannot take over the connection", http.StatusInternalServerError)
		return fmt.Errorf("gwsws: hijack: %w", err)
	}
	// A client must wait for the handshake response before it sends
	// frames (RFC 6455 section 4.1); refuse one that did not rather than
	// drop what net/http has buffered.
	if brw.Reader.Buffered() > 0 {
		_, _ = io.WriteString(netConn, "HTTP/1.1 400 Bad Request\r\nConnection: close\r\nContent-Length: 0\r\n\r\n")
		_ = netConn.Close()
		return fmt.Errorf("gwsws: client sent data before the handshake completed")
	}
	br := bufio.NewReaderSize(netConn, readBufferSize)
	ws, err := u.gu.UpgradeFromConn(netConn, br, r) // answers and closes on error
	if err != nil {
		return fmt.Errorf("gwsws: upgrade: %w", err)
	}

	c := &conn{u: u, ws: ws}
	ws.Session().Store(sessionKey, c)
	u.mu.Lock()
	if u.closed {
		u.mu.Unlock()
		_ = netConn.Close()
		return ErrUpgraderClosed
	}
	u.conns[c] = struct{}{}
	u.wg.Add(1)
	u.mu.Unlock()

	started := false
	defer func() {
		if !started { // newHandler panicked or returned nil: undo
			c.ended.Store(true)
			u.forget(c)
			_ = netConn.Close()
			u.wg.Done()
		}
	}()
	if c.h = newHandler(c); c.h == nil {
		return errNilHandler
	}
	go func() {
		defer u.wg.Done()
		ws.ReadLoop()
	}()
	started = true
	return nil
}

// Close implements gateway.Upgrader: it closes every connection's socket,
// without a close frame, and waits for the read and writer goroutines.
// When it returns every Handler has had Closed and none is running. It
// always returns nil; calls after the first wait for it to finish.
func (u *Upgrader) Close() error {
	u.closeOnce.Do(func() {
		u.mu.Lock()
		u.closed = true
		conns := make([]*conn, 0, len(u.conns))
		for c := range u.conns {
			conns = append(conns, c)
		}
		u.mu.Unlock()
		// Let queued frames (close frames of a shutdown above all) reach
		// their clients, for at most the close timeout.
		for deadline := time.Now().Add(closeTimeout); u.writers.Load() > 0 && time.Now().Before(deadline); {
			time.Sleep(5 * time.Millisecond)
		}
		for _, c := range conns {
			_ = c.ws.NetConn().Close()
		}
		u.wg.Wait()
	})
	return nil
}

func (u *Upgrader) forget(c *conn) {
	u.mu.Lock()
	delete(u.conns, c)
	u.mu.Unlock()
}

// checkHandshake checks what gws would otherwise answer after taking the
// connection over, so that a plain HTTP request gets a proper response.
func checkHandshake(r *http.Request) (int, error) {
	switch {
	case r.Method != http.MethodGet:
		return http.StatusMethodNotAllowed, fmt.Errorf("%w: method %s", ErrHandshake, r.Method)
	case !hasToken(r.Header, "Connection", "upgrade"):
		return http.StatusBadRequest, fmt.Errorf("%w: no Connection: upgrade", ErrHandshake)
	case !hasToken(r.Header, "Upgrade", "websocket"):
		return http.StatusBadRequest, fmt.Errorf("%w: no Upgrade: websocket", ErrHandshake)
	case r.Header.Get("Sec-WebSocket-Version") != "13":
		return http.StatusBadRequest, fmt.Errorf("%w: Sec-WebSocket-Version is not 13", ErrHandshake)
	case r.Header.Get("Sec-WebSocket-Key") == "":
		return http.StatusBadRequest, fmt.Errorf("%w: no Sec-WebSocket-Key", ErrHandshake)
	}
	return 0, nil
}

// hasToken reports whether the comma-separated header name holds token,
// case-insensitively.
func hasToken(h http.Header, name, token string) bool {
	for _, v := range h.Values(name) {
		for t := range strings.SplitSeq(v, ",") {
			if strings.EqualFold(strings.TrimSpace(t), token) {
				return true
			}
		}
	}
	return false
}

// gwsLogger hands gws's error logs to slog.
type gwsLogger struct{ log *slog.Logger }

func (l gwsLogger) Error(v ...any) {
	l.log.Error("gwsws: gws error", "err", fmt.Sprint(v...))
}

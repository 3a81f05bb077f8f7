package client

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"net/http"
	"sync"
	"sync/atomic"
	"time"

	"github.com/parley-im/parley"
	"github.com/parley-im/parley/wire"
)

// connectTimeout bounds one connection attempt: dial, handshake and auth.
const connectTimeout = 10 * time.Second

// State is the state of a Client's connection.
type State int

// States, as reported to Options.OnState.
const (
	// StateConnected: a connection is up and authenticated. Resync
	// starts right after it is reported.
	StateConnected State = iota + 1
	// StateDisconnected: the connection was lost (the error says why);
	// the client is reconnecting with backoff.
	StateDisconnected
	// StateClosed: the client has ended for good, by Close (ErrClosed)
	// or because the server forbade reconnecting (a *CloseError). It is
	// the last callback the client makes; events still queued when the
	// client ends (messages, even the StateConnected of a connection
	// that ended at once) are dropped.
	StateClosed
)

func (s State) String() string {
	switch s {
	case StateConnected:
		return "connected"
	case StateDisconnected:
		return "disconnected"
	case StateClosed:
		return "closed"
	}
	return fmt.Sprintf("State(%d)", int(s))
}

// Client is one device's connection to a Parley server. Create it with
// Dial and end it with Close. It is safe for concurrent use.
//
// The request methods (Send, SendConv, Read, Pull, Sync, Conversations,
// Ping) share one contract. A request is written on the live connection
// and matched with its answer by request id. If there is no connection, or
// the connection is lost before the answer, the request waits for the next
// connection and is made again, until ctx ends; so is a request refused
// with unavailable or rate_limited, after a backoff. Every request is safe
// to repeat (sends carry a client message id, see Send). An err frame from
// the server comes back as a *parley.Error (parley.ErrorCode gives its
// code). Once the client has ended, requests return Err().
//
// A Client owns these goroutines: a manager (connects, reconnects with
// backoff, heartbeats), a deliverer (runs every callback, acknowledges
// pushes, resyncs) and one reader per live connection. All of them end by
// the time Close returns.
type Client struct {
	opts  Options
	log   *slog.Logger
	http  *http.Client
	owned bool // http is the Client's own; Close releases its idle connections
	wsURL string
	user  string // the authenticated user id; set by Dial, read-only after

	ctx    context.Context // ends when the client ends
	cancel context.CancelFunc
	wg     sync.WaitGroup
	reqID  atomic.Uint64
	q      *queue

	mu      sync.Mutex    // guards the fields below
	cur     *conn         // the live conn, nil between connections
	changed chan struct{} // closed and replaced whenever cur changes
	err     error         // why the client ended, once it has

	watches liveWatches // WatchConsultLive's watches (watch.go)

	// d is the deliverer's state, owned by its goroutine.
	d deliverer
}

// Dial connects and authenticates a client, then keeps it connected until
// Close. The first connection attempt is made before Dial returns, bounded
// by ctx: its failure is Dial's error (a *parley.Error with code
// unauthorized for a refused token). Later connection losses are retried
// with backoff unless Options.NoReconnect is set.
//
// Once connected the client syncs: OnMessage receives every message of
// every conversation of the user (the whole history, since a new client
// has no state), then new ones as they arrive.
func Dial(ctx context.Context, opts Options) (*Client, error) {
	if err := opts.validate(); err != nil {
		return nil, err
	}
	c := &Client{opts: opts, log: opts.Logger, http: opts.HTTPClient, wsURL: wsURL(opts.URL), q: newQueue(), changed: make(chan struct{})}
	if c.http == nil {
		tr := http.DefaultTransport.(*http.Transport).Clone()
		if opts.DialContext != nil {
			tr.DialContext = opts.DialContext
		}
		c.http = &http.Client{Transport: tr}
		c.owned = true
	}
	c.ctx, c.cancel = context.WithCancel(context.Background())
	c.d.init(c)
	cn, ar, err := c.connect(ctx)
	if err != nil {
		c.cancel()
		c.wg.Wait()
		c.releaseHTTP()
		return nil, err
	}
	c.user = ar.User
	c.up(cn)
	c.wg.Add(2)
	go c.manage(cn)
	go c.d.run()
	return c, nil
}

// User is the id of the user the token authenticated.
func (c *Client) User() string { return c.user }

// Done is closed when the client has ended: by Close, or because the
// server forbade reconnecting. Err says why.
func (c *Client) Done() <-chan struct{} { return c.ctx.Done() }

// Err is nil while the client runs, then why it ended: ErrClosed after
// Close, a *CloseError when the server forbade reconnecting, or, with
// Options.NoReconnect, why the connection was lost.
func (c *Client) Err() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.err
}

// Close ends the client: the connection is closed (WebSocket close code
// 1000), pending calls return ErrClosed, and every goroutine of the client
// has ended when Close returns. OnState receives StateClosed last. Close
// must not be called from a callback. It always returns nil.
func (c *Client) Close() error {
	c.end(ErrClosed)
	c.wg.Wait()
	c.releaseHTTP()
	return nil
}

func (c *Client) releaseHTTP() {
	if c.owned {
		c.http.CloseIdleConnections()
	}
}

// end records why the client ends (first call wins) and cancels
// everything.
func (c *Client) end(err error) {
	c.mu.Lock()
	if c.err == nil {
		c.err = err
	}
	c.mu.Unlock()
	c.cancel()
}

// manage owns the connection: it watches cn (already published by up),
// reconnects with backoff when it is lost, and ends the client on a final
// close code.
func (c *Client) manage(cn *conn) {
	defer c.wg.Done()
	attempt := 0
	for {
		if cn != nil {
			why := c.watch(cn)
			c.setConn(nil)
			if c.ctx.Err() != nil {
				return
			}
			if ce := (*CloseError)(nil); errors.As(why, &ce) && ce.Final() {
				c.log.Warn("server ended the session for good", "code", ce.Code, "reason", ce.Reason)
				c.end(ce)
				return
			}
			if c.opts.NoReconnect {
				c.end(fmt.Errorf("client: connection lost and NoReconnect is set: %w", why))
				return
			}
			c.log.Info("connection lost; reconnecting", "err", why)
			c.q.push(event{kind: evLost, err: why})
			cn = nil
		}
		if !sleep(c.ctx, c.backoff(attempt)) {
			return
		}
		attempt++
		next, _, err := c.connect(c.ctx)
		if err != nil {
			if c.ctx.Err() != nil {
				return
			}
			if parley.ErrorCode(err) == parley.EUnauthorized {
				c.log.Warn("reconnection refused", "err", err)
				c.end(authRefused(err))
				return
			}
			c.log.Info("connection attempt failed", "err", err, "attempt", attempt)
			continue
		}
		attempt = 0
		cn = next
		c.up(cn)
	}
}

// up publishes a new live conn and has the deliverer report it and resync.
func (c *Client) up(cn *conn) {
	c.setConn(cn)
	c.q.push(event{kind: evConnected, conn: cn})
}

// watch waits for cn to end, pinging every heartbeat and dropping cn when
// nothing arrived for two heartbeats. It returns why cn ended. When the
// client ends first it closes cn politely.
func (c *Client) watch(cn *conn) error {
	t := time.NewTicker(cn.heartbeat)
	defer t.Stop()
	for {
		select {
		case <-cn.done:
			return cn.reason()
		case <-c.ctx.Done():
			cn.tr.shutdown()
			cn.kill(ErrClosed)
			<-cn.done
			return ErrClosed
		case <-t.C:
			if time.Since(time.Unix(0, cn.lastRecv.Load())) > 2*cn.heartbeat {
				cn.kill(errHeartbeat)
				continue
			}
			if cn.tr.needsAcks() {
				// WebSocket only: a long-poll session stays alive by
				// polling, and its polls feed lastRecv.
				ctx, cancel := context.WithTimeout(cn.ctx, writeTimeout)
				cn.ping(ctx)
				cancel()
			}
		}
	}
}

// connect makes one connection attempt: dial and authenticate.
func (c *Client) connect(ctx context.Context) (*conn, wire.AuthRes, error) {
	ctx, cancel := context.WithTimeout(ctx, connectTimeout)
	defer cancel()
	if c.opts.Transport == TransportLongPoll {
		return c.dialLP(ctx)
	}
	cn, err := c.dialWS(ctx)
	if err != nil {
		return nil, wire.AuthRes{}, err
	}
	data, err := cn.roundTrip(ctx, wire.In{Type: wire.TAuth, Token: c.opts.Token, Device: c.opts.Device, Platform: string(c.opts.Platform)})
	var ar wire.AuthRes
	if err == nil {
		err = json.Unmarshal(data, &ar)
	}
	if err != nil {
		cn.kill(err)
		<-cn.done
		return nil, wire.AuthRes{}, err
	}
	cn.setAuth(ar)
	return cn, ar, nil
}

// setConn publishes the live conn (nil between connections) and wakes
// the calls waiting for one.
func (c *Client) setConn(cn *conn) {
	c.mu.Lock()
	c.cur = cn
	close(c.changed)
	c.changed = make(chan struct{})
	c.mu.Unlock()
}

// current returns the live conn, or nil.
func (c *Client) current() *conn {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.cur == nil || c.cur.isDead() {
		return nil
	}
	return c.cur
}

// waitConn returns the live conn, waiting for a reconnection if there is
// none. It fails when ctx ends or the client ends.
func (c *Client) waitConn(ctx context.Context) (*conn, error) {
	for {
		c.mu.Lock()
		cur, changed, err := c.cur, c.changed, c.err
		c.mu.Unlock()
		if err != nil {
			return nil, err
		}
		if cur != nil && !cur.isDead() {
			return cur, nil
		}
		select {
		case <-changed:
		case <-ctx.Done():
			return nil, fmt.Errorf("client: waiting for a connection: %w", ctx.Err())
		case <-c.ctx.Done():
			// Loop once more to return the client's error.
		}
	}
}

// backoff is the delay before connection attempt n (0-based): exponential
// from BackoffMin, capped at BackoffMax, with the upper half jittered.
func (c *Client) backoff(n int) time.Duration {
	d := c.opts.BackoffMin << min(n, 30)
	if d <= 0 || d > c.opts.BackoffMax {
		d = c.opts.BackoffMax
	}
	return d/2 + rand.N(d/2+1)
}

// sleep waits for d or until ctx ends; it reports whether d passed.
func sleep(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-ctx.Done():
		return false
	}
}

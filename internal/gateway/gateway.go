package gateway

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"log/slog"
	"runtime"
	"sync"
	"time"

	"github.com/parley-im/parley"
	"github.com/parley-im/parley/internal/chat"
	"github.com/parley-im/parley/wire"
)

// Identity is who a client token belongs to.
type Identity struct {
	AppID  string
	UserID string
	// Role is the user's role when the session starts (RoleUser if
	// unset); it picks the message variants the session receives.
	Role parley.Role
}

// Authenticator checks client tokens.
type Authenticator interface {
	// Authenticate returns the identity a token proves for device.
	// Errors are EUnauthorized with a message saying why.
	Authenticate(ctx context.Context, token, device string) (Identity, error)
}

// Chat is the messaging logic sessions call; *chat.Service implements it.
type Chat interface {
	SendAsync(ctx context.Context, req chat.SendRequest, done func(chat.SendResult))
	Sync(ctx context.Context, appID, userID string, since uint64, limit int) (wire.SyncRes, error)
	Pull(ctx context.Context, appID, userID, convID string, r parley.MessageRange) (wire.PullRes, error)
	Read(ctx context.Context, appID, userID, convID string, seq uint64, skipConn string) (parley.ConvState, error)
	Typing(ctx context.Context, appID, userID, convID, skipConn string) error
	Conversations(ctx context.Context, appID, userID string, beforeVer uint64, limit int) (wire.ConvsRes, error)
	Search(ctx context.Context, appID, userID string, q parley.SearchQuery) (wire.SearchRes, error)
	SetConvSettings(ctx context.Context, appID, userID, convID string, c parley.ConvSettings, skipConn string) (parley.ConvState, error)
	Groups // group.go
}

// Social serves contacts, profiles and presence; *social.Service
// implements it. skipConn is the connection a change came from: the
// user's other devices are told of it, not that one.
type Social interface {
	AddContacts(ctx context.Context, appID, userID string, ids []string, alias, skipConn string) (wire.ContactsRes, error)
	RemoveContacts(ctx context.Context, appID, userID string, ids []string, skipConn string) (wire.ContactsRes, error)
	Contacts(ctx context.Context, appID, userID string, since uint64, limit int) (wire.ContactsRes, error)
	Profiles(ctx context.Context, appID, viewer string, since uint64, limit int) (wire.ProfilesRes, error)
	PresenceOf(ctx context.Context, appID, viewer string, users []string) (wire.PresenceRes, error)
}

// Config tunes a Gateway. Zero values take the defaults in parentheses.
type Config struct {
	Node              string        // this node's id ("local")
	Heartbeat         time.Duration // how often clients should ping (25s)
	IdleTimeout       time.Duration // no frame for this long closes the session (75s)
	AuthTimeout       time.Duration // a WebSocket must authenticate within this (10s)
	RetryInterval     time.Duration // an unacked push is sent again after this (18s)
	MaxRetries        int           // retransmissions before the device is told to resync (3)
	MaxUnacked        int           // unacked pushes before a slow-consumer close (1024)
	LongPollWait      time.Duration // longest a poll is held (25s)
	LongPollMaxFrames int           // frames a long-poll session buffers (1024)
	FrameRate         float64       // request frames per second per session (100)
	FrameBurst        int           // burst of request frames (500: a resync pulls many conversations at once)
	RequestTimeout    time.Duration // bound on one request's work (10s)
	Writers           int           // goroutines that write pushes to sessions (GOMAXPROCS)
	GroupPushWindow   time.Duration // a busy group's pushes are written to each member a few at a time, about one write per this span, none held longer (0: each at once; fanWriter)
	Social            Social        // contacts, profiles and presence frames (nil: refused as unavailable)
	Consult           Consult       // customer-service frames (nil: refused as unavailable)
	Now               func() time.Time
	Logger            *slog.Logger
	Metrics           *Metrics // from NewMetrics; nil counts nothing
}

func (c *Config) defaults() {
	def := func(d *time.Duration, v time.Duration) {
		if *d <= 0 {
			*d = v
		}
	}
	defInt := func(d *int, v int) {
		if *d <= 0 {
			*d = v
		}
	}
	if c.Node == "" {
		c.Node = "local"
	}
	def(&c.Heartbeat, 25*time.Second)
	def(&c.IdleTimeout, 75*time.Second)
	def(&c.AuthTimeout, 10*time.Second)
	def(&c.RetryInterval, 18*time.Second)
	defInt(&c.MaxRetries, 3)
	defInt(&c.MaxUnacked, 1024)
	def(&c.LongPollWait, 25*time.Second)
	defInt(&c.LongPollMaxFrames, 1024)
	if c.FrameRate <= 0 {
		c.FrameRate = 100
	}
	defInt(&c.FrameBurst, 500)
	def(&c.RequestTimeout, 10*time.Second)
	defInt(&c.Writers, runtime.GOMAXPROCS(0))
	if c.Now == nil {
		c.Now = time.Now
	}
	if c.Logger == nil {
		c.Logger = slog.Default()
	}
}

// Gateway holds this node's client sessions. It is safe for concurrent
// use. It owns one sweeper goroutine (heartbeats, retransmits, long-poll
// expiry), started by New and stopped by Close.
type Gateway struct {
	cfg  Config
	ws   Upgrader
	auth Authenticator
	chat Chat
	reg  parley.Registry
	log  *slog.Logger
	m    *Metrics

	hub hub
	lp  lpTable
	fan fanout
	// scratch holds *pushScratch for deliverPushes (session.go).
	scratch sync.Pool
	watch   watchTable // live consultation watches (watch.go)

	stop chan struct{}
	done chan struct{}
	once sync.Once
}

// New returns a running Gateway. ws may be nil when WebSocket is not
// served.
func New(cfg Config, ws Upgrader, auth Authenticator, c Chat, reg parley.Registry) *Gateway {
	cfg.defaults()
	g := &Gateway{
		cfg: cfg, ws: ws, auth: auth, chat: c, reg: reg, log: cfg.Logger, m: cfg.Metrics,
		stop: make(chan struct{}), done: make(chan struct{}),
	}
	g.scratch.New = func() any { return new(pushScratch) }
	g.hub.init()
	g.lp.init()
	g.fan.start(cfg.Writers, cfg.GroupPushWindow)
	go g.sweep()
	return g
}

// Deliver hands deliveries to the local sessions of their users: it
// finds the sessions and queues the writes for the writer goroutines
// (fanout.go), returning before they are written. It never blocks on a
// client. Deliveries to one session are written in the order of the
// Deliver calls. Deliver keeps ds until then: callers must not change it
// afterwards. It implements dispatch.Local.
func (g *Gateway) Deliver(ds []parley.Delivery) {
	per := make([][]fanItem, len(g.fan.qs))
	for i := range ds {
		d := &ds[i]
		vp := renderVariants(d) // nil unless the message has variants (variants.go)
		for _, u := range d.Users {
			g.hub.each(d.AppID, u, func(s *Session) {
				if s.connID != d.SkipConn {
					w := g.fan.writer(s)
					per[w] = append(per[w], fanItem{s, vp.forSession(s, d)})
				}
			})
		}
	}
	g.fan.hand(per)
}

// Count returns the number of authenticated sessions on this node.
func (g *Gateway) Count() int { return g.hub.count() }

// Close closes every session with code (wire.CloseGoingAway on
// shutdown), stops the sweeper and waits for it. New sessions are refused
// from then on. Long-poll clients learn of the close at their next poll,
// so the HTTP server should go on serving polls for a moment (see
// AwaitLongPollClose).
func (g *Gateway) Close(code int, reason string) {
	g.once.Do(func() { close(g.stop) })
	<-g.done
	g.fan.close()
	for _, s := range g.hub.all() {
		s.close(code, reason)
	}
	for _, s := range g.lp.all() {
		s.close(code, reason)
	}
}

// AwaitLongPollClose waits until every ended long-poll session has polled
// its close frame, or ctx ends.
func (g *Gateway) AwaitLongPollClose(ctx context.Context) {
	for g.lp.untold() > 0 {
		select {
		case <-ctx.Done():
			return
		case <-time.After(10 * time.Millisecond):
		}
	}
}

// stopping reports whether Close has begun.
func (g *Gateway) stopping() bool {
	select {
	case <-g.stop:
		return true
	default:
		return false
	}
}

// newID returns a random URL-safe id with n bytes of entropy.
func newID(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return base64.RawURLEncoding.EncodeToString(b)
}

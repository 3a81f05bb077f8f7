// Package server assembles one Parley node from its configuration: the
// store, registry and bus adapters, the chat service, the dispatcher, the
// gateway with its WebSocket transport, the HTTP server, and the node's
// own Prometheus registry, which MetricsHandler serves. It is the one
// place (with cmd/parley, which only reads configuration) that knows every
// adapter; tests use it to run real nodes on loopback ports.
package server

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"sync"
	"time"

	"github.com/parley-im/parley"
	"github.com/parley-im/parley/internal/balance"
	"github.com/parley-im/parley/internal/chat"
	"github.com/parley-im/parley/internal/consult"
	"github.com/parley-im/parley/internal/dispatch"
	"github.com/parley-im/parley/internal/events"
	"github.com/parley-im/parley/internal/files"
	"github.com/parley-im/parley/internal/gateway"
	"github.com/parley-im/parley/internal/gateway/gwsws"
	"github.com/parley-im/parley/internal/gateway/nbiows"
	"github.com/parley-im/parley/internal/httpapi"
	"github.com/parley-im/parley/internal/notify"
	"github.com/parley-im/parley/internal/remote"
	"github.com/parley-im/parley/internal/social"
	"github.com/parley-im/parley/wire"
)

// The gateway's defaults for zero durations, checked against each other
// by Validate.
const (
	defaultHeartbeat   = 25 * time.Second
	defaultIdleTimeout = 75 * time.Second
)

// MaxGroupPushWindow bounds Config.GroupPushWindow: a hold is a delay
// every member of a busy group sees.
const MaxGroupPushWindow = time.Second

// Version is the version the index page shows.
const Version = "0.1.0"

// Config is a node's configuration. The zero value of every field means
// its default, so Config{} runs the embedded default.
type Config struct {
	Addr      string // listen address (127.0.0.1:8080)
	DataDir   string // where the SQLite file and the demo key live (./parley-data)
	Node      string // node id (local)
	Transport string // WebSocket transport: nbio (default) or gws
	// DemoApp creates an app "demo" on first start and prints its API key
	// to Out. Default on; turn off with NoDemoApp.
	NoDemoApp bool
	// MaxFileSize is the largest file a client may upload, in bytes
	// (files.DefaultMaxSize, 20 MiB). Files live in DataDir/files.
	MaxFileSize int64
	// GroupMaxMembers is a new group's member limit unless the business
	// backend sets one (10,000).
	GroupMaxMembers int
	// ReceiptsList is the largest conversation whose read receipts name
	// the readers, not only count them (500).
	ReceiptsList int

	Heartbeat     time.Duration
	IdleTimeout   time.Duration
	AuthTimeout   time.Duration
	RetryInterval time.Duration
	MaxRetries    int
	// GroupPushWindow: the pushes of a group whose messages come less
	// than this apart are held and written to each member a few at a
	// time, the oldest waiting at most this long (0: each at once; at
	// most MaxGroupPushWindow). See gateway.Config.
	GroupPushWindow time.Duration

	// RecallWindow and EditWindow: how long after sending a client may
	// recall or edit its own message (2 minutes and 24 hours).
	RecallWindow, EditWindow time.Duration
	// Interest is whose presence and profile changes users are told of
	// (parley.InterestDefault: their contacts and direct-conversation
	// peers). One value for every app of the node until apps have
	// settings of their own.
	Interest parley.Interest
	// PresenceDebounce is how long a user stays without a connection
	// before the users who care are told it went offline (5s).
	PresenceDebounce time.Duration

	// Roles are what this node does, comma-separated (all three when
	// empty): gateway (client connections), logic (sends and the server
	// API) and worker (background work). A node without logic hands its
	// clients' sends to the logic nodes over NATS, so NATS is required.
	Roles string

	// Postgres, when set, is the PostgreSQL connection string of the
	// store every node shares (internal/postgres), and PostgresRead that
	// of a read replica for history and search; empty keeps the store in
	// the SQLite file in DataDir, for a single node. DataDir still holds
	// uploaded files (on shared storage when there are several nodes).
	Postgres, PostgresRead string

	// Redis, when set, is the URL of the Redis that holds the connection
	// table of every node (redis://host:port/db, internal/redisreg), with
	// RedisPrefix before each key ("parley:"); empty keeps the table in
	// memory, for a single node. NATS, when set, is the URL of the NATS
	// that carries deliveries between nodes (nats://host:port, several
	// comma-separated for a cluster), or "embedded" to run a NATS server
	// inside this node, which other nodes reach on NATSPort (0: none,
	// in-process only; -1: a free port) and whose JetStream keeps its data
	// in DataDir/nats; empty keeps the bus in process, for a single node.
	Redis, RedisPrefix, NATS string
	NATSPort                 int
	// NATSPrefix starts every NATS subject and JetStream stream name of
	// the deployment ("parley"): deployments that share a NATS keep apart
	// by giving each its own.
	NATSPrefix string
	// EventLog is where the event stream is kept: "jetstream" (one stream
	// per app on the NATS in NATS; the default when NATS is set) or
	// "store" (the database; the default without NATS).
	EventLog string
	// EventRetention is how long the event log keeps events (0: for
	// ever): the store's log drops older ones but each app's newest
	// (events.RelayConfig.Retention), JetStream's streams by their
	// MaxAge.
	EventRetention time.Duration
	// WebhookAllowPrivate lets webhooks reach loopback, private and
	// link-local addresses (events.WebhookConfig.AllowPrivate). Off by
	// default: an app's webhook must not make the node POST into its own
	// network.
	WebhookAllowPrivate bool

	// AdvertiseURL is the base URL clients reach this node at, which GET
	// /v1/gateway hands out (http:// + the listen address). Balance is how
	// that endpoint picks among the live nodes: round-robin (default),
	// ip-hash or least-connections (internal/balance).
	AdvertiseURL, Balance string

	// Notifier receives offline-push notifications (internal/notify);
	// nil logs them. OfflinePushMaxGroup: messages to larger groups
	// notify nobody (notify.DefaultMaxGroup, 500).
	Notifier            notify.Notifier
	OfflinePushMaxGroup int

	// ConsultClock is customer service's clock (real time): event times,
	// automatic resolution and the agents' offline grace (ConsultGrace,
	// 2m) read it.
	ConsultClock consult.Clock
	ConsultGrace time.Duration

	Logger *slog.Logger
	Out    io.Writer // where the first-start banner goes (os.Stdout)
	Now    func() time.Time
}

// Defaults fills in the defaults.
func (c *Config) Defaults() {
	if c.Addr == "" {
		c.Addr = "127.0.0.1:8080"
	}
	if c.DataDir == "" {
		c.DataDir = "parley-data"
	}
	if c.Node == "" {
		c.Node = "local"
	}
	if c.Transport == "" {
		c.Transport = "nbio"
	}
	if c.Logger == nil {
		c.Logger = slog.Default()
	}
	if c.Out == nil {
		c.Out = os.Stdout
	}
	if c.Now == nil {
		c.Now = time.Now
	}
}

// Validate reports the first invalid setting.
func (c *Config) Validate() error {
	if c.Transport != "nbio" && c.Transport != "gws" {
		return fmt.Errorf("transport must be nbio or gws, not %q", c.Transport)
	}
	if _, err := balance.New(nil, c.Balance); err != nil {
		return err
	}
	if !validNATSPrefix(c.NATSPrefix) {
		return fmt.Errorf("the NATS prefix must be dot-separated tokens of [A-Za-z0-9_-], at most 64 bytes, not %q", c.NATSPrefix)
	}
	switch c.EventLog {
	case "", EventLogStore:
	case EventLogJetStream:
		if c.NATS == "" {
			return errors.New("the jetstream event log needs NATS")
		}
	default:
		return fmt.Errorf("the event log must be %s or %s, not %q", EventLogJetStream, EventLogStore, c.EventLog)
	}
	if r, err := parseRoles(c.Roles); err != nil {
		return err
	} else if !r.logic && c.NATS == "" {
		return errors.New("a node without the logic role needs NATS to reach the logic nodes")
	}
	if !parley.ValidID(c.Node) {
		return fmt.Errorf("node id %q is not valid", c.Node)
	}
	for _, d := range []time.Duration{c.Heartbeat, c.IdleTimeout, c.AuthTimeout, c.RetryInterval, c.EventRetention} {
		if d < 0 {
			return errors.New("durations must not be negative")
		}
	}
	if c.GroupPushWindow < 0 || c.GroupPushWindow > MaxGroupPushWindow {
		return fmt.Errorf("the group push window must be 0-%v", MaxGroupPushWindow)
	}
	if c.EventRetention > 0 && c.EventRetention < time.Hour {
		// Shorter would also be refused by JetStream, whose duplicate
		// window (10 minutes) must not exceed a stream's MaxAge.
		return errors.New("the event retention must be 0 (keep every event) or at least 1h")
	}
	if c.MaxRetries < 0 {
		return errors.New("max retries must not be negative")
	}
	if c.MaxFileSize < 0 {
		return errors.New("the file size limit must not be negative")
	}
	if c.GroupMaxMembers < 0 || c.GroupMaxMembers > parley.MaxGroupMembersLimit || c.ReceiptsList < 0 {
		return fmt.Errorf("the group member limit must be 0-%d and the receipts list size not negative", parley.MaxGroupMembersLimit)
	}
	if c.PresenceDebounce < 0 {
		return errors.New("the presence debounce must not be negative")
	}
	if c.Interest&^parley.InterestDefault != 0 {
		return errors.New("interest must be a combination of contacts and peers")
	}
	hb, idle := c.Heartbeat, c.IdleTimeout
	if hb == 0 {
		hb = defaultHeartbeat
	}
	if idle == 0 {
		idle = defaultIdleTimeout
	}
	if hb >= idle {
		return fmt.Errorf("the heartbeat interval (%v) must be shorter than the idle timeout (%v)", hb, idle)
	}
	return nil
}

// DBPath is the SQLite file of a data dir.
func DBPath(dataDir string) string { return filepath.Join(dataDir, "parley.db") }

// FilesDir is where the files of a data dir are stored.
func FilesDir(dataDir string) string { return filepath.Join(dataDir, "files") }

// Server is a running node.
type Server struct {
	cfg       Config
	log       *slog.Logger
	store     nodeStore // store.go
	routing   routing   // routing.go
	reg       parley.Registry
	bus       parley.Bus
	chat      *chat.Service
	social    *social.Service
	consult   *consult.Service
	notify    *notify.Service
	events    *events.Service
	gw        *gateway.Gateway
	ws        gateway.Upgrader
	metrics   nodeMetrics
	stopB     func()
	stopLogic func() // serving other nodes' sends (roles.go)
	http      *http.Server
	ln        net.Listener
	errc      chan error
	trim      *memTrimmer
	once      sync.Once
}

// Start opens the node's storage, runs migrations, creates the demo app on
// first start, and starts serving on cfg.Addr. Close stops it.
func Start(ctx context.Context, cfg Config) (_ *Server, err error) {
	cfg.Defaults()
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if err := os.MkdirAll(cfg.DataDir, 0o700); err != nil {
		return nil, fmt.Errorf("data dir: %w", err)
	}
	metrics, err := newNodeMetrics(cfg.Logger)
	if err != nil {
		return nil, fmt.Errorf("metrics: %w", err)
	}
	s := &Server{cfg: cfg, log: cfg.Logger, metrics: metrics, errc: make(chan error, 1)}
	defer func() {
		if err != nil {
			s.closeAll()
		}
	}()
	if s.store, err = openStore(ctx, cfg); err != nil {
		return nil, err
	}
	if !cfg.NoDemoApp {
		if err := ensureDemoApp(ctx, s.store, cfg.DataDir, cfg.Out, cfg.Now); err != nil {
			return nil, err
		}
	}
	blobs, err := files.NewDisk(FilesDir(cfg.DataDir))
	if err != nil {
		return nil, err
	}
	appSettings := newSettings(cfg, s.store) // appsettings.go
	fileSvc := files.New(blobs, s.store, s.store, files.Config{MaxSize: cfg.MaxFileSize, Now: cfg.Now, Logger: cfg.Logger,
		AppLimits: fileLimits(appSettings)})
	if s.routing, err = openRouting(ctx, &cfg, metrics.bus); err != nil {
		return nil, err
	}
	s.reg, s.bus = s.routing.reg, s.routing.bus
	switch cfg.Transport {
	case "gws":
		s.ws, err = gwsws.New(gateway.TransportOptions{MaxMessageSize: wire.MaxFrameSize, MaxBacklog: 4 << 20, Logger: cfg.Logger})
	default:
		s.ws, err = nbiows.New(gateway.TransportOptions{MaxMessageSize: wire.MaxFrameSize, MaxBacklog: 4 << 20, Logger: cfg.Logger})
	}
	if err != nil {
		return nil, err
	}
	var disp *dispatch.Dispatcher
	pusher := pushFunc(func(ctx context.Context, ds []parley.Delivery) error { return disp.Push(ctx, ds) })
	clientAuth := &tokenAuth{store: s.store, now: cfg.Now}
	s.chat = chat.New(s.store, pusher, chat.Config{Now: cfg.Now, Logger: cfg.Logger, Metrics: metrics.chat, Files: s.store,
		RecallWindow: cfg.RecallWindow, EditWindow: cfg.EditWindow,
		GroupMaxMembers: cfg.GroupMaxMembers, ReceiptsList: cfg.ReceiptsList, Settings: appSettings,
		Observer:     storedFunc(func(ms []*parley.Message) { s.consult.Stored(ms) }),
		GroupChanged: s.routing.groupChanged(&cfg)})
	if err := s.routing.forgetGroups(&cfg, s.chat.ForgetGroup); err != nil {
		return nil, err
	}
	s.consult = consult.New(s.store, s.chat, pusher, s.reg, consult.Config{Clock: cfg.ConsultClock,
		OfflineGrace: cfg.ConsultGrace, Logger: cfg.Logger, Metrics: metrics.consult})
	role, _ := parseRoles(cfg.Roles) // checked by Validate
	eventLog, err := s.routing.eventLog(ctx, &cfg, s.store)
	if err != nil {
		return nil, err
	}
	s.events = events.New(s.store, eventLog, s.store, events.Config{Now: cfg.Now, Logger: cfg.Logger, Metrics: metrics.events,
		Relay: events.RelayConfig{Retention: cfg.EventRetention}, Webhook: events.WebhookConfig{AllowPrivate: cfg.WebhookAllowPrivate},
		NoWebhooks: true}) // delivery: one worker node at a time, below
	s.social = social.New(s.store, pusher, s.reg, social.Config{
		Node: cfg.Node, Interest: cfg.Interest, Debounce: cfg.PresenceDebounce, Now: cfg.Now, Logger: cfg.Logger,
		Metrics: metrics.social, Presence: s.consult, Events: s.events,
	})
	var gwChat gateway.Chat = s.chat
	if !role.logic {
		gwChat = remoteChat{s.chat, remote.NewClient(s.routing.nc, natsSubject(&cfg, "logic.send"), remoteSendTimeout)}
	}
	s.gw = gateway.New(gateway.Config{
		Node: cfg.Node, Heartbeat: cfg.Heartbeat, IdleTimeout: cfg.IdleTimeout, AuthTimeout: cfg.AuthTimeout,
		RetryInterval: cfg.RetryInterval, MaxRetries: cfg.MaxRetries, GroupPushWindow: cfg.GroupPushWindow,
		Now: cfg.Now, Logger: cfg.Logger, Metrics: metrics.gw, Social: s.social, Consult: s.consult,
	}, s.ws, clientAuth, gwChat, s.social.Registry())
	disp = dispatch.New(cfg.Node, s.reg, s.bus, s.gw, cfg.Logger, metrics.disp)
	s.notify = notify.New(s.store, notify.Config{Notifier: cfg.Notifier, MaxGroup: cfg.OfflinePushMaxGroup,
		Logger: cfg.Logger, Now: cfg.Now, Metrics: metrics.notify})
	disp.OnOffline(chat.DeliverMsg, s.notify.Offline)
	disp.OnOffline(chat.DeliverMsgVariants, s.notify.Offline)
	if s.stopB, err = s.bus.Listen(cfg.Node, s.gw.Deliver); err != nil {
		return nil, err
	}
	if role.worker {
		s.routing.singleton(&cfg, "webhooks", s.events.SetWebhooks)
	}
	// The outbox is drained by one worker at a time; the others' relays
	// append their own presence events only.
	s.events.Relay().SetDraining(false)
	if role.worker {
		s.routing.singleton(&cfg, "relay", s.events.Relay().SetDraining)
	}
	if role.logic && s.routing.nc != nil {
		if s.stopLogic, err = remote.Serve(s.routing.nc, natsSubject(&cfg, "logic.send"), s.chat, remoteSendTimeout, cfg.Logger); err != nil {
			return nil, err
		}
	}
	s.routing.startLease(s.gw.Live)
	if s.ln, err = net.Listen("tcp", cfg.Addr); err != nil {
		return nil, err
	}
	advertise := cfg.AdvertiseURL
	if advertise == "" {
		advertise = "http://" + s.ln.Addr().String()
	}
	self := balance.Self{ID: cfg.Node, URL: advertise, Conns: s.gw.Count}
	balancer, err := balance.New(s.routing.nodes(self, cfg.Logger), cfg.Balance)
	if err != nil {
		return nil, err
	}
	api := &httpapi.Server{
		Balancer: balancer, NoClients: !role.gateway, NoServerAPI: !role.logic,
		Store: s.store, Chat: s.chat, Push: disp, Client: s.gw, Files: fileSvc, ClientAuth: clientAuth,
		Node: cfg.Node, Version: Version, Social: s.social,
		Logger: cfg.Logger, Now: cfg.Now, Groups: s.chat, Consult: s.consult, Settings: appSettings, Events: s.events,
		Ready: func(ctx context.Context) error {
			_, err := s.store.UserIDs(ctx, "_probe", "", 1)
			return err
		},
	}
	s.http = &http.Server{
		Handler:           api.Handler(),
		ReadHeaderTimeout: 10 * time.Second,
		MaxHeaderBytes:    16 << 10,
		ErrorLog:          slog.NewLogLogger(cfg.Logger.Handler(), slog.LevelWarn),
	}
	go func() { s.errc <- s.http.Serve(s.ln) }()
	s.trim = startMemTrimmer()
	s.log.Info("parley serving", "addr", s.ln.Addr().String(), "node_id", cfg.Node, "roles", role.String(), "data", cfg.DataDir, "transport", cfg.Transport)
	return s, nil
}

// storedFunc is a chat.Observer; it lets chat, built first, reach consult.
type storedFunc func([]*parley.Message)

func (f storedFunc) Stored(ms []*parley.Message) { f(ms) }

type pushFunc func(ctx context.Context, ds []parley.Delivery) error

func (f pushFunc) Push(ctx context.Context, ds []parley.Delivery) error { return f(ctx, ds) }

// Addr is the address the node listens on.
func (s *Server) Addr() string { return s.ln.Addr().String() }

// URL is the node's base URL, http://Addr.
func (s *Server) URL() string { return "http://" + s.Addr() }

// Store gives tests and admin commands the node's store.
func (s *Server) Store() parley.Store { return s.store }

// Err delivers the serve error if the HTTP server stops on its own.
func (s *Server) Err() <-chan error { return s.errc }

// longPollGrace bounds how long a closing node keeps serving polls so
// that long-poll clients collect their close frame.
const longPollGrace = 2 * time.Second

// Close drains the node: it refuses new sessions, tells every client to
// reconnect (close code 1001; long-poll clients at their next poll, for
// which it waits a moment), stops accepting requests, commits the sends
// already accepted, and closes the store. ctx bounds the waits.
func (s *Server) Close(ctx context.Context) error {
	var err error
	s.once.Do(func() {
		if s.gw != nil {
			s.gw.Close(wire.CloseGoingAway, "server shutting down")
			graceCtx, cancel := context.WithTimeout(ctx, longPollGrace)
			s.gw.AwaitLongPollClose(graceCtx)
			cancel()
		}
		if s.events != nil {
			s.events.Drain() // waiting event reads answer now
		}
		if s.http != nil {
			s.http.SetKeepAlivesEnabled(false)
			_ = s.ln.Close()
		}
		if s.http != nil {
			// Shutdown closes the listener again; that it was already
			// closed is expected.
			if err = s.http.Shutdown(ctx); errors.Is(err, net.ErrClosed) {
				err = nil
			}
		}
		s.closeAll()
	})
	return err
}

func (s *Server) closeAll() {
	if s.ln != nil && s.http == nil {
		_ = s.ln.Close() // Start failed after listening
	}
	if s.trim != nil {
		s.trim.close()
	}
	if s.stopLogic != nil {
		s.stopLogic() // before chat closes: no new remote sends
	}
	if s.stopB != nil {
		s.stopB()
	}
	if s.social != nil {
		s.social.Close()
	}
	if s.chat != nil {
		s.chat.Close()
	}
	if s.consult != nil {
		s.consult.Close() // after chat: its last commits are recorded
	}
	if s.notify != nil {
		s.notify.Close() // after chat: its last commits may notify
	}
	s.routing.stopSingletons() // before the work they start stops
	if s.events != nil {
		s.events.Close() // after chat: the relay's last step; the outbox keeps the rest
	}
	if s.ws != nil {
		_ = s.ws.Close()
	}
	s.routing.close(context.Background())
	if s.store != nil {
		_ = s.store.Close()
	}
}

// Package social is what users know of each other beyond messages:
// contact lists, profile changes pushed to the users who care about them,
// and presence (who is online, on which platforms, told to the users who
// care and are online, never stored).
//
// "Cares about" is parley.Interest: a viewer cares about X when X is in
// the viewer's contact list, or the two have a direct conversation, as the
// app's setting says (Config.Interest for now).
//
// A Service is safe for concurrent use. It owns one goroutine, the
// presence tracker's (debounced offline checks and presence fan-out),
// started by New and stopped by Close.
package social

import (
	"context"
	"log/slog"
	"sync"
	"time"

	"github.com/parley-im/parley"
)

// Store is what social needs from storage; parley.Store satisfies it.
type Store interface {
	UpsertProfiles(ctx context.Context, appID string, users []parley.User) ([]parley.User, error)
	AddContacts(ctx context.Context, appID, userID string, ids []string, alias string) ([]parley.Contact, error)
	RemoveContacts(ctx context.Context, appID, userID string, ids []string) ([]parley.Contact, error)
	Contacts(ctx context.Context, appID, userID string, since uint64, limit int) ([]parley.Contact, error)
	Interested(ctx context.Context, appID, userID string, in parley.Interest, limit int) ([]string, error)
	CaredAbout(ctx context.Context, appID, viewer string, users []string, in parley.Interest) ([]string, error)
	ProfilesSince(ctx context.Context, appID, viewer string, since uint64, in parley.Interest, limit int) ([]parley.User, error)
}

// Pusher hands deliveries to the devices of their users wherever they are
// connected, and to nobody else (the dispatcher). It must not block for
// long; delivery is best effort.
type Pusher interface {
	Push(ctx context.Context, ds []parley.Delivery) error
}

// DeliverFrame is the delivery kind of every push social makes: Payload
// is a complete server frame, which the gateway writes as it is, without
// a push number or retransmission.
const DeliverFrame = "frame"

// maxFanout bounds the recipients of one Push call of a profile fan-out:
// the dispatcher looks all of them up at once.
const maxFanout = 10_000

// Config tunes a Service. Zero values take the defaults in parentheses.
type Config struct {
	// Node is this node's id (local): the tracker forgets users who have
	// no connection on it.
	Node string
	// Interest is whose presence and profile changes users are told of
	// (parley.InterestDefault: contacts and direct-conversation peers).
	// It applies to every app of the node until apps have settings of
	// their own; Service.interest is the one place that reads it.
	Interest parley.Interest
	// Debounce is how long a user must stay without a connection (or
	// without a platform) before the users who care are told (5s): a
	// device that reconnects sooner causes no offline and online pair.
	Debounce time.Duration
	// Tick is how often the tracker looks for users to check (Debounce/5,
	// at most 1s).
	Tick time.Duration
	// QueueLen bounds presence changes waiting to be told (10,000); past
	// it changes are dropped (presence is best effort).
	QueueLen int
	// RequestTimeout bounds the store and push work of one presence
	// change (5s).
	RequestTimeout time.Duration
	Now            func() time.Time
	Logger         *slog.Logger
	// Metrics, from NewMetrics. nil counts nothing.
	Metrics *Metrics
	// Presence, if set, is told of every presence change before it is
	// told, and names more users to tell (internal/consult: the agents
	// who serve the user).
	Presence PresenceObserver
	// Events, if set, is handed every presence change told (internal/
	// events publishes them to the event stream, at most once).
	Events PresenceEvents
}

// PresenceEvents receives each presence change social tells, on the
// tracker's goroutine: it must not block.
type PresenceEvents interface {
	PresenceEvent(appID string, p parley.Presence)
}

// PresenceObserver is told of each presence change social tells (on the
// tracker's goroutine, so it must be quick) and returns the users to
// tell besides those who care; they too are told only if online.
type PresenceObserver interface {
	PresenceChanged(ctx context.Context, appID, userID string, online bool) ([]string, error)
}

func (c *Config) defaults() {
	if c.Node == "" {
		c.Node = "local"
	}
	if c.Interest == 0 {
		c.Interest = parley.InterestDefault
	}
	if c.Debounce <= 0 {
		c.Debounce = 5 * time.Second
	}
	if c.Tick <= 0 {
		c.Tick = min(c.Debounce/5, time.Second)
	}
	if c.QueueLen <= 0 {
		c.QueueLen = 10_000
	}
	if c.RequestTimeout <= 0 {
		c.RequestTimeout = 5 * time.Second
	}
	if c.Now == nil {
		c.Now = time.Now
	}
	if c.Logger == nil {
		c.Logger = slog.Default()
	}
}

// Service serves contacts, profiles and presence for one node.
type Service struct {
	cfg   Config
	store Store
	push  Pusher
	reg   parley.Registry
	log   *slog.Logger
	m     *Metrics
	trk   tracker

	stop chan struct{}
	done chan struct{}
	once sync.Once
}

// New returns a running Service. reg is the node's connection table:
// presence reads it, and Registry returns it wrapped so that the tracker
// sees every connection come and go. Close stops the Service.
func New(store Store, push Pusher, reg parley.Registry, cfg Config) *Service {
	cfg.defaults()
	s := &Service{
		cfg: cfg, store: store, push: push, reg: reg, log: cfg.Logger, m: cfg.Metrics,
		stop: make(chan struct{}), done: make(chan struct{}),
	}
	s.trk.init(s)
	go s.trk.run()
	return s
}

// Close stops the tracker and waits for it. Presence changes not yet told
// are dropped.
func (s *Service) Close() {
	s.once.Do(func() { close(s.stop) })
	<-s.done
}

// interest is the app's setting of whose changes its users are told of.
func (s *Service) interest(string) parley.Interest { return s.cfg.Interest }

// Registry returns the node's registry wrapped by the presence tracker:
// the gateway registers its connections through it.
func (s *Service) Registry() parley.Registry { return &trackingRegistry{s: s} }

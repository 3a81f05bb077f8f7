package events

import (
	"context"
	"log/slog"
	"sync"
	"time"

	"github.com/parley-im/parley"
)

// MaxWait bounds how long Service.Read waits for events.
const MaxWait = 30 * time.Second

// Config configures a Service. Zero values take the defaults of its parts.
type Config struct {
	Relay   RelayConfig
	Webhook WebhookConfig
	// NoWebhooks leaves webhook delivery off on this node (see Webhooks:
	// one node of several should deliver). Configurations can still be
	// read and changed.
	NoWebhooks bool
	Now        func() time.Time
	Logger     *slog.Logger
	Metrics    *Metrics
}

// Service is a node's event stream: the relay from the store's outbox to
// the log, webhook delivery, and what the server API serves (Read, the
// webhook configuration, dead letters). It owns the goroutines of its
// Relay and Webhooks: New starts them, Close stops them. Its methods are
// safe for concurrent use.
type Service struct {
	log   EventLog
	hooks WebhookStore
	sig   *Signal
	now   func() time.Time
	relay *Relay
	whCfg WebhookConfig

	whMu sync.Mutex
	wh   *Webhooks // nil while webhook delivery is off here

	drain     chan struct{} // closed by Drain
	drainOnce sync.Once
}

// New starts the event stream of a node: a relay from outbox into log
// and, unless cfg.NoWebhooks, webhook delivery of hooks. Close stops it.
func New(outbox Outbox, log EventLog, hooks WebhookStore, cfg Config) *Service {
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	sig := NewSignal()
	rc, wc := cfg.Relay, cfg.Webhook
	rc.Signal, rc.Logger, rc.Metrics = sig, cfg.Logger, cfg.Metrics
	if rc.Now == nil {
		rc.Now = cfg.Now
	}
	wc.Signal, wc.Logger, wc.Metrics = sig, cfg.Logger, cfg.Metrics
	if wc.Now == nil {
		wc.Now = cfg.Now
	}
	s := &Service{log: log, hooks: hooks, sig: sig, now: cfg.Now, relay: NewRelay(outbox, log, rc), whCfg: wc, drain: make(chan struct{})}
	s.relay.Start()
	if !cfg.NoWebhooks {
		s.SetWebhooks(true)
	}
	return s
}

// SetWebhooks turns webhook delivery on this node on or off. In a
// cluster one node delivers (the one that holds the webhook lease, see
// internal/singleton): it turns delivery on when it takes the lease and
// off when it loses it. Turning it off stops every deliverer (a POST in
// flight is cancelled and its batch sent again by the next deliverer:
// webhooks are at least once; a batch already answered 2xx has its cursor
// saved first). Safe for concurrent use.
func (s *Service) SetWebhooks(on bool) {
	s.whMu.Lock()
	defer s.whMu.Unlock()
	switch {
	case on && s.wh == nil:
		s.wh = NewWebhooks(s.hooks, s.log, s.whCfg)
		s.wh.Start()
	case !on && s.wh != nil:
		s.wh.Close()
		s.wh = nil
	}
}

// Drain ends the waits of Read calls in progress and of those to come:
// they answer with what the log holds. A node calls it when it starts
// shutting down, so that its HTTP server need not wait for them.
func (s *Service) Drain() { s.drainOnce.Do(func() { close(s.drain) }) }

// Close stops the relay and webhook delivery and waits for them (and
// drains Read).
func (s *Service) Close() {
	s.Drain()
	s.SetWebhooks(false)
	s.relay.Close()
}

// Relay returns the node's relay (to kick it, or publish presence).
func (s *Service) Relay() *Relay { return s.relay }

// PresenceEvent publishes a presence change at most once (see
// Relay.PublishPresence). It never blocks.
func (s *Service) PresenceEvent(appID string, p parley.Presence) {
	s.relay.PublishPresence(appID, p, s.now())
}

// Page is an answer of Read.
type Page struct {
	Events []Event `json:"events"`
	// Next is the offset to read after next time: the last event's, or
	// the after asked for when there are none.
	Next uint64 `json:"next"`
	// More is true when the log held events beyond this page when it was
	// read.
	More bool `json:"more"`
}

// Read returns up to limit (1-MaxRead) of app's events after offset
// after, waiting up to wait (at most MaxWait) for one if there are none
// yet. Returns EInvalid if after is past the log's last offset (a reader
// pointed at another log, or one that lost data).
func (s *Service) Read(ctx context.Context, app string, after uint64, limit int, wait time.Duration) (Page, error) {
	wait = min(max(wait, 0), MaxWait)
	var timer *time.Timer
	for {
		wake := s.sig.Wait(app)
		evs, err := s.log.Read(ctx, app, after, limit)
		if err != nil {
			return Page{}, err
		}
		last, err := s.log.Last(ctx, app)
		if err != nil {
			return Page{}, err
		}
		if len(evs) > 0 {
			next := evs[len(evs)-1].Offset
			return Page{Events: evs, Next: next, More: last > next}, nil
		}
		if after > last {
			return Page{}, parley.Errorf(parley.EInvalid, "after %d is past the last event (%d)", after, last)
		}
		select {
		case <-s.drain:
			wait = 0
		default:
		}
		if wait <= 0 {
			return Page{Events: []Event{}, Next: after}, nil
		}
		if timer == nil {
			timer = time.NewTimer(wait)
			defer timer.Stop()
		}
		// Events appended by another node are not signalled here: look
		// again every second.
		poll := time.NewTimer(time.Second)
		select {
		case <-ctx.Done():
			poll.Stop()
			return Page{}, ctx.Err()
		case <-timer.C:
			poll.Stop()
			wait = 0 // one last look
		case <-wake:
		case <-poll.C:
		case <-s.drain:
		}
		poll.Stop()
	}
}

// PutWebhook sets app's webhook to url and secret (validated as
// Webhook.Validate says) and returns it. Delivery starts after offset
// *after when given (0: the whole log), else where the app's webhook was
// (replacing it), else after the log's current end (only new events).
func (s *Service) PutWebhook(ctx context.Context, app, url, secret string, after *uint64) (*Webhook, error) {
	w := &Webhook{App: app, URL: url, Secret: secret, UpdatedAt: s.now().UnixMilli()}
	if err := w.Validate(); err != nil {
		return nil, err
	}
	if !s.whCfg.AllowPrivate {
		if err := checkPublicURL(url); err != nil {
			return nil, err
		}
	}
	last, err := s.log.Last(ctx, app)
	if err != nil {
		return nil, err
	}
	switch old, err := s.hooks.Webhook(ctx, app); {
	case after != nil:
		if *after > last {
			return nil, parley.Errorf(parley.EInvalid, "after %d is past the last event (%d)", *after, last)
		}
		w.Cursor = *after
	case err == nil:
		w.Cursor = old.Cursor
	case parley.ErrorCode(err) == parley.ENotFound:
		w.Cursor = last
	default:
		return nil, err
	}
	if err := s.hooks.PutWebhook(ctx, w); err != nil {
		return nil, err
	}
	s.reload()
	return w, nil
}

// Webhook returns app's webhook, or ENotFound.
func (s *Service) Webhook(ctx context.Context, app string) (*Webhook, error) {
	return s.hooks.Webhook(ctx, app)
}

// DeleteWebhook stops delivery to app's webhook and forgets it. Returns
// ENotFound if it has none.
func (s *Service) DeleteWebhook(ctx context.Context, app string) error {
	ok, err := s.hooks.DeleteWebhook(ctx, app)
	if err != nil {
		return err
	}
	if !ok {
		return parley.Errorf(parley.ENotFound, "no webhook")
	}
	s.reload()
	return nil
}

// DeadLetters returns a page of app's dead letters (WebhookStore).
func (s *Service) DeadLetters(ctx context.Context, app string, after int64, limit int) ([]DeadLetter, error) {
	return s.hooks.DeadLetters(ctx, app, after, limit)
}

func (s *Service) reload() {
	s.whMu.Lock()
	defer s.whMu.Unlock()
	if s.wh != nil {
		s.wh.Reload()
	}
}

// Package notify turns messages stored for users who have no online
// device into offline-push notifications, and hands them to a pluggable
// Notifier (an APNs/FCM/vendor-push bridge; by default the log).
//
// The dispatcher tells the Service which recipients of a message push had
// no connection on any node (Offline); a single worker goroutine then
// drops the sender, muted members (parley.ConvSettings) and messages that
// do not notify (recalls, edits, group membership notices), renders a
// preview, records each push in the Store keyed by (app, user, message)
// and hands only newly recorded ones to the Notifier. So one user never
// gets two notifications for one message, whichever node or retry
// produced it. Delivery to the Notifier is at most once: a crash between
// recording and notifying loses that notification (the recorded row
// stays, for the event stream), never duplicates it.
//
// Offline never blocks the dispatcher: work beyond Config.QueueLen is
// dropped and counted. The message itself is never affected; it is
// stored before any of this happens and reaches the user on sync.
package notify

import (
	"context"
	"encoding/json"
	"log/slog"
	"sync"
	"time"

	"github.com/parley-im/parley"
)

// Push is one offline-push notification: message MsgID of ConvID (at Seq)
// for UserID, who had no online device when it was stored.
type Push struct {
	AppID  string      `json:"app"`
	UserID string      `json:"user"`
	MsgID  string      `json:"msg"`
	ConvID string      `json:"conv"`
	Seq    uint64      `json:"seq"`
	Sender string      `json:"from"`
	Kind   parley.Kind `json:"kind"`
	// Title is who the message is from, as a person reads it: the
	// sender's display name (their id if they have none).
	Title string `json:"title"`
	// Preview is the message rendered for a lock screen: its text (or
	// caption, or place), or a bracketed word for media, at most
	// MaxPreviewRunes runes.
	Preview string `json:"preview"`
	// Time is when the message was stored, in Unix ms.
	Time int64 `json:"ts"`
}

// Notifier delivers notifications to a push service. Notify may be slow
// (it runs on the notify worker, never on the send path); an error is
// logged and the notifications are not retried.
type Notifier interface {
	Notify(ctx context.Context, ps []Push) error
}

// Store is what notify needs from storage; the sqlite package implements
// it. Every implementation must pass notifytest.RunStoreTests.
type Store interface {
	// MutedBy returns the current members who muted a conversation (see
	// parley.ConvStore).
	MutedBy(ctx context.Context, appID, convID string) ([]string, error)
	// User returns a user, or ENotFound.
	User(ctx context.Context, appID, userID string) (*parley.User, error)
	// RecordPushes stores pushes and returns, in input order, those that
	// were not already recorded under the same (AppID, UserID, MsgID);
	// a key repeated within ps counts once. Recorded pushes are durable
	// when it returns.
	RecordPushes(ctx context.Context, ps []Push) ([]Push, error)
	// PrunePushes forgets pushes whose Time is before before (Unix ms)
	// and returns how many it forgot.
	PrunePushes(ctx context.Context, before int64) (int64, error)
}

// Defaults of Config.
const (
	DefaultQueueLen  = 4096
	DefaultMaxGroup  = 500
	DefaultRetention = 30 * 24 * time.Hour
	MaxPreviewRunes  = 100
)

// Config tunes a Service. Zero values take the defaults.
type Config struct {
	// Notifier receives the notifications. Default: LogNotifier.
	Notifier Notifier
	// QueueLen bounds the message pushes waiting for the worker
	// (DefaultQueueLen); past it, Offline drops and counts.
	QueueLen int
	// MaxGroup: messages to groups with more members than this notify
	// nobody (DefaultMaxGroup). Large groups are read when their members
	// open the app; a notification per message to thousands of members
	// is what every user mutes first.
	MaxGroup int
	// Retention is how long recorded pushes are kept, and so how long a
	// repeated push is recognised (DefaultRetention).
	Retention time.Duration
	Logger    *slog.Logger
	Now       func() time.Time
	Metrics   *Metrics // nil: no metrics
}

func (c *Config) defaults() {
	if c.Logger == nil {
		c.Logger = slog.Default()
	}
	if c.Notifier == nil {
		c.Notifier = LogNotifier{Logger: c.Logger}
	}
	if c.QueueLen <= 0 {
		c.QueueLen = DefaultQueueLen
	}
	if c.MaxGroup <= 0 {
		c.MaxGroup = DefaultMaxGroup
	}
	if c.Retention <= 0 {
		c.Retention = DefaultRetention
	}
	if c.Now == nil {
		c.Now = time.Now
	}
}

// job is one message push with its offline recipients.
type job struct {
	app     string
	members int
	payload []byte
	users   []string
}

// Service produces offline-push notifications. It owns one worker
// goroutine, started by New and stopped by Close.
type Service struct {
	cfg   Config
	store Store
	log   *slog.Logger
	m     *Metrics

	queue chan job
	stop  chan struct{}
	done  chan struct{}
	once  sync.Once
}

// New returns a running Service.
func New(store Store, cfg Config) *Service {
	cfg.defaults()
	s := &Service{
		cfg: cfg, store: store, log: cfg.Logger, m: cfg.Metrics,
		queue: make(chan job, cfg.QueueLen),
		stop:  make(chan struct{}),
		done:  make(chan struct{}),
	}
	go s.run()
	return s
}

// Close stops the worker after it has handled what is queued.
func (s *Service) Close() {
	s.once.Do(func() { close(s.stop) })
	<-s.done
}

// Offline is the dispatcher's hook: d is a message push (its Payload a
// parley.Message as JSON, its Users every recipient) and users those of
// its recipients with no connection anywhere. It never blocks; the
// slices are not kept past the call's return unless copied (they are).
func (s *Service) Offline(d parley.Delivery, users []string) {
	if len(users) == 0 {
		return
	}
	j := job{app: d.AppID, members: len(d.Users), payload: d.Payload, users: append([]string(nil), users...)}
	select {
	case s.queue <- j:
	default:
		s.m.dropped(len(users))
	}
}

func (s *Service) run() {
	defer close(s.done)
	prune := time.NewTicker(time.Hour)
	defer prune.Stop()
	s.prune()
	batch := make([]job, 0, 256)
	for {
		select {
		case j := <-s.queue:
			batch = append(batch[:0], j)
		case <-prune.C:
			s.prune()
			continue
		case <-s.stop:
			for {
				select {
				case j := <-s.queue:
					s.handle([]job{j})
				default:
					return
				}
			}
		}
	fill:
		for len(batch) < cap(batch) {
			select {
			case j := <-s.queue:
				batch = append(batch, j)
			default:
				break fill
			}
		}
		s.handle(batch)
	}
}

func (s *Service) prune() {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	before := s.cfg.Now().Add(-s.cfg.Retention).UnixMilli()
	if n, err := s.store.PrunePushes(ctx, before); err != nil {
		s.log.Warn("pruning offline pushes failed", "err", err)
	} else if n > 0 {
		s.log.Info("pruned offline pushes", "count", n)
	}
}

// handle turns a batch of jobs into pushes, records them and notifies
// the new ones.
func (s *Service) handle(batch []job) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	r := renderer{s: s, ctx: ctx, muted: map[string]map[string]bool{}, users: map[string]*parley.User{}}
	var ps []Push
	for _, j := range batch {
		ps = r.pushes(ps, j)
	}
	if len(ps) == 0 {
		return
	}
	fresh, err := s.store.RecordPushes(ctx, ps)
	if err != nil {
		s.log.Error("recording offline pushes failed; not notified", "err", err, "pushes", len(ps))
		s.m.failed(len(ps))
		return
	}
	s.m.repeated(len(ps) - len(fresh))
	if len(fresh) == 0 {
		return
	}
	if err := s.cfg.Notifier.Notify(ctx, fresh); err != nil {
		s.log.Warn("notifier failed", "err", err, "pushes", len(fresh))
		s.m.failed(len(fresh))
		return
	}
	s.m.notified(len(fresh))
}

// renderer builds the pushes of one batch, with per-batch caches of
// mutes and users.
type renderer struct {
	s     *Service
	ctx   context.Context
	muted map[string]map[string]bool // app + conv -> users
	users map[string]*parley.User    // app + user; nil: unknown
}

func (r *renderer) pushes(out []Push, j job) []Push {
	var m parley.Message
	if err := json.Unmarshal(j.payload, &m); err != nil {
		r.s.log.Warn("offline push of an undecodable message", "err", err)
		return out
	}
	m.AppID = j.app
	if !notifies(&m) {
		return out
	}
	if _, group := parley.GroupOf(m.ConvID); group && j.members > r.s.cfg.MaxGroup {
		r.s.m.skippedGroup(len(j.users))
		return out
	}
	muted := r.mutedIn(m.AppID, m.ConvID)
	title := m.Sender
	if u := r.user(m.AppID, m.Sender); u != nil && u.Name != "" {
		title = u.Name
	}
	for _, u := range j.users {
		if u == m.Sender || u == parley.SystemUserID {
			continue
		}
		if muted[u] {
			r.s.m.skippedMuted(1)
			continue
		}
		shown := &m
		if len(m.Variants) > 0 {
			role := parley.RoleUser
			if p := r.user(m.AppID, u); p != nil {
				role = p.Role
			}
			shown = m.For(role, "")
		}
		out = append(out, Push{
			AppID: m.AppID, UserID: u, MsgID: m.ID, ConvID: m.ConvID, Seq: m.Seq,
			Sender: m.Sender, Kind: m.Kind, Title: title, Preview: Preview(shown), Time: m.Time,
		})
	}
	return out
}

func (r *renderer) mutedIn(app, conv string) map[string]bool {
	k := app + "\x00" + conv
	if m, ok := r.muted[k]; ok {
		return m
	}
	ids, err := r.s.store.MutedBy(r.ctx, app, conv)
	if err != nil {
		// Better a notification too many than a user never told.
		r.s.log.Warn("reading mutes failed", "err", err, "conv_id", conv)
	}
	m := make(map[string]bool, len(ids))
	for _, id := range ids {
		m[id] = true
	}
	r.muted[k] = m
	return m
}

func (r *renderer) user(app, id string) *parley.User {
	k := app + "\x00" + id
	if u, ok := r.users[k]; ok {
		return u
	}
	u, err := r.s.store.User(r.ctx, app, id)
	if err != nil {
		u = nil
	}
	r.users[k] = u
	return u
}

// notifies reports whether a message is worth a notification: not a
// revision of another, and not a notice of a group's membership.
func notifies(m *parley.Message) bool {
	switch m.Kind {
	case parley.KindRecall, parley.KindEdit, parley.KindRecalled:
		return false
	case parley.KindSystem:
		gid, group := parley.GroupOf(m.ConvID)
		if !group || m.Sender != parley.SystemUserID {
			return true
		}
		var ev parley.GroupEventBody
		return json.Unmarshal(m.Body, &ev) != nil || ev.Event == "" || ev.Group != gid
	}
	return true
}

// LogNotifier is the default Notifier: it writes each notification to the
// log, at info level.
type LogNotifier struct{ Logger *slog.Logger }

// Notify logs ps.
func (n LogNotifier) Notify(ctx context.Context, ps []Push) error {
	for _, p := range ps {
		n.Logger.LogAttrs(ctx, slog.LevelInfo, "offline push",
			slog.String("app_id", p.AppID), slog.String("user_id", p.UserID), slog.String("conv_id", p.ConvID),
			slog.Uint64("seq", p.Seq), slog.String("msg_id", p.MsgID), slog.String("title", p.Title),
			slog.String("preview", p.Preview))
	}
	return nil
}

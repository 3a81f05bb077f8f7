// Package chat is Parley's messaging logic: the send pipeline (validate,
// persist in group-committed batches, then push), sync from change
// versions, history, read cursors and broadcasts.
//
// Persist first, then push: a message is acknowledged to its sender and
// pushed to devices only after the store has committed it, and its
// sequence number is assigned by that commit. Push is an optimisation;
// sync (Changes + Messages) is correctness.
//
// A Service is safe for concurrent use. It owns one committer goroutine,
// started by New and stopped by Close.
package chat

import (
	"context"
	"log/slog"
	"sync"
	"time"

	"github.com/parley-im/parley"
)

// Store is what chat needs from storage; parley.Store satisfies it.
type Store interface {
	User(ctx context.Context, appID, userID string) (*parley.User, error)
	UserIDs(ctx context.Context, appID, after string, limit int) ([]string, error)
	EnsureConversations(ctx context.Context, convs []parley.Conversation) error
	IsMember(ctx context.Context, appID, convID, userID string) error
	Members(ctx context.Context, appID, convID string) ([]string, error)
	Append(ctx context.Context, msgs []*parley.Message) ([]parley.AppendResult, error)
	Messages(ctx context.Context, appID, convID string, r parley.MessageRange) ([]parley.Message, error)
	ReviseMessage(ctx context.Context, appID, convID string, seq uint64, kind parley.Kind, body []byte) error
	Changes(ctx context.Context, appID, userID string, since uint64, limit int) ([]parley.ConvState, error)
	Conversations(ctx context.Context, appID, userID string, beforeVer uint64, limit int) ([]parley.ConvState, error)
	MarkRead(ctx context.Context, appID, convID, userID string, seq uint64) (parley.ConvState, bool, error)
	SetConvSettings(ctx context.Context, appID, convID, userID string, c parley.ConvSettings) (parley.ConvState, bool, error)
	SearchMessages(ctx context.Context, appID, userID string, q parley.SearchQuery) (parley.SearchResult, error)
	GroupStore // groups.go
}

// Pusher hands deliveries to the devices of their users wherever they are
// connected. It must not block for long; delivery is best effort.
type Pusher interface {
	Push(ctx context.Context, ds []parley.Delivery) error
}

// Delivery kinds that chat produces. The gateway turns them into frames.
const (
	DeliverMsg = "msg" // Payload: a parley.Message as JSON
	// DeliverMsgVariants is DeliverMsg for a message with variants: the
	// gateway pushes each session the variant meant for it
	// (parley.Message.For), never the whole message.
	DeliverMsgVariants = "msg_variants"
	DeliverRead        = "read" // Payload: a wire.ReadEvent as JSON
)

// Config tunes a Service. Zero values take the defaults.
type Config struct {
	// MaxBatch is the most messages committed in one transaction.
	// Default 512.
	MaxBatch int
	// QueueLen bounds sends waiting for the committer; past it Send
	// returns EUnavailable. Default 8192.
	QueueLen int
	// Now is the clock. Default time.Now.
	Now func() time.Time
	// Logger. Default slog.Default().
	Logger *slog.Logger
	// Metrics, from NewMetrics. nil counts nothing.
	Metrics *Metrics
	// RecallWindow and EditWindow are how long after sending a client
	// may recall or edit its own message. Defaults DefaultRecallWindow
	// and DefaultEditWindow. With Settings set they are unused.
	RecallWindow, EditWindow time.Duration
	// Settings, if set, gives each app's switches (receipts, recall and
	// edit windows, typing, group size; appsettings.go); without it
	// every app gets the values of this Config.
	Settings AppSettings
	// Files, if set, is checked on every image, file, audio and video
	// message from a client: the file it names must have been uploaded
	// into the message's conversation.
	Files FileLookup
	// GroupMaxMembers is a new group's member limit unless the business
	// backend sets one. Default parley.DefaultMaxGroupMembers (10,000).
	// With Settings set it is unused.
	GroupMaxMembers int
	// ReceiptsList is the largest conversation whose read receipts name
	// the readers; larger ones only count them. Default 500.
	ReceiptsList int
	// GroupCacheMembers bounds the memberships the committer keeps in
	// memory for fan-out and send checks (about 90 bytes each, user id
	// included). Default 1,000,000.
	GroupCacheMembers int
	// Observer, if set, is told of every message the committer stores.
	Observer Observer
	// GroupChanged, if set, is told of every group change this node
	// commits (groupsync.go): other nodes must forget their view of it.
	// It runs on the committer and must not block.
	GroupChanged func(appID, groupID string)
}

// Observer is told of the messages the committer stores as new (not
// duplicates), right after each commit and before their senders are
// answered (internal/consult records consultation threads this way).
// Stored runs on the committer goroutine: it must not block and must not
// modify the messages.
type Observer interface {
	Stored(msgs []*parley.Message)
}

func (c *Config) defaults() {
	if c.MaxBatch <= 0 {
		c.MaxBatch = 512
	}
	if c.QueueLen <= 0 {
		c.QueueLen = 8192
	}
	if c.Now == nil {
		c.Now = time.Now
	}
	if c.RecallWindow <= 0 {
		c.RecallWindow = DefaultRecallWindow
	}
	if c.EditWindow <= 0 {
		c.EditWindow = DefaultEditWindow
	}
	if c.Logger == nil {
		c.Logger = slog.Default()
	}
	if c.GroupMaxMembers <= 0 {
		c.GroupMaxMembers = parley.DefaultMaxGroupMembers
	}
	if c.ReceiptsList <= 0 {
		c.ReceiptsList = 500
	}
	if c.GroupCacheMembers <= 0 {
		c.GroupCacheMembers = 1_000_000
	}
}

// Service is the messaging logic of one node.
type Service struct {
	cfg   Config
	store Store
	push  Pusher
	log   *slog.Logger
	m     *Metrics

	queue chan *pending
	stop  chan struct{}
	done  chan struct{}
	once  sync.Once

	known  knownConvs
	groups groupCache // the committer's only
}

// New returns a running Service. Close stops it.
func New(store Store, push Pusher, cfg Config) *Service {
	cfg.defaults()
	s := &Service{
		cfg:   cfg,
		store: store,
		push:  push,
		log:   cfg.Logger,
		m:     cfg.Metrics,
		queue: make(chan *pending, cfg.QueueLen),
		stop:  make(chan struct{}),
		done:  make(chan struct{}),
	}
	s.known.init(100_000)
	s.groups.init(cfg.GroupCacheMembers)
	go s.commitLoop()
	return s
}

// Close stops accepting sends, commits those already queued and waits for
// the committer to exit.
func (s *Service) Close() {
	s.once.Do(func() { close(s.stop) })
	<-s.done
}

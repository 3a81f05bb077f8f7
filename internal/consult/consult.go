// Package consult is Parley's customer service: consultations between a
// shopper and a shop's agents, as an explicit state machine (State), their
// assignment to agents by a queue's strategy with a first-come
// first-served waiting line, automations (greeting, off-hours reply, FAQ
// answers, canned replies), timers (automatic resolution after the
// user's silence, agents going offline after a grace period) driven by an
// injected Clock, supervision, ratings, and metrics computed from the
// stored event log.
//
// A consultation lives in a thread: the conversation of kind
// parley.ConvConsult between the user and the shop, reused by every
// consultation of the pair. Messages in it go through chat like any
// message; the service learns of them from chat's observer (Stored) and
// records them. Every transition is also a system message in the thread.
//
// Concurrency: the Store's Transition is conditional (state, capacity),
// so any number of goroutines, on any number of nodes, may assign at
// once without assigning a consultation twice or taking an agent past
// its capacity (docs/decisions/0006-consult-assignment.md). A Service is
// safe for concurrent use. It owns Config.Workers message workers (each
// serves the threads that hash to it, in message order) and one timer
// goroutine, started by New and stopped by Close.
package consult

import (
	"context"
	"hash/fnv"
	"log/slog"
	"net/http"
	"sync"
	"time"

	"github.com/parley-im/parley"
	"github.com/parley-im/parley/internal/chat"
	"github.com/parley-im/parley/wire"
)

// Clock is the service's time: event times, automatic resolution and the
// agents' offline grace all read it, so tests drive them with a fake one
// (consulttest.Clock).
type Clock interface {
	Now() time.Time
	// After returns a channel that receives once d has passed on this
	// clock.
	After(d time.Duration) <-chan time.Time
}

type realClock struct{}

func (realClock) Now() time.Time                         { return time.Now() }
func (realClock) After(d time.Duration) <-chan time.Time { return time.After(d) }

// Chat is what consult needs of the messaging logic; *chat.Service
// implements it.
type Chat interface {
	Send(ctx context.Context, req chat.SendRequest) chat.SendResult
	History(ctx context.Context, appID, convID string, r parley.MessageRange) (wire.PullRes, error)
}

// Pusher hands deliveries to the online devices of their users.
type Pusher interface {
	Push(ctx context.Context, ds []parley.Delivery) error
}

// Locator finds users' live connections (the node's registry).
type Locator interface {
	Locate(ctx context.Context, appID string, userIDs []string) ([]parley.ConnInfo, error)
}

// Config tunes a Service. Zero values take the defaults in parentheses.
type Config struct {
	Clock  Clock        // real time
	Logger *slog.Logger // slog.Default()
	// Metrics, from NewMetrics; nil counts nothing.
	Metrics *Metrics
	// Tick is how often the timers look for work (1s).
	Tick time.Duration
	// OfflineGrace is how long all of an agent's devices must be gone
	// before the agent is set offline (2m).
	OfflineGrace time.Duration
	// Workers is the number of goroutines recording thread messages (4);
	// QueueLen bounds the messages waiting for each (4096); past it a
	// message is not recorded (logged and counted).
	Workers, QueueLen int
	// HookTimeout bounds a routing hook's answer (2s); HTTPClient makes
	// the call (a client with that timeout).
	HookTimeout time.Duration
	HTTPClient  *http.Client
	// RequestTimeout bounds the store and chat work of one background
	// step (10s).
	RequestTimeout time.Duration
}

func (c *Config) defaults() {
	if c.Clock == nil {
		c.Clock = realClock{}
	}
	if c.Logger == nil {
		c.Logger = slog.Default()
	}
	if c.Tick <= 0 {
		c.Tick = time.Second
	}
	if c.OfflineGrace <= 0 {
		c.OfflineGrace = 2 * time.Minute
	}
	if c.Workers <= 0 {
		c.Workers = 4
	}
	if c.QueueLen <= 0 {
		c.QueueLen = 4096
	}
	if c.HookTimeout <= 0 {
		c.HookTimeout = 2 * time.Second
	}
	if c.HTTPClient == nil {
		c.HTTPClient = &http.Client{Timeout: c.HookTimeout}
	}
	if c.RequestTimeout <= 0 {
		c.RequestTimeout = 10 * time.Second
	}
}

// Service is the customer service of one node.
type Service struct {
	cfg   Config
	store Store
	chat  Chat
	push  Pusher
	reg   Locator
	log   *slog.Logger
	m     *Metrics

	work []chan msgEvent
	stop chan struct{}
	wg   sync.WaitGroup
	once sync.Once

	// mu guards the fields below. It is a leaf: nothing is called while
	// it is held.
	mu     sync.Mutex
	told   map[string]int              // consultation id -> waiting position last told
	leftAt map[agentKey]time.Time      // agents whose last device went: since when
	drains map[agentKey]*bool          // queues (app, queue id) being served: go round again?
	sups   map[agentKey]supervisorList // shops (app, shop id): their supervisors, for relay (watch.go)
}

// agentKey names an agent, or a queue, of an app.
type agentKey struct{ app, agent string }

// msgEvent is a stored thread message waiting for a worker, with the
// clock's time when it was committed.
type msgEvent struct {
	msg parley.Message
	at  int64
}

// New returns a running Service. reg may be nil (agents are then never
// set offline automatically). Close stops it.
func New(store Store, ch Chat, push Pusher, reg Locator, cfg Config) *Service {
	cfg.defaults()
	s := &Service{
		cfg: cfg, store: store, chat: ch, push: push, reg: reg, log: cfg.Logger, m: cfg.Metrics,
		stop: make(chan struct{}), told: map[string]int{}, leftAt: map[agentKey]time.Time{},
		drains: map[agentKey]*bool{}, sups: map[agentKey]supervisorList{},
	}
	s.work = make([]chan msgEvent, cfg.Workers)
	for i := range s.work {
		s.work[i] = make(chan msgEvent, cfg.QueueLen)
		s.wg.Add(1)
		go s.worker(s.work[i])
	}
	s.wg.Add(1)
	go s.timers()
	return s
}

// Close stops the workers and the timers and waits for them. Messages
// already queued are recorded first.
func (s *Service) Close() {
	s.once.Do(func() { close(s.stop) })
	s.wg.Wait()
}

func (s *Service) now() int64 { return s.cfg.Clock.Now().UnixMilli() }

// bg returns a context for one background step.
func (s *Service) bg() (context.Context, context.CancelFunc) {
	return context.WithTimeout(context.Background(), s.cfg.RequestTimeout)
}

// Stored is chat's observer: it is told of every message the committer
// stores, on the committer goroutine, before the senders are answered.
// It takes the messages of consultation threads and hands each to the
// worker of its thread without blocking. The worker copies every one to
// the watching supervisors (relay) and records those not from the system;
// a full worker queue drops the message from both (logged, counted).
func (s *Service) Stored(msgs []*parley.Message) {
	var at int64
	for _, m := range msgs {
		if _, _, ok := parley.ConsultPeers(m.ConvID); !ok {
			continue
		}
		if at == 0 {
			at = s.now()
		}
		h := fnv.New32a()
		_, _ = h.Write([]byte(m.AppID + "\x00" + m.ConvID))
		select {
		case s.work[h.Sum32()%uint32(len(s.work))] <- msgEvent{msg: *m, at: at}:
		default:
			s.m.dropped()
			s.log.Warn("consult message not recorded: queue full", "app_id", m.AppID, "conv_id", m.ConvID, "msg_id", m.ID)
		}
	}
}

func (s *Service) worker(ch chan msgEvent) {
	defer s.wg.Done()
	for {
		select {
		case ev := <-ch:
			s.handle(ev)
		case <-s.stop:
			for {
				select {
				case ev := <-ch:
					s.handle(ev)
				default:
					return
				}
			}
		}
	}
}

// handle copies a thread message to the watching supervisors, then
// records it unless the system wrote it (its transitions and automatic
// replies are recorded where they are made).
func (s *Service) handle(ev msgEvent) {
	s.relay(&ev.msg)
	if ev.msg.Sender != parley.SystemUserID {
		s.onMessage(ev)
	}
}

// timers runs the automatic resolutions and the agents' offline grace
// once per Tick of the clock.
func (s *Service) timers() {
	defer s.wg.Done()
	for {
		select {
		case <-s.stop:
			return
		case <-s.cfg.Clock.After(s.cfg.Tick):
		}
		s.resolveDue()
		s.offlineDue()
	}
}

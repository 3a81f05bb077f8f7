// Package jetstream is the production event log (events.EventLog) on NATS
// JetStream: one stream per app, each event one message on subject
// <prefix>.<app>.<type>, with the event id as Nats-Msg-Id so that the
// server drops a repeat, and replay through an ordered consumer that
// starts at any stream sequence. An event's offset is its stream sequence.
//
// An EventLog is safe for concurrent use. It starts no goroutines of its
// own; the nats.Conn it is given (and its owner) carries the work.
package jetstream

import (
	"context"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/nats-io/nats.go"
	js "github.com/nats-io/nats.go/jetstream"

	"github.com/parley-im/parley"
	"github.com/parley-im/parley/internal/events"
)

// Config tunes an EventLog. Zero values take the defaults in parentheses.
type Config struct {
	// Prefix starts every subject (parley.events) and, upper-cased with
	// '_' for '.', every stream name (PARLEY_EVENTS_<app>).
	Prefix string
	// DuplicateWindow is how long the server remembers event ids (10m):
	// Append is idempotent for repeats within it. The relay repeats a
	// batch only when it restarts after dying between an append and the
	// outbox delete, so the window needs to outlast a node's restart;
	// the server keeps every id of the window in memory.
	DuplicateWindow time.Duration
	// MaxAge drops events older than this (0: kept for ever).
	MaxAge time.Duration
	// Replicas is each stream's replica count in a cluster (1).
	Replicas int
	// Timeout bounds a call's wait for the server when its context has
	// no deadline (10s).
	Timeout time.Duration
}

func (c *Config) defaults() {
	if c.Prefix == "" {
		c.Prefix = "parley.events"
	}
	if c.DuplicateWindow <= 0 {
		c.DuplicateWindow = 10 * time.Minute
	}
	if c.Replicas <= 0 {
		c.Replicas = 1
	}
	if c.Timeout <= 0 {
		c.Timeout = 10 * time.Second
	}
}

// EventLog is an events.EventLog on JetStream.
type EventLog struct {
	js  js.JetStream
	cfg Config

	mu      sync.Mutex // guards streams; a leaf
	streams map[string]bool
}

var _ events.EventLog = (*EventLog)(nil)

// New returns an event log on nc's JetStream. nc stays the caller's.
func New(nc *nats.Conn, cfg Config) (*EventLog, error) {
	cfg.defaults()
	j, err := js.New(nc, js.WithPublishAsyncMaxPending(4096))
	if err != nil {
		return nil, fmt.Errorf("jetstream: %w", err)
	}
	return &EventLog{js: j, cfg: cfg, streams: make(map[string]bool)}, nil
}

// Check reports whether the server serves JetStream to this connection:
// EUnavailable, with the server's reason, if not.
func (l *EventLog) Check(ctx context.Context) error {
	ctx, cancel := l.ctx(ctx)
	defer cancel()
	if _, err := l.js.AccountInfo(ctx); err != nil {
		return unavailable("jetstream.EventLog.Check", err)
	}
	return nil
}

// appToken writes an app id as one subject token and stream name part:
// bytes other than letters, digits, '-' and '_' become '~' and two hex
// digits. App ids never hold '~', so no two apps share a token.
func appToken(app string) string {
	out := make([]byte, 0, len(app))
	for i := 0; i < len(app); i++ {
		c := app[i]
		if 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '-' || c == '_' {
			out = append(out, c)
			continue
		}
		out = append(out, '~')
		out = hex.AppendEncode(out, []byte{c})
	}
	return string(out)
}

// StreamName is the stream of an app's events.
func (l *EventLog) StreamName(app string) string {
	b := []byte(l.cfg.Prefix)
	for i, c := range b {
		switch {
		case c == '.':
			b[i] = '_'
		case 'a' <= c && c <= 'z':
			b[i] = c - 'a' + 'A'
		}
	}
	return string(b) + "_" + appToken(app)
}

// Subject is the subject of an app's events of type typ.
func (l *EventLog) Subject(app, typ string) string {
	return l.cfg.Prefix + "." + appToken(app) + "." + typ
}

func (l *EventLog) ctx(ctx context.Context) (context.Context, context.CancelFunc) {
	if _, ok := ctx.Deadline(); ok {
		return ctx, func() {}
	}
	return context.WithTimeout(ctx, l.cfg.Timeout)
}

// ensure creates (or updates to the configuration) app's stream once per
// EventLog.
func (l *EventLog) ensure(ctx context.Context, app string) error {
	l.mu.Lock()
	ok := l.streams[app]
	l.mu.Unlock()
	if ok {
		return nil
	}
	_, err := l.js.CreateOrUpdateStream(ctx, js.StreamConfig{
		Name:        l.StreamName(app),
		Description: "Parley events of app " + app,
		Subjects:    []string{l.cfg.Prefix + "." + appToken(app) + ".>"},
		Storage:     js.FileStorage,
		Retention:   js.LimitsPolicy,
		Discard:     js.DiscardOld,
		MaxAge:      l.cfg.MaxAge,
		Duplicates:  l.cfg.DuplicateWindow,
		Replicas:    l.cfg.Replicas,
	})
	if err != nil {
		return fmt.Errorf("stream for app %s: %w", app, err)
	}
	l.mu.Lock()
	l.streams[app] = true
	l.mu.Unlock()
	return nil
}

// stored is an event as a stream message holds it: the event without its
// offset (the stream sequence is the offset).
type stored struct {
	ID   string          `json:"id"`
	Type string          `json:"type"`
	Time int64           `json:"ts"`
	Data json.RawMessage `json:"data"`
}

// Append publishes evs in order, asynchronously, and waits for every
// acknowledgement (events.EventLog). A repeat of an id within
// DuplicateWindow is acknowledged as a duplicate and takes no offset.
// If a publish fails, those after it may have been stored: appending the
// batch again stores the missing ones after them, so order within a batch
// holds unless a publish fails.
func (l *EventLog) Append(ctx context.Context, evs []events.Event) error {
	const op = "jetstream.Append"
	if err := events.ValidateEvents(evs); err != nil {
		return err
	}
	ctx, cancel := l.ctx(ctx)
	defer cancel()
	futures := make([]js.PubAckFuture, 0, len(evs))
	for _, e := range evs {
		if err := l.ensure(ctx, e.App); err != nil {
			return unavailable(op, err)
		}
		data, err := json.Marshal(stored{ID: e.ID, Type: e.Type, Time: e.Time, Data: e.Data})
		if err != nil {
			return &parley.Error{Code: parley.EInvalid, Op: op, Message: "event data is not JSON", Err: err}
		}
		f, err := l.js.PublishMsgAsync(&nats.Msg{Subject: l.Subject(e.App, e.Type), Data: data}, js.WithMsgID(e.ID))
		if err != nil {
			return unavailable(op, err)
		}
		futures = append(futures, f)
	}
	var errs []error
	for _, f := range futures {
		select {
		case <-f.Ok():
		case err := <-f.Err():
			errs = append(errs, err)
		case <-ctx.Done():
			return unavailable(op, ctx.Err())
		}
	}
	if err := errors.Join(errs...); err != nil {
		return unavailable(op, err)
	}
	return nil
}

// Read replays app's events after offset after through an ordered
// consumer that starts at the next stream sequence (events.EventLog).
func (l *EventLog) Read(ctx context.Context, app string, after uint64, limit int) ([]events.Event, error) {
	const op = "jetstream.Read"
	ctx, cancel := l.ctx(ctx)
	defer cancel()
	out := []events.Event{}
	st, err := l.state(ctx, app)
	if err != nil || st.LastSeq <= after || st.Msgs == 0 {
		return out, unavailableOrNil(op, err)
	}
	start := max(after+1, st.FirstSeq)
	n := min(uint64(events.ReadLimit(limit)), st.LastSeq-start+1)
	cons, err := l.js.OrderedConsumer(ctx, l.StreamName(app), js.OrderedConsumerConfig{
		DeliverPolicy:     js.DeliverByStartSequencePolicy,
		OptStartSeq:       start,
		InactiveThreshold: 30 * time.Second,
	})
	if err != nil {
		return nil, unavailable(op, err)
	}
	wait := time.Second
	if dl, ok := ctx.Deadline(); ok {
		wait = max(min(time.Until(dl), 5*time.Second), time.Millisecond)
	}
	batch, err := cons.Fetch(int(n), js.FetchMaxWait(wait))
	if err != nil {
		return nil, unavailable(op, err)
	}
	for m := range batch.Messages() {
		md, err := m.Metadata()
		if err != nil {
			return nil, unavailable(op, err)
		}
		var s stored
		if err := json.Unmarshal(m.Data(), &s); err != nil {
			return nil, &parley.Error{Code: parley.EInternal, Op: op, Err: fmt.Errorf("message %d of %s: %w", md.Sequence.Stream, app, err)}
		}
		out = append(out, events.Event{ID: s.ID, Offset: md.Sequence.Stream, App: app, Type: s.Type, Time: s.Time, Data: s.Data})
	}
	if err := batch.Error(); err != nil && !errors.Is(err, nats.ErrTimeout) {
		return nil, unavailable(op, err)
	}
	return out, nil
}

// Last returns the stream's last sequence (events.EventLog).
func (l *EventLog) Last(ctx context.Context, app string) (uint64, error) {
	ctx, cancel := l.ctx(ctx)
	defer cancel()
	st, err := l.state(ctx, app)
	if err != nil {
		return 0, unavailable("jetstream.Last", err)
	}
	return st.LastSeq, nil
}

// state returns app's stream's state; a stream not created yet is empty.
func (l *EventLog) state(ctx context.Context, app string) (js.StreamState, error) {
	s, err := l.js.Stream(ctx, l.StreamName(app))
	if errors.Is(err, js.ErrStreamNotFound) {
		return js.StreamState{}, nil
	}
	if err != nil {
		return js.StreamState{}, err
	}
	return s.CachedInfo().State, nil
}

// unavailable wraps a failure to reach JetStream: the caller retries.
func unavailable(op string, err error) error {
	return &parley.Error{Code: parley.EUnavailable, Op: op, Message: "event log unavailable", Err: err}
}

func unavailableOrNil(op string, err error) error {
	if err == nil {
		return nil
	}
	return unavailable(op, err)
}

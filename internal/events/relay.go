package events

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/parley-im/parley"
)

// RelayConfig tunes a Relay. Zero values take the defaults in
// parentheses.
type RelayConfig struct {
	// Interval is how often an idle relay looks at the outbox (100ms):
	// the delay between a commit and its event in the log, at worst.
	Interval time.Duration
	// Rows is the most outbox rows one step reads (1024), and MaxEvents
	// the most events it appends at once (2048; a row is never split,
	// so one large row may exceed it).
	Rows      int
	MaxEvents int
	// PresenceQueue bounds presence events waiting to be appended
	// (10,000); more are dropped and counted.
	PresenceQueue int
	// Timeout bounds one step's store and log calls (30s). A step that
	// fails is retried with half as many events (down to one outbox
	// row), so a log or store too slow for a large step still makes
	// progress.
	Timeout time.Duration
	Logger  *slog.Logger
	Metrics *Metrics
	// Signal, if set, is notified of every app whose log grew.
	Signal *Signal
	// Retention, when positive, is how long the log keeps events (0:
	// for ever). A draining relay (SetDraining) whose log is a Trimmer
	// deletes, every TrimEvery (1m) of Now, the events older than
	// Retention but each app's newest (Trimmer.TrimBefore): TrimBatch
	// (10,000) per call, one call per pass of its loop, between outbox
	// steps, until a call deletes fewer. A log that is no Trimmer keeps
	// its own retention (JetStream's MaxAge).
	Retention time.Duration
	TrimEvery time.Duration
	TrimBatch int
	// Now is the relay's clock (time.Now), which times the trims and
	// sets their cutoff.
	Now func() time.Time
}

func (c *RelayConfig) defaults() {
	if c.Interval <= 0 {
		c.Interval = 100 * time.Millisecond
	}
	if c.Rows <= 0 {
		c.Rows = 1024
	}
	if c.MaxEvents <= 0 {
		c.MaxEvents = 2048
	}
	if c.PresenceQueue <= 0 {
		c.PresenceQueue = 10_000
	}
	if c.Timeout <= 0 {
		c.Timeout = 30 * time.Second
	}
	if c.Logger == nil {
		c.Logger = slog.Default()
	}
	if c.TrimEvery <= 0 {
		c.TrimEvery = time.Minute
	}
	if c.TrimBatch <= 0 {
		c.TrimBatch = 10_000
	}
	if c.Now == nil {
		c.Now = time.Now
	}
}

// Relay moves the outbox into the event log: it reads outbox rows in
// commit order, expands each into its events (loading the messages it
// names), appends them to the log, and only then deletes the rows. A
// crash between the append and the delete makes the next relay append the
// same events again, which the log skips by id; so every committed change
// reaches the log once (within a JetStream log's duplicate window, see
// EventLog.Append). A log in the outbox's database (OutboxLog) does the
// append and the delete in one transaction. The relay also appends
// presence events handed to PublishPresence, at most once.
//
// One relay should drain an outbox at a time (SetDraining): two would
// append the same rows concurrently, which ids deduplicate, at twice the
// cost. A Relay owns one goroutine, started by Start and stopped by
// Close; Step runs one pass without it.
type Relay struct {
	outbox Outbox
	log    EventLog
	cfg    RelayConfig
	// ranges is outbox's RangeReader, if it has one; olog is log's
	// OutboxLog, if it has one and keeps outbox's rows.
	ranges RangeReader
	olog   OutboxLog
	// trimmer is log's Trimmer when Retention is set, else nil. The
	// trim's state, used by run's goroutine only: the cutoff of the trim
	// in progress (0: none), what it deleted so far, and when the next
	// one is due.
	trimmer    Trimmer
	trimBefore int64
	trimmed    int
	nextTrim   time.Time

	mu       sync.Mutex // guards presence and dropped; a leaf
	presence []Event
	dropped  int

	ctx     context.Context // cancelled by Close: ends the step in progress
	cancel  context.CancelFunc
	started atomic.Bool
	// passive: this relay appends its node's presence events only and
	// leaves the outbox to another node's relay (SetDraining).
	passive atomic.Bool
	wake    chan struct{}
	stop    chan struct{}
	done    chan struct{}
	once    sync.Once
}

// NewRelay returns a relay from outbox to log; it does nothing until
// Start (or Step).
func NewRelay(outbox Outbox, log EventLog, cfg RelayConfig) *Relay {
	cfg.defaults()
	ctx, cancel := context.WithCancel(context.Background())
	r := &Relay{outbox: outbox, log: log, cfg: cfg, ctx: ctx, cancel: cancel,
		wake: make(chan struct{}, 1), stop: make(chan struct{}), done: make(chan struct{})}
	r.ranges, _ = outbox.(RangeReader)
	if ol, ok := log.(OutboxLog); ok && ol.HasOutbox(outbox) {
		r.olog = ol
	}
	if cfg.Retention > 0 {
		r.trimmer, _ = log.(Trimmer)
	}
	return r
}

// Start starts the relay's goroutine. Call it at most once.
func (r *Relay) Start() {
	r.started.Store(true)
	go r.run()
}

// Close stops the goroutine Start started and waits for it; the step in
// progress, if any, is cancelled. Rows left in the outbox are relayed by
// the next relay, and queued presence events are dropped. Close without
// Start returns at once.
func (r *Relay) Close() {
	r.once.Do(func() {
		close(r.stop)
		r.cancel()
	})
	if r.started.Load() {
		<-r.done
	}
}

// SetDraining says whether this relay drains the outbox (the default) or
// only appends its node's presence events. Several relays on one outbox
// are safe but each does all the work, and on a shared database they
// contend for the log's counter; in a cluster one node drains at a time
// (the one holding the relay lease, see internal/singleton).
func (r *Relay) SetDraining(on bool) {
	r.passive.Store(!on)
	if on {
		r.Kick()
	}
}

// Kick makes an idle relay look at the outbox now rather than at its
// next interval.
func (r *Relay) Kick() {
	select {
	case r.wake <- struct{}{}:
	default:
	}
}

func (r *Relay) run() {
	defer close(r.done)
	t := time.NewTimer(0)
	defer t.Stop()
	backoff := r.cfg.Interval
	size := r.cfg.MaxEvents // events per step: halved after a failure, doubled back after a success
	for {
		select {
		case <-r.stop:
			return
		case <-t.C:
		case <-r.wake:
		}
		ctx, cancel := context.WithTimeout(r.ctx, r.cfg.Timeout)
		rows := r.cfg.Rows
		if size < r.cfg.MaxEvents {
			rows = max(1, rows*size/r.cfg.MaxEvents)
		}
		n, full, err := r.step(ctx, rows, size)
		cancel()
		next := r.cfg.Interval
		switch {
		case r.ctx.Err() != nil:
			return // closed mid-step
		case err != nil:
			r.cfg.Logger.Warn("event relay step failed; retrying", "err", err, "retry_in", backoff, "events", size)
			r.cfg.Metrics.relayError()
			next, backoff, size = backoff, min(2*backoff, 5*time.Second), max(1, size/2)
		case full:
			// A full step: more is waiting; go on at once.
			next, backoff, size = 0, r.cfg.Interval, min(2*size, r.cfg.MaxEvents)
		case n > 0:
			// The outbox is drained. Waiting the interval lets the next
			// step take what the store commits meanwhile in one append: a
			// step per commit would double the store's write
			// transactions under load (measured on SQLite).
			backoff, size = r.cfg.Interval, min(2*size, r.cfg.MaxEvents)
		default:
			backoff = r.cfg.Interval
		}
		if r.trimmer != nil && !r.passive.Load() {
			r.trim()
			if r.ctx.Err() != nil {
				return
			}
		}
		if !t.Stop() {
			select {
			case <-t.C:
			default:
			}
		}
		t.Reset(next)
	}
}

// trim makes one TrimBefore call when a trim is due or in progress: a
// trim starts every TrimEvery, with the cutoff Retention before Now, and
// ends with the call that deletes fewer than TrimBatch. One call per pass
// keeps the log's (the store's) writer free for the outbox steps and the
// writes in between. A failure is logged and ends the trim; the next is
// due TrimEvery later.
func (r *Relay) trim() {
	now := r.cfg.Now()
	if r.trimBefore == 0 {
		if now.Before(r.nextTrim) {
			return
		}
		r.trimBefore, r.trimmed, r.nextTrim = now.Add(-r.cfg.Retention).UnixMilli(), 0, now.Add(r.cfg.TrimEvery)
	}
	ctx, cancel := context.WithTimeout(r.ctx, r.cfg.Timeout)
	n, err := r.trimmer.TrimBefore(ctx, r.trimBefore, r.cfg.TrimBatch)
	cancel()
	switch {
	case r.ctx.Err() != nil:
		return // closed mid-call
	case err != nil:
		r.cfg.Logger.Warn("event log trim failed; trying again later", "err", err, "deleted", r.trimmed,
			"retry_in", r.cfg.TrimEvery)
		r.trimBefore = 0
		return
	}
	r.trimmed += n
	if n < r.cfg.TrimBatch {
		r.cfg.Logger.Debug("event log trimmed", "deleted", r.trimmed, "before", time.UnixMilli(r.trimBefore))
		r.trimBefore = 0
	}
}

// Step runs one pass: it appends the queued presence events, then relays
// the oldest outbox rows (up to Rows of them and about MaxEvents events)
// and deletes them. It returns how many outbox events it appended.
func (r *Relay) Step(ctx context.Context) (int, error) {
	n, _, err := r.step(ctx, r.cfg.Rows, r.cfg.MaxEvents)
	return n, err
}

// step relays up to maxRows rows and about maxEvents events; full
// reports that it stopped at one of the two, so more may be waiting.
func (r *Relay) step(ctx context.Context, maxRows, maxEvents int) (n int, full bool, err error) {
	r.flushPresence(ctx)
	if r.passive.Load() {
		return 0, false, nil
	}
	rows, err := r.outbox.OutboxRows(ctx, maxRows)
	if err != nil || len(rows) == 0 {
		return 0, false, err
	}
	full = len(rows) == maxRows
	// The rows of this step: as many as fit in maxEvents, at least one.
	total := 0
	for i, row := range rows {
		k := rowEvents(row)
		if i > 0 && total+k > maxEvents {
			rows, full = rows[:i], true
			break
		}
		total += k
	}
	evs, err := r.expand(ctx, rows, maxEvents)
	if err != nil {
		return 0, false, err
	}
	ids := make([]int64, len(rows))
	for i, row := range rows {
		ids[i] = row.ID
	}
	if r.olog != nil {
		// The log keeps the outbox: one transaction appends the events
		// and deletes their rows.
		if err := r.olog.AppendFromOutbox(ctx, evs, ids); err != nil {
			return 0, false, err
		}
		r.appended(evs)
		return len(evs), full, nil
	}
	if err := r.log.Append(ctx, evs); err != nil {
		return 0, false, err
	}
	r.appended(evs)
	// A crash here leaves the rows; the next step appends their events
	// again and the log skips them by id.
	if err := r.outbox.DeleteOutbox(ctx, ids); err != nil {
		return 0, false, err
	}
	return len(evs), full, nil
}

// rowEvents is how many events a row expands to.
func rowEvents(row OutboxRow) int {
	n := 0
	if row.Read != nil {
		n++
	}
	for _, m := range row.Msgs {
		if m.Last >= m.First {
			n += int(m.Last - m.First + 1)
		}
	}
	return n
}

// expand returns the events of rows: each row's messages, range by range
// in its order, then its read. It reads the messages limit at a time
// when the outbox is a RangeReader, else range by range.
func (r *Relay) expand(ctx context.Context, rows []OutboxRow, limit int) ([]Event, error) {
	var rs []MsgRange
	for _, row := range rows {
		rs = append(rs, row.Msgs...)
	}
	var ms []parley.Message
	var ends []int // ms[ends[i-1]:ends[i]] are the messages of rs[i]
	var err error
	if r.ranges != nil {
		ms, ends, err = r.readRanges(ctx, rs, limit)
	} else {
		ends = make([]int, len(rs))
		for i, mr := range rs {
			if ms, err = r.readRange(ctx, mr, ms); err != nil {
				break
			}
			ends[i] = len(ms)
		}
	}
	if err != nil {
		return nil, err
	}
	evs := make([]Event, 0, len(ms)+len(rows))
	k, start := 0, 0 // the next range and its first message
	for _, row := range rows {
		for range row.Msgs {
			for i := start; i < ends[k]; i++ {
				e, err := MessageEvent(&ms[i])
				if err != nil {
					return nil, err
				}
				evs = append(evs, e)
			}
			k, start = k+1, ends[k]
		}
		if row.Read != nil {
			e, err := ReadEvent(*row.Read, row.Time)
			if err != nil {
				return nil, err
			}
			evs = append(evs, e)
		}
	}
	return evs, nil
}

// readRange appends the messages of mr to ms, with a Messages call per
// MaxRead of them.
func (r *Relay) readRange(ctx context.Context, mr MsgRange, ms []parley.Message) ([]parley.Message, error) {
	after := mr.First - 1
	for after < mr.Last {
		got, err := r.outbox.Messages(ctx, mr.App, mr.Conv, parley.MessageRange{After: after, Before: mr.Last + 1, Limit: MaxRead})
		if err != nil {
			return nil, err
		}
		if len(got) == 0 {
			r.missing(mr, after)
			break
		}
		for i := range got {
			got[i].AppID = mr.App
		}
		ms = append(ms, got...)
		after = got[len(got)-1].Seq
	}
	return ms, nil
}

// readRanges returns the messages of rs and where each range's messages
// end in them, read with MessagesInRanges calls of up to limit messages,
// as few as limit allows: each call names the ranges, from where the
// last one stopped, that hold about limit messages (so that its query,
// which sorts what it finds, never finds much more than it returns).
func (r *Relay) readRanges(ctx context.Context, rs []MsgRange, limit int) ([]parley.Message, []int, error) {
	limit = max(limit, 1)
	ends := make([]int, len(rs))
	var ms []parley.Message
	cur := 0         // the range being read
	var after uint64 // the last seq read of rs[cur]
	// begin starts rs[cur]; as in readRange, First-1 wraps for a First of
	// 0, which makes the range empty.
	begin := func() { after = rs[cur].First - 1 }
	// finish ends rs[cur]: the store has no more of its messages.
	finish := func() {
		if after < rs[cur].Last {
			r.missing(rs[cur], after)
		}
		ends[cur] = len(ms)
		if cur++; cur < len(rs) {
			begin()
		}
	}
	if len(rs) > 0 {
		begin()
	}
	var q []MsgRange
	for cur < len(rs) {
		q = q[:0]
		end, want := cur, uint64(0)
		for ; end < len(rs) && want < uint64(limit); end++ {
			mr := rs[end]
			if end == cur {
				mr.First = after + 1
			}
			if mr.First == 0 || mr.Last < mr.First {
				continue // nothing (more) to read
			}
			q = append(q, mr)
			want += min(mr.Last-mr.First, uint64(limit)) + 1
		}
		var got []parley.Message
		if len(q) > 0 {
			var err error
			if got, err = r.ranges.MessagesInRanges(ctx, q, limit); err != nil {
				return nil, nil, err
			}
		}
		for _, m := range got {
			for cur < end && (m.AppID != rs[cur].App || m.ConvID != rs[cur].Conv || m.Seq <= after || m.Seq > rs[cur].Last) {
				finish()
			}
			if cur == end {
				return nil, nil, fmt.Errorf("event relay: the store returned message %d of %s/%s out of the order of the ranges asked",
					m.Seq, m.AppID, m.ConvID)
			}
			ms = append(ms, m)
			after = m.Seq
		}
		if len(got) < limit {
			// All of q was returned: the window's ranges are done.
			for cur < end {
				finish()
			}
		}
	}
	return ms, ends, nil
}

// missing logs that the store does not have mr's messages after seq
// after: the relay publishes what there is rather than stop the stream
// for ever.
func (r *Relay) missing(mr MsgRange, after uint64) {
	r.cfg.Logger.Error("outbox names messages the store does not have", "app_id", mr.App, "conv_id", mr.Conv,
		"first", after+1, "last", mr.Last)
}

// appended counts evs and wakes the readers of their apps.
func (r *Relay) appended(evs []Event) {
	var last string
	for _, e := range evs {
		r.cfg.Metrics.published(e.Type)
		if e.App != last && r.cfg.Signal != nil {
			r.cfg.Signal.Notify(e.App)
		}
		last = e.App
	}
}

// PublishPresence queues a presence change of app's user p.User for the
// log and returns at once: presence events are at most once. One is lost
// when the queue is full (PresenceQueue), when the append fails, or when
// the node stops first; nothing about presence is stored to publish it
// from later. It is safe to call from any goroutine.
func (r *Relay) PublishPresence(app string, p parley.Presence, at time.Time) {
	data, err := json.Marshal(p)
	if err != nil {
		return // a Presence always encodes
	}
	e := Event{ID: presenceEventID(), App: app, Type: TypePresence, Time: at.UnixMilli(), Data: data}
	r.mu.Lock()
	if len(r.presence) >= r.cfg.PresenceQueue {
		r.dropped++
		r.mu.Unlock()
		return
	}
	r.presence = append(r.presence, e)
	r.mu.Unlock()
	r.Kick()
}

// flushPresence appends the queued presence events, once.
func (r *Relay) flushPresence(ctx context.Context) {
	r.mu.Lock()
	evs, dropped := r.presence, r.dropped
	r.presence, r.dropped = nil, 0
	r.mu.Unlock()
	if dropped > 0 {
		r.cfg.Metrics.presenceDropped(dropped)
		r.cfg.Logger.Warn("presence events dropped: queue full", "dropped", dropped)
	}
	if len(evs) == 0 {
		return
	}
	if err := r.log.Append(ctx, evs); err != nil {
		r.cfg.Metrics.presenceDropped(len(evs))
		r.cfg.Logger.Warn("presence events lost: append failed", "err", err, "dropped", len(evs))
		return
	}
	r.appended(evs)
}

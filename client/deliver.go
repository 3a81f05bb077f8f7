package client

import (
	"context"
	"errors"
	"math/rand/v2"
	"sync"
	"sync/atomic"
	"time"

	"github.com/parley-im/parley"
	"github.com/parley-im/parley/wire"
)

// requestTimeout bounds each request the deliverer makes (sync, pull).
const requestTimeout = 15 * time.Second

// deliverer turns pushes, sends and syncs into the ordered, gapless,
// duplicate-free stream OnMessage sees, and runs every callback. It
// acknowledges pushes in batches: once wire.AckBatch are pending, or
// about a conn's ackDelay (wire.AckDelay) after the first of them. All
// its fields but reads are owned by its goroutine (run).
type deliverer struct {
	c       *Client
	cursors map[string]uint64  // conversation -> highest seq delivered
	ver     uint64             // sync version everything up to is delivered
	dirty   bool               // a resync is owed
	acks    map[*conn][]uint64 // push numbers to acknowledge, per conn
	nacks   int                // push numbers in acks
	ackIn   time.Duration      // the shortest ackDelay of the conns in acks
	attempt int                // failed resyncs in a row
	reads   readCursors
	soc     socialState  // contacts and profiles caught up to (social.go)
	synced  atomic.Int64 // resyncs completed, for tests
}

func (d *deliverer) init(c *Client) {
	d.c = c
	d.cursors = make(map[string]uint64)
	d.acks = make(map[*conn][]uint64)
	d.reads.m = make(map[readKey]uint64)
}

// run handles events until the client ends; StateClosed is its last
// callback.
func (d *deliverer) run() {
	c := d.c
	defer c.wg.Done()
	var retry, ackDue <-chan time.Time
	var batch []event
	for {
		select {
		case <-c.ctx.Done():
			d.state(StateClosed, c.Err())
			return
		case <-c.q.wake:
		case <-retry:
			retry = nil
		case <-ackDue:
			ackDue = nil
			d.flushAcks()
		}
		batch = c.q.take(batch)
		for _, e := range batch {
			if c.ctx.Err() != nil {
				break
			}
			d.handle(e)
		}
		switch {
		case d.nacks >= wire.AckBatch || d.dirty:
			d.flushAcks()
			ackDue = nil
		case d.nacks > 0 && ackDue == nil:
			ackDue = time.After(d.ackIn/2 + rand.N(d.ackIn))
		}
		if !d.dirty || retry != nil || c.ctx.Err() != nil || c.current() == nil {
			continue
		}
		err := d.resync()
		var lost *lostError
		switch {
		case err == nil:
			d.dirty, d.attempt = false, 0
			d.synced.Add(1)
		case errors.As(err, &lost) || c.ctx.Err() != nil:
			// The next connection resyncs.
		default:
			c.log.Info("resync failed; retrying", "err", err)
			retry = time.After(c.backoff(d.attempt))
			d.attempt++
		}
	}
}

func (d *deliverer) handle(e event) {
	switch e.kind {
	case evConnected:
		d.state(StateConnected, nil)
		d.dirty = true
	case evLost:
		d.state(StateDisconnected, e.err)
	case evPush:
		if e.conn.tr.needsAcks() {
			if delay := time.Duration(e.conn.ackDelay.Load()); d.nacks == 0 || delay < d.ackIn {
				d.ackIn = delay
			}
			d.acks[e.conn] = append(d.acks[e.conn], e.n)
			d.nacks++
		}
		d.message(e.msg)
	case evSent:
		d.message(e.msg)
	case evRead:
		if d.reads.saw(e.read.Conv, e.read.User, e.read.Seq) && d.c.opts.OnRead != nil {
			d.c.opts.OnRead(e.read)
		}
	case evResync:
		d.dirty = true
	case evSocial:
		d.social(e.raw)
	}
}

// message delivers m if it is the next of its conversation, pulls the gap
// first if it is further ahead, and drops it if it was delivered already.
func (d *deliverer) message(m parley.Message) {
	cur := d.cursors[m.ConvID]
	switch {
	case m.Seq <= cur:
		return
	case m.Seq == cur+1:
		d.deliver(m)
		return
	}
	if err := d.catchUp(m.ConvID, m.Seq-1); err != nil {
		// Sync, the source of truth, will bring m in order.
		d.c.log.Info("gap pull failed; resync owed", "err", err, "conv_id", m.ConvID)
		d.dirty = true
		return
	}
	if cur := d.cursors[m.ConvID]; m.Seq > cur {
		if m.Seq != cur+1 {
			d.c.log.Error("server history has a gap", "conv_id", m.ConvID, "have", cur, "pushed", m.Seq)
		}
		d.deliver(m)
	}
}

// catchUp pulls conv after its cursor until the cursor reaches upto (or
// the history ends), delivering each message.
func (d *deliverer) catchUp(conv string, upto uint64) error {
	for d.cursors[conv] < upto {
		var res wire.PullRes
		if err := d.call(wire.In{Type: wire.TPull, Conv: conv, After: d.cursors[conv], Limit: wire.MaxLimit}, &res); err != nil {
			return err
		}
		for _, m := range res.Msgs {
			cur := d.cursors[conv]
			if m.Seq <= cur {
				continue
			}
			if m.Seq != cur+1 {
				d.c.log.Error("server history has a gap", "conv_id", conv, "have", cur, "pulled", m.Seq)
			}
			d.deliver(m)
		}
		if !res.More || len(res.Msgs) == 0 {
			if cur := d.cursors[conv]; cur < upto {
				d.c.log.Error("server history ends before its last seq", "conv_id", conv, "have", cur, "last_seq", upto)
			}
			return nil
		}
	}
	return nil
}

// resync brings every conversation changed since the last sync version up
// to date, then remembers the new version. A page's version is kept only
// once every conversation in it is delivered, so a failure repeats the
// page (cursors make the repeat cheap and duplicate-free).
func (d *deliverer) resync() error {
	for {
		var res wire.SyncRes
		if err := d.call(wire.In{Type: wire.TSync, Since: d.ver, Limit: wire.MaxLimit}, &res); err != nil {
			return err
		}
		for _, cs := range res.Convs {
			if cs.LastSeq > d.cursors[cs.ConvID] {
				if err := d.catchUp(cs.ConvID, cs.LastSeq); err != nil {
					return err
				}
			}
			d.readState(cs)
		}
		d.ver = max(d.ver, res.Ver)
		if !res.More || len(res.Convs) == 0 {
			if err := d.catchUpSocial(); err != nil {
				return err
			}
			return d.rewatch()
		}
	}
}

// maxTries bounds the tries of one deliverer request refused as
// rate_limited or unavailable; past it the resync is retried later.
const maxTries = 10

// call makes a request on the live connection, never waiting for a
// reconnection (which resyncs anyway), but waiting out rate limits: a
// resync makes one pull per changed conversation and so easily meets the
// server's per-session frame rate.
func (d *deliverer) call(in wire.In, out any) error {
	for attempt := 0; ; attempt++ {
		ctx, cancel := context.WithTimeout(d.c.ctx, requestTimeout)
		err := d.c.callOnce(ctx, in, out)
		cancel()
		if err == nil || !retryable(err) || attempt+1 >= maxTries {
			return err
		}
		if !sleep(d.c.ctx, d.c.backoff(attempt)) {
			return err
		}
	}
}

// readState reports the read cursors of a synced conversation that moved
// while no push told us.
func (d *deliverer) readState(cs parley.ConvState) {
	report := func(user string, seq uint64) {
		if seq > 0 && d.reads.saw(cs.ConvID, user, seq) && d.c.opts.OnRead != nil {
			d.c.opts.OnRead(wire.ReadEvent{Conv: cs.ConvID, User: user, Seq: seq})
		}
	}
	report(d.c.user, cs.ReadSeq)
	if cs.Peer != "" {
		report(cs.Peer, cs.PeerReadSeq)
	}
}

// deliver advances m's conversation cursor and hands m to OnMessage.
func (d *deliverer) deliver(m parley.Message) {
	d.cursors[m.ConvID] = m.Seq
	// Sending moves the sender's read cursor to the message; that move
	// is implied by the message and not reported to OnRead. In a group
	// the server pushes only this user's own cursor (protocol §13.5), so
	// other members' cursors are not kept: a busy group of thousands
	// would otherwise cost a map entry per member who ever sent.
	if _, group := parley.GroupOf(m.ConvID); !group || m.Sender == d.c.user {
		d.reads.saw(m.ConvID, m.Sender, m.Seq)
	}
	if d.c.opts.OnMessage != nil && d.c.ctx.Err() == nil {
		d.c.opts.OnMessage(m)
	}
}

// flushAcks acknowledges the pushes handled so far, on the conns that
// carried them (push numbers mean nothing on another conn).
func (d *deliverer) flushAcks() {
	d.nacks = 0
	for cn, ns := range d.acks {
		delete(d.acks, cn)
		if cn.isDead() {
			continue
		}
		for len(ns) > 0 {
			chunk := ns[:min(len(ns), wire.MaxAcks)]
			ns = ns[len(chunk):]
			frame := wire.Ack(chunk)
			ctx, cancel := context.WithTimeout(cn.ctx, writeTimeout)
			err := cn.write(ctx, frame)
			cancel()
			if err != nil {
				break
			}
		}
	}
}

func (d *deliverer) state(s State, err error) {
	if d.c.opts.OnState != nil {
		d.c.opts.OnState(s, err)
	}
}

// readCursors remembers the highest read seq seen per conversation and
// user, so that OnRead reports each cursor only when it moves forward.
// Read (any goroutine) and the deliverer share it.
type readCursors struct {
	mu sync.Mutex
	m  map[readKey]uint64
}

type readKey struct{ conv, user string }

// saw records seq for (conv, user) and reports whether it moved the
// cursor forward.
func (r *readCursors) saw(conv, user string, seq uint64) bool {
	k := readKey{conv, user}
	r.mu.Lock()
	defer r.mu.Unlock()
	if seq <= r.m[k] {
		return false
	}
	r.m[k] = seq
	return true
}

package gateway

import (
	"bytes"
	"slices"
	"sync"
	"time"

	"github.com/parley-im/parley"
	"github.com/parley-im/parley/internal/chat"
)

// fanout writes deliveries to sessions on a fixed set of writer
// goroutines, so that writing a push to thousands of sessions (a group
// message, a broadcast) uses every core and never runs on the caller's
// goroutine: the dispatcher calls Deliver from the chat committer, which
// would otherwise commit nothing while it writes. A session always maps to
// the same writer, so what one session is sent keeps the order of the
// Deliver calls.
type fanout struct {
	qs   []chan []fanItem
	stop chan struct{}
	wg   sync.WaitGroup
	once sync.Once
}

// fanItem is one delivery to one session.
type fanItem struct {
	s *Session
	d *parley.Delivery
}

// fanQueue bounds the batches waiting for one writer. A full queue makes
// Deliver wait: writers never block on the network, so it is a short
// wait, and it slows the committer rather than dropping pushes.
const fanQueue = 1024

func (f *fanout) start(writers int, window time.Duration) {
	f.stop = make(chan struct{})
	f.qs = make([]chan []fanItem, writers)
	for i := range f.qs {
		q := make(chan []fanItem, fanQueue)
		f.qs[i] = q
		f.wg.Add(1)
		go func() {
			defer f.wg.Done()
			w := newFanWriter(window)
			// The timer fires when the oldest held push has waited a window.
			timer := time.NewTimer(time.Hour)
			timer.Stop()
			defer timer.Stop()
			var armed int64 // the deadline the timer is set for; 0: none
			for {
				if next := w.deadline(); next != armed {
					timer.Stop()
					if armed = next; next != 0 {
						timer.Reset(time.Duration(next - time.Now().UnixNano()))
					}
				}
				select {
				case items := <-q:
				more:
					for len(items) < fanMax {
						select {
						case next := <-q:
							items = append(items, next...)
						default:
							break more
						}
					}
					w.take(items, time.Now().UnixNano())
				case <-timer.C:
					armed = 0
					w.expire(time.Now().UnixNano())
				case <-f.stop:
					return
				}
			}
		}()
	}
}

// holdMinUsers is the fewest recipients on this node a group message
// needs for its pushes to be held: below it the writes a window saves are
// too few to be worth the delay (a group of 100 online at 20 messages/s
// makes 2,000 writes/s, ~2% of a core on the test machine).
const holdMinUsers = 100

// fanWriter is one writer goroutine's state. With a window, the pushes of
// a busy group are written to its members a few at a time: several messages
// in one write to each session instead of a write per message. Each
// write to a socket costs ~10 µs of kernel time on the test machine
// whatever it carries, and a group with thousands of members online
// makes thousands of them per message.
//
// The writer follows each group's pace (gap, the average time between
// its last few messages). A message of a group whose messages come at
// least a window apart is written at once, as without a window; so is
// every direct message, and every message of a group with fewer than
// holdMinUsers recipients on this node. Otherwise its sessions hold it,
// with whatever comes after it for them, so that each session's
// deliveries keep their order.
//
// A session is written every k-th message of the group, k being as many
// messages as, at the group's pace, span just under a window (perWrite:
// 3 at 20 messages/s and a 150 ms window). The group's members on the
// writer are split into k phases by their connection id, and each
// message writes one phase, in turn: the one whose members have held the
// k-1 messages before it. So each member gets one write per k messages,
// the oldest push in it having waited k-1 gaps (at 20 messages/s: its
// pushes wait 100, 50 and 0 ms), and each message makes a burst of writes
// to 1/k of the members rather than every k-th message making a burst to
// all of them: the last member of a burst waits a k-th as long. A phase
// is written a window after its first held push at the latest (a group
// that stops, or whose next messages are held up on their way).
type fanWriter struct {
	window int64                 // ns; 0 writes everything at once
	groups map[string]*groupHold // the pace of groups seen lately, by conversation id
	open   []*phase              // the phases holding pushes, oldest first
	due    []*phase              // take's scratch: the phases to write after a batch
	swept  int64                 // when groups was last rid of idle ones, unix ns
}

// groupHold is one group's pace as this writer sees it and its phases.
type groupHold struct {
	seq    uint64          // its last message
	gap    int64           // the time between its last paceOver messages, on average, ns
	times  [paceOver]int64 // when they came, a ring
	seen   int             // messages in times, at most paceOver
	next   int             // where the next one goes in times
	k      int             // perWrite at its last message; 1: written at once
	turn   uint64          // messages held since k was last set (0: its last message was not held); the phase due is turn % k
	phases []*phase        // as many as the largest k seen
}

// phase is the members of a group in one phase whose pushes are held.
type phase struct {
	since   int64      // when its first held push came; 0: none held
	members []*Session // the sessions holding its pushes (and what follows them)
}

func newFanWriter(window time.Duration) *fanWriter {
	return &fanWriter{window: int64(window), groups: map[string]*groupHold{}}
}

// take writes or holds a batch of deliveries taken from the queue.
func (w *fanWriter) take(items []fanItem, now int64) {
	if w.window == 0 {
		writeItems(items)
		return
	}
	var d *parley.Delivery
	var g *groupHold
	n := 0
	for _, it := range items {
		if it.d != d {
			d = it.d
			g = w.arrive(d, now)
		}
		s := it.s
		switch {
		case len(s.held) > 0:
			s.held = append(s.held, it.d)
		case g != nil:
			s.held = append(s.held, it.d)
			ph := g.phases[phaseOf(s, g.k)]
			if ph.since == 0 {
				ph.since = now
				w.open = append(w.open, ph)
			}
			ph.members = append(ph.members, s)
		default:
			items[n] = it
			n++
		}
	}
	writeItems(items[:n])
	for _, ph := range w.due {
		w.write(ph)
	}
	clear(w.due)
	w.due = w.due[:0]
	if now-w.swept > int64(time.Second) {
		w.sweep(now)
	}
}

// arrive notes a delivery coming to the writer. For a message of a group
// with holdMinUsers or more recipients on the node that is busy (k > 1),
// it returns the group, whose sessions are to hold the message, and puts
// the phase whose turn the message is on w.due. For any other delivery
// it returns nil; if that is a message of a group that is no longer
// busy, or whose k has just changed, every phase holding its pushes goes
// on w.due, so that its members get this message with them, and the
// turns start again from the next message.
func (w *fanWriter) arrive(d *parley.Delivery, now int64) *groupHold {
	if d.Kind != chat.DeliverMsg || len(d.Users) < holdMinUsers {
		return nil
	}
	conv, seq, ok := groupMsg(d.Payload)
	if !ok {
		return nil
	}
	g := w.groups[string(conv)]
	if g == nil {
		g = &groupHold{gap: w.window, k: 1}
		w.groups[string(conv)] = g
	}
	if seq == g.seq {
		// Another rendering of the same message (variants): as the first.
		if g.turn == 0 {
			return nil
		}
		return g
	}
	g.pace(now)
	g.seq = seq
	if k := w.perWrite(g); k != g.k || k <= 1 {
		// A quiet group is written at once, after what its members
		// hold. So is the message that changes k: the phases were cut
		// for the old k, and a member's turn under the new one could
		// come after the window.
		for _, ph := range g.phases {
			if ph.since != 0 && !slices.Contains(w.due, ph) {
				w.due = append(w.due, ph)
			}
		}
		g.k, g.turn = k, 0
		return nil
	}
	for len(g.phases) < g.k {
		g.phases = append(g.phases, &phase{})
	}
	g.turn++
	if ph := g.phases[g.turn%uint64(g.k)]; !slices.Contains(w.due, ph) {
		w.due = append(w.due, ph)
	}
	return g
}

// phaseOf is the phase of s in a group written every k messages: from
// its random connection id, so that it stays the same from one write to
// the next and no field is spent on it.
func phaseOf(s *Session, k int) int {
	h := uint32(2166136261) // FNV-1a
	for i := 0; i < len(s.connID); i++ {
		h = (h ^ uint32(s.connID[i])) * 16777619
	}
	return int(h % uint32(k))
}

// paceOver is how many of a group's last messages its pace is taken
// over: enough that messages committed together (a gap of 0, then a
// longer one) do not sway it, nor a message held up for 150 ms on its
// way (at 20 messages/s over 8 messages, 100 ms took the pace to 26/s).
const paceOver = 16

// pace notes a message of g arriving at now and updates g.gap.
func (g *groupHold) pace(now int64) {
	switch {
	case g.seen == paceOver:
		g.gap = (now - g.times[g.next]) / paceOver
	case g.seen > 0:
		g.gap = (now - g.times[0]) / int64(g.seen)
	}
	g.times[g.next] = now
	g.next = (g.next + 1) % paceOver
	g.seen = min(g.seen+1, paceOver)
}

// lastAt is when g's last message came, unix ns.
func (g *groupHold) lastAt() int64 {
	return g.times[(g.next+paceOver-1)%paceOver]
}

// perWrite is how many of g's messages a member is written at once:
// the fewest that span, at its pace, just under a window (15/16 of it).
// The first of them thus waits less than a window, and a member gets at
// most about one write per window however fast the group goes (at a
// 150 ms window: 3 messages up to 21.3 messages/s, 2 up to 14.2, 1 below
// 7.1). 1: g's messages are written at once.
//
// It goes up from g.k only when the pace is half a message past the
// step (from 2 to 3 above 17.8 messages/s, from 3 to 4 above 24.9): a
// group at 20 messages/s whose messages were held up for a moment and
// then came together is briefly past 21.3, and a fourth message a write
// would make a member's oldest push wait within a few ms of the window,
// so that the next delay passes it. It goes down at once: a slower pace
// would otherwise make pushes wait past the span. So a group between
// 14.2 and 17.8 messages/s gets 3 a write if it came down to that pace,
// 2 if it came up.
func (w *fanWriter) perWrite(g *groupHold) int {
	if g.gap <= 0 {
		// Its messages so far came together: they are written together
		// anyway (a batch is one write per session), and nothing says
		// more are coming.
		return 1
	}
	span := w.window - w.window/16
	k := int(min((span+g.gap-1)/g.gap, maxPerWrite))
	if k > g.k && g.k > 1 && 2*span <= int64(2*g.k+1)*g.gap {
		return g.k
	}
	return k
}

// maxPerWrite bounds perWrite, and so a group's phases: a group whose
// messages came microseconds apart (a backlog handed over one by one)
// would otherwise be cut into thousands of phases of a member or two.
// Past it (over ~107 messages/s at 150 ms), a member gets more than one
// write per window.
const maxPerWrite = 16

// write writes the deliveries held by the members of phase ph and
// empties it.
func (w *fanWriter) write(ph *phase) {
	if ph.since == 0 {
		return
	}
	for _, s := range ph.members {
		if len(s.held) == 0 {
			continue // written with another group's phase
		}
		writeSession(s, s.held)
		clear(s.held)
		s.held = s.held[:0]
	}
	clear(ph.members)
	ph.members, ph.since = ph.members[:0], 0
	w.open = slices.DeleteFunc(w.open, func(o *phase) bool { return o == ph })
}

// deadline is when the oldest phase holding pushes must be written, unix
// ns; 0 when none holds any.
func (w *fanWriter) deadline() int64 {
	if len(w.open) == 0 {
		return 0
	}
	return w.open[0].since + w.window
}

// expire writes every phase that has held pushes for a window or more.
func (w *fanWriter) expire(now int64) {
	for len(w.open) > 0 && now-w.open[0].since >= w.window {
		w.write(w.open[0])
	}
}

// sweep forgets the pace of groups quiet for a while.
func (w *fanWriter) sweep(now int64) {
	w.swept = now
	for conv, g := range w.groups {
		if now-g.lastAt() > int64(groupQuiet) && !slices.ContainsFunc(g.phases, func(ph *phase) bool { return ph.since != 0 }) {
			delete(w.groups, conv)
		}
	}
}

// groupQuiet is how long a group's pace is kept after its last message.
const groupQuiet = time.Minute

// groupMsg reads the conversation id and seq off a group message as
// json.Marshal writes a parley.Message (conv first, then seq):
// {"conv":"g:…","seq":N,…. ok is false for anything else.
func groupMsg(payload []byte) (conv []byte, seq uint64, ok bool) {
	if !bytes.HasPrefix(payload, groupPrefix) {
		return nil, 0, false
	}
	rest := payload[len(convPrefix):]
	end := bytes.IndexByte(rest, '"')
	if end < 0 || bytes.IndexByte(rest[:end], '\\') >= 0 {
		return nil, 0, false
	}
	conv, rest = rest[:end], rest[end+1:]
	if !bytes.HasPrefix(rest, seqPrefix) {
		return nil, 0, false
	}
	rest = rest[len(seqPrefix):]
	digits := 0
	for _, c := range rest {
		if c < '0' || c > '9' || digits == 19 {
			break
		}
		seq = seq*10 + uint64(c-'0')
		digits++
	}
	return conv, seq, digits > 0
}

var (
	convPrefix  = []byte(`{"conv":"`)
	groupPrefix = append(slices.Clip(convPrefix), parley.GroupConvID("")...)
	seqPrefix   = []byte(`,"seq":`)
)

// writer returns the index of the writer of a session: from its random
// connection id, so no field is spent on it.
func (f *fanout) writer(s *Session) int {
	var h uint32
	for i := 0; i < len(s.connID) && i < 4; i++ {
		h = h<<8 | uint32(s.connID[i])
	}
	return int(h % uint32(len(f.qs)))
}

// hand queues the per-writer batches; after close it drops them (the
// sessions are closing too).
func (f *fanout) hand(per [][]fanItem) {
	for i, items := range per {
		if len(items) == 0 {
			continue
		}
		select {
		case f.qs[i] <- items:
		case <-f.stop:
			return
		}
	}
}

// close stops the writers and waits for them; batches still queued are
// dropped.
func (f *fanout) close() {
	f.once.Do(func() { close(f.stop) })
	f.wg.Wait()
}

// multiWriter is implemented by transports that can send several frames
// in one write to the socket (nbiows): WriteMany is Write for each frame,
// in order, under one backlog check. It does not keep frames, nor any
// slice of them, once it returns: deliverPushes reuses their memory.
type multiWriter interface {
	WriteMany(frames [][]byte) error
}

// fanMax bounds the items one writer takes from its queue at once.
const fanMax = 8192

// writeItems delivers a writer's items. A session with several message pushes
// among them gets them in one write (writeSession): under load, when
// batches queue up, a writer needs fewer system calls per push the more
// it has to do. Each session's deliveries keep their order.
func writeItems(items []fanItem) {
	if len(items) == 1 {
		items[0].s.deliver(items[0].d)
		return
	}
	var order []*Session
	per := make(map[*Session][]*parley.Delivery, len(items))
	for _, it := range items {
		ds, ok := per[it.s]
		if !ok {
			order = append(order, it.s)
		}
		per[it.s] = append(ds, it.d)
	}
	for _, s := range order {
		writeSession(s, per[s])
	}
}

// writeSession delivers ds to s in order, each run of message pushes in
// one write (deliverPushes).
func writeSession(s *Session, ds []*parley.Delivery) {
	run := 0 // ds[run:i] are message pushes not yet written
	flush := func(i int) {
		switch i - run {
		case 0:
		case 1:
			s.deliver(ds[run])
		default:
			s.deliverPushes(ds[run:i])
		}
	}
	for i, d := range ds {
		if d.Kind == chat.DeliverMsg {
			continue
		}
		flush(i) // what came before it goes first
		s.deliver(d)
		run = i + 1
	}
	flush(len(ds))
}

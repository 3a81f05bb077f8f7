package gateway

import (
	"bytes"
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
			w := fanWriter{window: int64(window), held: map[*Session][]fanItem{}}
			var tick *time.Ticker
			if window > 0 {
				tick = time.NewTicker(window / holdTicks)
				defer tick.Stop()
			}
			for {
				var ticks <-chan time.Time
				if len(w.order) > 0 {
					ticks = tick.C
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
				case now := <-ticks:
					w.release(now.UnixNano())
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

// holdTicks is how many times per window a writer looks for held
// deliveries that are due.
const holdTicks = 5

// fanWriter is one writer goroutine's state. With a window, a group
// message for a session that was pushed a group message less than window
// ago is held, with whatever comes after it for that session, and written
// in one go once window has passed since that push. A member of a busy
// group then gets one write per window carrying every message of it
// instead of a write per message: each write to a socket costs ~10 µs of
// kernel time on the test machine whatever it carries, and a group of
// thousands online makes thousands of them per message. A session pushed
// to rarely is written at once, as without a window, and so is every
// direct message and every message of a group with fewer than
// holdMinUsers recipients on this node: only those group pushes start a
// hold.
type fanWriter struct {
	window int64                  // ns; 0 writes everything at once
	held   map[*Session][]fanItem // deliveries waiting for their session's window
	order  []*Session             // the sessions in held, in the order they were held
}

// take writes or holds a batch of deliveries taken from the queue.
func (w *fanWriter) take(items []fanItem, now int64) {
	if w.window == 0 {
		writeItems(items)
		return
	}
	n := 0
	for _, it := range items {
		s := it.s
		if h, ok := w.held[s]; ok {
			w.held[s] = append(h, it)
			continue
		}
		group := it.d.Kind == chat.DeliverMsg && len(it.d.Users) >= holdMinUsers && groupPush(it.d.Payload)
		// pushedAt == now: pushed earlier in this batch, written with it.
		if group && now-s.pushedAt < w.window && s.pushedAt != now {
			w.held[s] = []fanItem{it}
			w.order = append(w.order, s)
			continue
		}
		if group {
			s.pushedAt = now
		}
		items[n] = it
		n++
	}
	writeItems(items[:n])
}

// groupPush reports whether payload, a message as json.Marshal writes a
// parley.Message (its first field is "conv"), is a group message.
func groupPush(payload []byte) bool {
	return bytes.HasPrefix(payload, groupPrefix)
}

var groupPrefix = []byte(`{"conv":"` + parley.GroupConvID(""))

// release writes the held deliveries of every session whose window has
// passed.
func (w *fanWriter) release(now int64) {
	var due []fanItem
	keep := w.order[:0]
	for _, s := range w.order {
		if now-s.pushedAt < w.window {
			keep = append(keep, s)
			continue
		}
		due = append(due, w.held[s]...)
		delete(w.held, s)
		s.pushedAt = now
	}
	clear(w.order[len(keep):])
	w.order = keep
	writeItems(due)
}

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
// among them gets them in one write (deliverPushes): under load, when
// batches queue up, a writer needs fewer system calls per push the more
// it has to do. Each session's deliveries keep their order.
func writeItems(items []fanItem) {
	if len(items) == 1 {
		items[0].s.deliver(items[0].d)
		return
	}
	type run struct {
		s   *Session
		msg []*parley.Delivery
	}
	var order []*run
	runs := make(map[*Session]*run, len(items))
	flush := func(r *run) {
		switch len(r.msg) {
		case 0:
		case 1:
			r.s.deliver(r.msg[0])
		default:
			r.s.deliverPushes(r.msg)
		}
		r.msg = r.msg[:0]
	}
	for _, it := range items {
		r := runs[it.s]
		if r == nil {
			r = &run{s: it.s}
			runs[it.s] = r
			order = append(order, r)
		}
		if it.d.Kind == chat.DeliverMsg {
			r.msg = append(r.msg, it.d)
			continue
		}
		flush(r) // what came before it goes first
		it.s.deliver(it.d)
	}
	for _, r := range order {
		flush(r)
	}
}

package gateway

import (
	"sync"

	"github.com/parley-im/parley"
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

func (f *fanout) start(writers int) {
	f.stop = make(chan struct{})
	f.qs = make([]chan []fanItem, writers)
	for i := range f.qs {
		q := make(chan []fanItem, fanQueue)
		f.qs[i] = q
		f.wg.Add(1)
		go func() {
			defer f.wg.Done()
			for {
				select {
				case items := <-q:
					for _, it := range items {
						it.s.deliver(it.d)
					}
				case <-f.stop:
					return
				}
			}
		}()
	}
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

package client

import (
	"sync"

	"github.com/parley-im/parley"
	"github.com/parley-im/parley/wire"
)

type eventKind int

const (
	evConnected eventKind = iota + 1 // conn is up: report it, then resync
	evLost                           // the connection ended; err says why
	evPush                           // a msg push, numbered n on conn
	evSent                           // a message this client sent
	evRead                           // a read push
	evResync                         // the server asked for a resync
	evSocial                         // a presence, profile, contacts, typing, conv or consult push (raw; social.go)
)

// event is one thing for the delivery goroutine to handle.
type event struct {
	kind eventKind
	conn *conn
	n    uint64
	msg  parley.Message
	read wire.ReadEvent
	err  error
	raw  []byte
}

// queue hands events from the connection goroutines to the delivery
// goroutine. It is unbounded so that a reader never blocks on delivery
// (delivery itself waits on answers that readers bring); the server bounds
// it in practice, closing a session whose pushes go unacknowledged.
type queue struct {
	mu    sync.Mutex
	items []event
	wake  chan struct{} // capacity 1: "there are items"
}

// maxSpare bounds the storage a queue keeps between bursts.
const maxSpare = 64

func newQueue() *queue { return &queue{wake: make(chan struct{}, 1)} }

func (q *queue) push(e event) {
	q.mu.Lock()
	q.items = append(q.items, e)
	q.mu.Unlock()
	select {
	case q.wake <- struct{}{}:
	default:
	}
}

// take removes and returns every queued event. spare, a slice an
// earlier take returned and whose events have been handled, becomes the
// queue's storage, so that a busy queue does not grow a new slice for
// every batch; take clears it first so that it holds on to nothing, and
// drops it if a burst made it large.
func (q *queue) take(spare []event) []event {
	if cap(spare) > maxSpare {
		spare = nil
	}
	clear(spare)
	q.mu.Lock()
	defer q.mu.Unlock()
	items := q.items
	q.items = spare[:0]
	return items
}

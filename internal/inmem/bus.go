package inmem

import (
	"context"
	"slices"
	"sync"

	"github.com/parley-im/parley"
)

var _ parley.Bus = (*Bus)(nil)

// DefaultQueueLen is the number of batches a node's queue holds when
// NewBus is given no other bound.
const DefaultQueueLen = 1024

// Bus is an in-process parley.Bus. Each listening node has a queue of at
// most queueLen batches and one goroutine that drains it in order.
//
// Send never blocks: when a node's queue is full, because its handler does
// not keep up, Send drops the batch and returns EUnavailable at once. A
// push is an optimisation (clients resync from the store), so losing one
// is cheaper than stalling every sender behind one slow node, and it is
// what a network bus does to a slow consumer too.
//
// The zero value is not usable; call NewBus.
type Bus struct {
	queueLen int
	// wg counts the listeners' goroutines, so Close can wait for them.
	wg sync.WaitGroup

	// mu guards closed and nodes. Send holds it for reading while it
	// queues a batch (never blocking), so that once a listener is removed
	// from nodes under the write lock no batch can enter its queue.
	mu     sync.RWMutex
	closed bool
	nodes  map[string]*listener
}

type listener struct {
	queue  chan []parley.Delivery
	done   chan struct{} // closed once, by stop or Close
	exited chan struct{} // closed when the goroutine has returned
	once   sync.Once
}

func (l *listener) signal() { l.once.Do(func() { close(l.done) }) }

// NewBus returns a bus whose nodes queue at most queueLen batches;
// queueLen <= 0 means DefaultQueueLen. Call Close to stop it.
func NewBus(queueLen int) *Bus {
	if queueLen <= 0 {
		queueLen = DefaultQueueLen
	}
	return &Bus{queueLen: queueLen, nodes: make(map[string]*listener)}
}

// Send queues batch for node and returns without waiting for the handler.
// It returns EUnavailable if node is not listening, if its queue is full,
// or if the bus is closed. ctx is not used: Send does not block.
//
// The bus keeps its own copy of the batch slice, so the caller may reuse
// it; the Users, Conns and Payload of each Delivery are shared with the
// handler and must not be modified after Send.
func (b *Bus) Send(_ context.Context, node string, batch []parley.Delivery) error {
	const op = "inmem.Bus.Send"
	b.mu.RLock()
	defer b.mu.RUnlock()
	if b.closed {
		return &parley.Error{Code: parley.EUnavailable, Op: op, Message: "bus closed"}
	}
	l := b.nodes[node]
	if l == nil {
		return &parley.Error{Code: parley.EUnavailable, Op: op, Message: "node " + node + " is not listening"}
	}
	select {
	case l.queue <- slices.Clone(batch):
		return nil
	default:
		return &parley.Error{Code: parley.EUnavailable, Op: op, Message: "node " + node + " is not keeping up: its queue is full"}
	}
}

// Listen starts the goroutine that calls h with each batch sent to node,
// one call at a time, in the order the batches were queued. It returns
// EConflict if node is already listening, EInvalid if node is empty or h
// is nil, and EUnavailable if the bus is closed.
//
// stop removes the node, so that Sends fail with EUnavailable, drops the
// batches still queued, and waits for a running h to return; after it
// returns h is not called again. stop may be called more than once and
// concurrently with anything, except from within h, where it would wait
// for itself.
func (b *Bus) Listen(node string, h func([]parley.Delivery)) (stop func(), err error) {
	const op = "inmem.Bus.Listen"
	if node == "" || h == nil {
		return nil, &parley.Error{Code: parley.EInvalid, Op: op, Message: "a node id and a handler are required"}
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.closed {
		return nil, &parley.Error{Code: parley.EUnavailable, Op: op, Message: "bus closed"}
	}
	if b.nodes[node] != nil {
		return nil, &parley.Error{Code: parley.EConflict, Op: op, Message: "node " + node + " is already listening"}
	}
	l := &listener{
		queue:  make(chan []parley.Delivery, b.queueLen),
		done:   make(chan struct{}),
		exited: make(chan struct{}),
	}
	b.nodes[node] = l
	b.wg.Add(1)
	go func() {
		defer b.wg.Done()
		defer close(l.exited)
		l.run(h)
	}()
	return func() { b.stop(node, l) }, nil
}

// run calls h with each queued batch until done is closed.
func (l *listener) run(h func([]parley.Delivery)) {
	for {
		select {
		case <-l.done:
			return
		case batch := <-l.queue:
			// select picks at random among ready cases: check done
			// again so that no batch is handled after stop.
			select {
			case <-l.done:
				return
			default:
			}
			h(batch)
		}
	}
}

func (b *Bus) stop(node string, l *listener) {
	b.mu.Lock()
	// The node may be listening again with a new listener; leave it be.
	if b.nodes[node] == l {
		delete(b.nodes, node)
	}
	b.mu.Unlock()
	l.signal()
	<-l.exited
}

// Close stops every node, as their stop functions would, waits for their
// goroutines to exit, and makes later Sends and Listens fail with
// EUnavailable. It may be called more than once; it always returns nil.
// Like stop, it must not be called from within a handler.
func (b *Bus) Close() error {
	b.mu.Lock()
	b.closed = true
	nodes := b.nodes
	b.nodes = nil
	b.mu.Unlock()
	for _, l := range nodes {
		l.signal()
	}
	b.wg.Wait()
	return nil
}

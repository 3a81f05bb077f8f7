package natsbus

import (
	"errors"
	"fmt"
	"sync"

	"github.com/nats-io/nats.go"

	"github.com/parley-im/parley"
)

// More answers to frameBatchAck (with ackOK and ackFull).
const (
	ackGone byte = 'g' // the listener has stopped
	ackBad  byte = 'b' // the batch did not decode
)

// listener is one node listening through a Bus.
type listener struct {
	queue chan []parley.Delivery
	// done is closed by stop; exited is closed when run has returned.
	done     chan struct{}
	exited   chan struct{}
	stopOnce sync.Once
	sub      *nats.Subscription // set before the listener is shared
	desc     []byte             // answers probes: who holds the node
	log      func(err error)
	m        *Metrics
}

// Listen subscribes to node's subject and starts the goroutine that calls
// h with each batch sent to node, one call at a time, in arrival order.
//
// Returns EInvalid if node is empty or h is nil, EUnavailable if the Bus
// is closed or NATS is unreachable, and EConflict if node already
// listens: exactly when it listens through this Bus; and when it listens
// through any other Bus on the same NATS servers (another process, or
// another connection in this one) if that listener answers a probe
// within Options.Timeout. The probe is sent before subscribing, so two
// Listens to one node racing in two processes can both succeed; node
// ids must be unique per process, as the registry also requires.
//
// stop unsubscribes (and waits, at most Options.Timeout, until the server
// has it), drops the batches still queued and waits for a running h to
// return; after it returns h is not called again. It may be called more
// than once and concurrently with anything except from within h.
func (b *Bus) Listen(node string, h func([]parley.Delivery)) (stop func(), err error) {
	const op = "natsbus.Bus.Listen"
	if node == "" || h == nil {
		return nil, &parley.Error{Code: parley.EInvalid, Op: op, Message: "a node id and a handler are required"}
	}
	if err := b.usable(op); err != nil {
		return nil, err
	}
	if b.listening(node) {
		return nil, conflict(op, node, "through this bus")
	}
	subj := b.subject(node)
	if err := b.probe(op, node, subj); err != nil {
		return nil, err
	}
	l := &listener{
		queue:  make(chan []parley.Delivery, b.queueLen),
		done:   make(chan struct{}),
		exited: make(chan struct{}),
		desc:   fmt.Appendf(nil, "connection %q", b.nc.Opts.Name),
		m:      b.m,
		log: func(err error) {
			b.log.Warn("natsbus: dropped a batch that did not decode", "node_id", node, "err", err)
		},
	}
	if id, err := b.nc.GetClientID(); err == nil {
		l.desc = fmt.Appendf(l.desc, " (client id %d)", id)
	}

	b.mu.Lock()
	if b.closed.Load() {
		b.mu.Unlock()
		return nil, unavailable(op, "bus closed", nil)
	}
	if b.listeners[node] != nil {
		b.mu.Unlock()
		return nil, conflict(op, node, "through this bus")
	}
	sub, err := b.nc.Subscribe(subj, l.receive)
	if err != nil {
		b.mu.Unlock()
		return nil, unavailable(op, "cannot subscribe", err)
	}
	l.sub = sub
	b.listeners[node] = l
	b.wg.Add(1)
	go func() {
		defer b.wg.Done()
		defer close(l.exited)
		l.run(h)
	}()
	b.mu.Unlock()

	stop = func() { b.stop(node, l) }
	// Wait until the server has the subscription, so that a Send after
	// Listen returns finds the node.
	if err := b.nc.FlushTimeout(b.timeout); err != nil {
		stop()
		return nil, unavailable(op, "NATS did not confirm the subscription", err)
	}
	return stop, nil
}

func (b *Bus) listening(node string) bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.listeners[node] != nil
}

func conflict(op, node, where string) error {
	return &parley.Error{Code: parley.EConflict, Op: op, Message: "node " + node + " is already listening " + where}
}

// probe asks whether anybody listens on subj.
func (b *Bus) probe(op, node, subj string) error {
	msg, err := b.nc.Request(subj, []byte{frameVersion, frameProbe}, b.timeout)
	switch {
	case errors.Is(err, nats.ErrNoResponders):
		return nil
	case errors.Is(err, nats.ErrTimeout):
		// The server knows of a subscriber that did not answer: one
		// that is stopping, or a stuck process.
		return conflict(op, node, fmt.Sprintf("(a subscriber to %s did not answer within %v)", subj, b.timeout))
	case err != nil:
		return unavailable(op, "cannot probe node "+node, err)
	}
	return conflict(op, node, "on "+string(msg.Data))
}

// receive is the subscription's callback, on its nats.go goroutine. It
// answers probes and acked batches at once and queues batches for run,
// never blocking.
func (l *listener) receive(m *nats.Msg) {
	typ, body, err := parseFrame(m.Data)
	if err != nil {
		l.bad(m, err)
		return
	}
	if typ == frameProbe {
		_ = m.Respond(l.desc) // a lost answer makes the prober time out, as if we were stuck
		return
	}
	batch, err := decodeBatch(body)
	if err != nil {
		l.bad(m, err)
		return
	}
	ack := ackOK
	select {
	case <-l.done:
		ack = ackGone
	case l.queue <- batch:
		l.m.received()
	default:
		ack = ackFull
		l.m.dropped(reasonFull)
	}
	if typ == frameBatchAck {
		_ = m.Respond([]byte{ack}) // a lost answer makes the sender time out
	}
}

func (l *listener) bad(m *nats.Msg, err error) {
	l.m.dropped(reasonBad)
	l.log(err)
	if len(m.Data) >= frameHeaderLen && m.Data[1] == frameBatchAck {
		_ = m.Respond([]byte{ackBad})
	}
}

// run calls h with each queued batch until done is closed.
func (l *listener) run(h func([]parley.Delivery)) {
	for {
		select {
		case <-l.done:
			return
		case batch := <-l.queue:
			// select picks at random among ready cases: look at done
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

// stop ends l (see Listen) and forgets it if it still holds node.
func (b *Bus) stop(node string, l *listener) {
	l.stopOnce.Do(func() {
		_ = l.sub.Unsubscribe() // fails only if nc is closed: then the server has forgotten it
		b.mu.Lock()
		if b.listeners[node] == l {
			delete(b.listeners, node)
		}
		b.mu.Unlock()
		close(l.done)
		if b.nc.IsConnected() {
			// Best effort: once the server has the unsubscription,
			// Sends see no responders and Listens elsewhere find the
			// node free.
			_ = b.nc.FlushTimeout(b.timeout)
		}
	})
	<-l.exited
}

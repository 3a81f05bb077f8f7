// Package natsbus is a parley.Bus between nodes over NATS core subjects.
//
// Each listening node subscribes to one subject, <prefix>.<node>; a batch
// of deliveries for a node is one NATS message in a compact binary frame
// (codec.go), or several in order when it exceeds the server's maximum
// payload. No queue (JetStream) is on the path: delivery is at most once,
// as the parley.Bus contract says, and sync is the source of truth.
//
// # Knowing whether a node listens
//
// A Bus remembers the nodes it has seen listening. The first Send to a
// node it does not know is a request: the listener answers as soon as the
// batch is queued (before the handler runs), and the NATS server answers
// "no responders" at once if nobody subscribes, which Send turns into
// EUnavailable. Later Sends to a known node are plain publishes that carry
// the Bus's no-responders inbox as their reply subject: the listener never
// answers them, but if the node has gone the server answers there with a
// 503 and the Bus forgets the node, so a later Send asks again. A node
// that stops is therefore noticed one round trip after the first batch
// sent to it in vain (the batches sent meanwhile are lost, and Send
// returned nil for them). While the node listens this costs nothing: at
// 5,000 batches/s the whole process (sender, embedded server, listener)
// spends ~21 µs of CPU per batch with the inbox and without it, against
// ~46 µs, and a p99 Send of ~170 µs instead of ~21 µs, if every batch were
// answered (BenchmarkSendAt5000). In a cluster the server answers 503 only
// once no server has interest left, a few milliseconds after a stop.
//
// # Listening twice
//
// Listen returns EConflict if the node listens through the same Bus
// (exact), or through any other Bus on the same NATS servers (another
// process, another connection) that answers a probe: Listen asks the
// node's subject before subscribing. Two processes calling Listen for one
// node at the same moment can both succeed; node ids must be unique per
// process. A node whose process hangs while subscribed keeps its id
// taken (the probe times out: EConflict) until NATS drops its connection.
//
// # Unavailability
//
// Send never waits for NATS to come back: while the connection is not
// connected it returns EUnavailable at once, wrapping the nats.go error
// (nats.ErrConnectionReconnecting, ...). The round trips it does wait for
// are bounded by Options.Timeout and ctx. The connection reconnects and
// resubscribes on its own (nats.go does it; ConnOptions asks for it
// forever); the Bus needs no restart. TestNATSOutage stops the server for
// 3 s under four busy senders: every Send returned within a few ms.
//
// # Using it
//
// A node connects with ConnOptions (to a NATS cluster's URLs, or in
// process to a server of its own from StartEmbedded), calls New, Listens
// on its node id with the gateway's Deliver, and on shutdown calls stop,
// Close, then closes the connection (and shuts an embedded server down).
//
// # Concurrency
//
// A Bus is safe for concurrent use. Each listening node has one goroutine
// that calls its handler, one batch at a time in arrival order, fed by a
// bounded queue that the subscription's nats.go goroutine fills without
// blocking. Batches from one sender (one goroutine calling Send on one
// Bus) arrive in the order sent. Bus.mu and Bus.peersMu are never held
// together.
package natsbus

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/parley-im/parley"
)

var _ parley.Bus = (*Bus)(nil)

// Defaults for Options.
const (
	DefaultTimeout  = time.Second
	DefaultQueueLen = 1024
)

// maxPooledBuf is the largest encode buffer kept for reuse.
const maxPooledBuf = 256 << 10

// Options configure a Bus. The zero value uses the defaults.
type Options struct {
	// Prefix is the subject prefix of node subjects; DefaultPrefix when
	// empty. It must be a valid subject without wildcards, and every
	// node of a cluster must use the same one.
	Prefix string
	// Timeout bounds each round trip the bus waits for: the first Send
	// to a node, Listen's probe and stop's flush. DefaultTimeout when 0.
	Timeout time.Duration
	// QueueLen is how many batches a listening node queues for its
	// handler; DefaultQueueLen when 0. A batch that arrives when the
	// queue is full is dropped and counted.
	QueueLen int
	// Log receives what cannot be returned to a caller (batches that did
	// not decode). Nil discards it.
	Log *slog.Logger
	// Metrics counts batches; nil counts nothing.
	Metrics *Metrics
}

// Bus is a parley.Bus over one NATS connection. Create it with New; call
// Close to stop its listeners. It does not own the connection.
type Bus struct {
	nc       *nats.Conn
	prefix   string
	timeout  time.Duration
	queueLen int
	log      *slog.Logger
	m        *Metrics

	// inbox is the prefix of the reply subjects of plain publishes
	// (inbox + node token); inboxSub receives the server's 503s there.
	inbox    string
	inboxSub *nats.Subscription
	initErr  error

	bufs   sync.Pool // *[]byte encode buffers
	closed atomic.Bool
	wg     sync.WaitGroup // the listeners' goroutines

	// peersMu guards peers: the node tokens this Bus has seen listening.
	peersMu sync.RWMutex
	peers   map[string]struct{}

	// mu guards listeners (this Bus's own listening nodes) and orders
	// Listen against Close.
	mu        sync.Mutex
	listeners map[string]*listener
}

// New returns a Bus on nc. nc should be made with ConnOptions (or
// equivalent reconnect settings); the Bus uses it but never closes it. If
// nc is already closed, every Send and Listen returns EUnavailable.
func New(nc *nats.Conn, opts Options) *Bus {
	b := &Bus{
		nc:        nc,
		prefix:    opts.Prefix,
		timeout:   opts.Timeout,
		queueLen:  opts.QueueLen,
		log:       opts.Log,
		m:         opts.Metrics,
		peers:     make(map[string]struct{}),
		listeners: make(map[string]*listener),
	}
	if b.prefix == "" {
		b.prefix = DefaultPrefix
	}
	if b.timeout <= 0 {
		b.timeout = DefaultTimeout
	}
	if b.queueLen <= 0 {
		b.queueLen = DefaultQueueLen
	}
	if b.log == nil {
		b.log = slog.New(slog.DiscardHandler)
	}
	b.bufs.New = func() any { return new([]byte) }
	b.inbox = nc.NewInbox() + "."
	b.inboxSub, b.initErr = nc.Subscribe(b.inbox+"*", b.noResponders)
	return b
}

func (b *Bus) subject(node string) string { return b.prefix + "." + nodeToken(node) }

// Send hands batch to node. It returns nil once the batch is published (or,
// for the first Send to a node this Bus has not seen listening, once the
// listener has queued it); the handler may not have run yet.
//
// Returns EUnavailable, promptly, if node is not listening, if its queue
// was full on a first Send, or if the NATS connection is not connected
// (the nats.go error is wrapped). Returns EUnavailable after waiting if
// a first Send's answer did not come within Options.Timeout or before ctx
// ended; the batch may still arrive, and, as the node has a subscriber,
// the next Sends to it publish without waiting (a stuck listener costs
// one timeout per sending Bus, not one per batch).
// A batch larger than the server's maximum payload (1 MB by default) is
// sent as several messages, which arrive in order as several handler
// calls. Returns ETooLarge, sending nothing, if one delivery alone
// exceeds it. After a node stops, Sends to it may return nil, and their
// batches be lost, until this Bus hears of it (one round trip).
//
// The batch is encoded before Send returns; the caller may reuse it.
func (b *Bus) Send(ctx context.Context, node string, batch []parley.Delivery) error {
	const op = "natsbus.Bus.Send"
	if err := b.usable(op); err != nil {
		return err
	}
	chunks, err := b.split(op, batch)
	if err != nil {
		return err
	}
	token := nodeToken(node)
	subj := b.prefix + "." + token
	b.peersMu.RLock()
	_, known := b.peers[token]
	b.peersMu.RUnlock()
	if !known {
		subscribed, err := b.sendAcked(ctx, op, node, subj, chunks[0])
		if subscribed {
			b.peersMu.Lock()
			b.peers[token] = struct{}{}
			b.peersMu.Unlock()
		}
		if err != nil {
			return err
		}
		chunks = chunks[1:]
	}
	reply := b.inbox + token
	for _, c := range chunks {
		if err := b.publish(subj, reply, frameBatch, c, nil); err != nil {
			return unavailable(op, "cannot publish to node "+node, err)
		}
	}
	return nil
}

// chunk is a part of a batch that fits one message, with its encoded size
// less the frame header.
type chunk struct {
	ds   []parley.Delivery
	size int
}

// split cuts batch into chunks that each fit the server's maximum
// payload, in order.
func (b *Bus) split(op string, batch []parley.Delivery) ([]chunk, error) {
	// Room for the header and the largest count prefix.
	limit := int(b.nc.MaxPayload()) - frameHeaderLen - 10
	chunks := []chunk{{ds: batch[:0]}}
	for i := range batch {
		n := deliverySize(&batch[i])
		if n > limit {
			return nil, &parley.Error{Code: parley.ETooLarge, Op: op,
				Message: fmt.Sprintf("a delivery of %d bytes exceeds the NATS maximum payload of %d", n, b.nc.MaxPayload())}
		}
		last := &chunks[len(chunks)-1]
		if last.size+n > limit {
			chunks = append(chunks, chunk{ds: batch[i:i]})
			last = &chunks[len(chunks)-1]
		}
		last.ds = last.ds[:len(last.ds)+1]
		last.size += n
	}
	return chunks, nil
}

// sendAcked sends c as a request and waits for the listener's answer.
// subscribed reports whether somebody listens on subj: it is true when
// the answer did not come in time, so that a listener too busy to answer
// (or gone without the server knowing yet) makes the next Sends publish
// without waiting rather than stall every one of them for the timeout;
// if it is gone, the server's 503 to those publishes says so.
func (b *Bus) sendAcked(parent context.Context, op, node, subj string, c chunk) (subscribed bool, err error) {
	ctx, cancel := context.WithTimeout(parent, b.timeout)
	defer cancel()
	var msg *nats.Msg
	err = b.publish(subj, "", frameBatchAck, c, func(data []byte) (err error) {
		msg, err = b.nc.RequestWithContext(ctx, subj, data)
		return err
	})
	b.m.acked()
	switch {
	case errors.Is(err, nats.ErrNoResponders):
		return false, unavailable(op, "node "+node+" is not listening", nil)
	case errors.Is(err, context.DeadlineExceeded) || errors.Is(err, nats.ErrTimeout):
		if parent.Err() != nil {
			return false, unavailable(op, "cannot send to node "+node, err) // the caller's ctx ended
		}
		return true, unavailable(op, fmt.Sprintf("node %s did not answer within %v", node, b.timeout), err)
	case err != nil:
		return false, unavailable(op, "cannot send to node "+node, err)
	}
	switch ack := string(msg.Data); ack {
	case string(ackOK):
		return true, nil
	case string(ackFull):
		return true, unavailable(op, "node "+node+" is not keeping up: its queue is full", nil)
	case string(ackGone):
		return false, unavailable(op, "node "+node+" is not listening", nil)
	case string(ackBad):
		return true, &parley.Error{Code: parley.EInternal, Op: op, Message: "node " + node + " could not decode the batch"}
	default:
		return true, &parley.Error{Code: parley.EInternal, Op: op, Message: fmt.Sprintf("node %s answered %q", node, ack)}
	}
}

// publish encodes c as a frame of type typ in a pooled buffer and
// publishes it on subj with reply, or, if do is not nil, hands the frame
// to do instead. The buffer is reused once publish returns: nats.go
// copies what it publishes before returning.
func (b *Bus) publish(subj, reply string, typ byte, c chunk, do func([]byte) error) error {
	bp := b.bufs.Get().(*[]byte)
	buf := appendFrame((*bp)[:0], typ, c.ds, c.size)
	var err error
	if do != nil {
		err = do(buf)
	} else {
		err = b.nc.PublishRequest(subj, reply, buf)
	}
	if cap(buf) <= maxPooledBuf {
		*bp = buf
		b.bufs.Put(bp)
	}
	return err
}

// noResponders receives the server's 503s to plain publishes: the node
// named by the subject's last token is no longer listening.
func (b *Bus) noResponders(m *nats.Msg) {
	if m.Header.Get("Status") != "503" {
		return
	}
	token := strings.TrimPrefix(m.Subject, b.inbox)
	b.peersMu.Lock()
	delete(b.peers, token)
	b.peersMu.Unlock()
}

// usable returns EUnavailable unless the Bus is open and connected.
func (b *Bus) usable(op string) error {
	if b.initErr != nil {
		return unavailable(op, "the bus could not subscribe", b.initErr)
	}
	if b.closed.Load() {
		return unavailable(op, "bus closed", nil)
	}
	switch st := b.nc.Status(); st {
	case nats.CONNECTED:
		return nil
	case nats.RECONNECTING, nats.CONNECTING:
		return unavailable(op, "NATS is unreachable", nats.ErrConnectionReconnecting)
	case nats.DRAINING_PUBS, nats.DRAINING_SUBS:
		return unavailable(op, "NATS connection draining", nats.ErrConnectionDraining)
	case nats.CLOSED:
		return unavailable(op, "NATS connection closed", nats.ErrConnectionClosed)
	default:
		return unavailable(op, "NATS connection is "+st.String(), nil)
	}
}

func unavailable(op, msg string, err error) error {
	return &parley.Error{Code: parley.EUnavailable, Op: op, Message: msg, Err: err}
}

// Close stops every node listening through this Bus, as their stop
// functions would, and makes later Sends and Listens return EUnavailable.
// It does not close the NATS connection. It may be called more than once;
// it always returns nil. It must not be called from within a handler.
func (b *Bus) Close() error {
	b.mu.Lock()
	b.closed.Store(true)
	ls := b.listeners
	b.listeners = make(map[string]*listener)
	b.mu.Unlock()
	for node, l := range ls {
		b.stop(node, l)
	}
	if b.inboxSub != nil {
		_ = b.inboxSub.Unsubscribe() // fails only if nc is closed: then it is gone anyway
	}
	b.wg.Wait()
	return nil
}

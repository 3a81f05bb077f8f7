package gateway

// inflight is a push awaiting its ack.
type inflight struct {
	payload []byte // the message JSON
	due     int64  // unix nanoseconds when it is sent again
	tries   int32
	acked   bool
}

// pending holds a session's pushes awaiting an ack. Push numbers are
// handed out one at a time (Session.nextN), so the pushes sent are the
// numbers base, base+1, ... and live in a slice indexed by n-base: no map
// entry and no allocation per push, which a member of a busy group pays
// for every message. An acked push is marked and dropped once it reaches
// the front; an empty pending releases its slice, so a session that has
// nothing in flight holds no buffer.
type pending struct {
	base uint64     // the number of q[0]
	q    []inflight // numbers base .. base+len(q)-1, acked or not
	n    int        // entries of q not acked
}

// add records push n, which must be the number after the last one added
// since the queue was last empty or reset.
func (p *pending) add(n uint64, payload []byte, due int64) {
	if len(p.q) == 0 {
		p.base = n
	}
	p.q = append(p.q, inflight{payload: payload, due: due, tries: 1})
	p.n++
}

// ack marks push n acknowledged; an unknown or already acked n is ignored.
func (p *pending) ack(n uint64) {
	if n < p.base || n-p.base >= uint64(len(p.q)) || p.q[n-p.base].acked {
		return
	}
	p.q[n-p.base] = inflight{acked: true} // drop the payload now
	p.n--
	i := 0
	for i < len(p.q) && p.q[i].acked {
		i++
	}
	switch {
	case i == len(p.q):
		p.q = nil
	case i > 0:
		p.q = p.q[i:]
		p.base += uint64(i)
	}
}

// len is how many pushes await an ack.
func (p *pending) len() int { return p.n }

// reset forgets every push.
func (p *pending) reset() { *p = pending{} }

package gateway

import (
	"time"

	"github.com/parley-im/parley/wire"
)

// sweepEvery is how often the sweeper visits every session. One shared
// ticker replaces per-connection timers.
const sweepEvery = time.Second

// sweep enforces auth and idle timeouts, retransmits unacknowledged pushes
// and expires ended long-poll sessions, until Close.
func (g *Gateway) sweep() {
	defer close(g.done)
	t := time.NewTicker(sweepEvery)
	defer t.Stop()
	for {
		select {
		case <-g.stop:
			return
		case <-t.C:
		}
		now := g.cfg.Now().UnixNano()
		g.hub.eachOpen(func(s *Session) { s.sweep(now) })
		g.lp.expire(now, int64(g.cfg.IdleTimeout))
	}
}

// sweep checks one session's timers at now.
func (s *Session) sweep(now int64) {
	cfg := &s.g.cfg
	switch s.state.Load() {
	case stateNew:
		if now-s.born > int64(cfg.AuthTimeout) {
			s.close(wire.CloseAuthTimeout, "no auth frame in time")
		}
		return
	case stateClosed:
		return
	}
	if now-s.lastSeen.Load() > int64(cfg.IdleTimeout) {
		s.close(wire.CloseIdle, "no heartbeat in time")
		return
	}
	s.mu.Lock()
	resync, ok := false, true
	var due []uint64
	q := &s.unacked
	for i := range q.q {
		p := &q.q[i]
		if p.acked || now < p.due {
			continue
		}
		if int(p.tries) > cfg.MaxRetries {
			resync = true
			break
		}
		due = append(due, q.base+uint64(i))
	}
	if !resync {
		// Resend in push order, as the device first saw them (q is in
		// push order; sending does not change it).
		for _, n := range due {
			p := &q.q[n-q.base]
			p.tries++
			p.due = now + int64(cfg.RetryInterval)
			ok = s.sendPush(n, p.payload) && ok
		}
		s.g.m.retransmitted(len(due))
	}
	if resync {
		// The device missed pushes despite every retry: drop them all and
		// let sync, the source of truth, catch it up.
		q.reset()
		ok = s.send(wire.Resync()) && ok
	}
	s.mu.Unlock()
	if !ok {
		s.closeSlow()
	}
}

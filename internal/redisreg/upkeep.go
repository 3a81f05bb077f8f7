package redisreg

import (
	"context"
	"log/slog"
	"time"

	"github.com/parley-im/parley"
)

// opTimeout bounds each Sync and Clean of the upkeep; a Renew is bounded
// by Options.RenewEvery.
const opTimeout = time.Minute

// Start runs the lease's upkeep on one goroutine until Stop or Release:
// every Options.RenewEvery, and whenever the Registry's client opens a
// new connection to Redis (see New), it renews the lease; every Options.SyncEvery,
// and at the next renewal after Renew reported the lease restored (Redis
// lost its data) or failed (registrations may have failed while Redis
// was unreachable), it calls Sync with live, once a renewal succeeds,
// until a Sync succeeds;
// every Options.CleanEvery it runs Registry.Clean. Failures are logged
// and retried, never returned. live has Sync's contract. Calling Start
// on a started lease does nothing.
func (l *Lease) Start(live func() []parley.ConnInfo) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.done != nil {
		return
	}
	ctx, cancel := context.WithCancel(context.Background())
	l.cancel, l.done = cancel, make(chan struct{})
	go l.upkeep(ctx, live, l.done)
}

// Stop ends the upkeep and waits for its goroutine to return. The lease
// is kept, and lapses after Options.LeaseTTL unless renewed. Stopping a
// lease that is not started does nothing.
func (l *Lease) Stop() {
	l.mu.Lock()
	cancel, done := l.cancel, l.done
	l.cancel, l.done = nil, nil
	l.mu.Unlock()
	if cancel != nil {
		cancel()
		<-done
	}
}

func (l *Lease) upkeep(ctx context.Context, live func() []parley.ConnInfo, done chan struct{}) {
	defer close(done)
	o := &l.r.opt
	log := o.Logger.With("node_id", l.node)
	renew := time.NewTicker(o.RenewEvery)
	defer renew.Stop()
	sync := time.NewTicker(o.SyncEvery)
	defer sync.Stop()
	clean := time.NewTicker(o.CleanEvery)
	defer clean.Stop()
	// needSync is set when rows may be missing or stale; the Sync waits
	// for a renewal that succeeds (Redis answers, the lease is ours).
	needSync, renewed := false, true
	for {
		select {
		case <-ctx.Done():
			return
		case <-renew.C:
			renewed = l.renewOnce(ctx, log, &needSync)
		case <-l.wake: // a new Redis connection: was Redis restarted?
			renewed = l.renewOnce(ctx, log, &needSync)
		case <-sync.C:
			needSync = true
		case <-clean.C:
			cctx, cancel := context.WithTimeout(ctx, opTimeout)
			if _, err := l.r.Clean(cctx); err != nil && ctx.Err() == nil {
				log.Warn("redisreg: cleaning dead nodes' rows failed", "err", err)
			}
			cancel()
		}
		if needSync && renewed {
			sctx, cancel := context.WithTimeout(ctx, opTimeout)
			err := l.Sync(sctx, live)
			cancel()
			if err == nil {
				needSync = false
			} else if ctx.Err() == nil {
				log.Warn("redisreg: re-registering the node's connections failed", "err", err)
			}
		}
	}
}

// renewOnce renews the lease for the upkeep, sets *needSync if rows may
// be missing, and reports whether the renewal succeeded.
func (l *Lease) renewOnce(ctx context.Context, log *slog.Logger, needSync *bool) bool {
	rctx, cancel := context.WithTimeout(ctx, l.r.opt.RenewEvery)
	restored, err := l.Renew(rctx)
	cancel()
	switch {
	case ctx.Err() != nil:
	case parley.ErrorCode(err) == parley.EConflict:
		log.Error("redisreg: another process holds this node's lease; its connections cannot be found", "err", err)
	case err != nil:
		log.Warn("redisreg: lease renewal failed", "err", err)
		*needSync = true
	case restored:
		log.Warn("redisreg: lease was gone (Redis lost its data or was unreachable); registering the node's connections again")
		*needSync = true
	}
	return err == nil
}

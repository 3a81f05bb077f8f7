package redisreg

import (
	"context"

	"github.com/parley-im/parley"
)

// Sync makes the rows of the lease's instance match live, the node's
// connections: it registers every one of them again (restoring rows that
// Redis lost and restarting their expiry) and removes the instance's
// rows of connections that are no longer live. The upkeep (Start) calls
// it every Options.SyncEvery and after Renew or a failure reported that
// rows may be missing; a node that keeps its lease itself must do the
// same.
//
// live is called twice and must return every connection of the node that
// the node has registered or is about to register: a connection must be
// among its results from before the node calls Register for it until
// before the node calls Unregister for it (the gateway's hub: a session
// is added before Register and removed before Unregister). Connections
// that come or go while Sync runs are then neither lost nor left behind.
//
// Returns EInvalid if a connection is not of the lease's node or lacks an
// id, EUnavailable if the lease was released or Redis cannot be reached.
func (l *Lease) Sync(ctx context.Context, live func() []parley.ConnInfo) error {
	const op = "redisreg.Lease.Sync"
	r := l.r
	if r.lease(l.node) != l {
		return &parley.Error{Code: parley.EUnavailable, Op: op, Message: "lease released"}
	}
	before := live()
	if err := l.check(op, before); err != nil {
		return err
	}
	if err := l.write(ctx, before); err != nil {
		return unavailable(op, err)
	}
	keep := make(map[string][]string)
	for i := range before {
		k := r.userKey(before[i].AppID, before[i].UserID)
		keep[k] = append(keep[k], before[i].ConnID)
	}
	if _, err := r.pruneIndex(ctx, l.member, keep); err != nil {
		return unavailable(op, err)
	}

	// Connections registered since the first call may have been pruned,
	// and those gone since may have been written back: set both right.
	after := live()
	if err := l.check(op, after); err != nil {
		return err
	}
	added, gone := diffConns(before, after)
	if err := l.write(ctx, added); err != nil {
		return unavailable(op, err)
	}
	if len(gone) > 0 {
		pipe := r.c.Pipeline()
		for _, c := range gone {
			pipe.HDel(ctx, r.userKey(c.AppID, c.UserID), c.ConnID)
		}
		if _, err := pipe.Exec(ctx); err != nil {
			return unavailable(op, err)
		}
	}
	return nil
}

// check returns EInvalid unless every connection can be registered under
// the lease.
func (l *Lease) check(op string, conns []parley.ConnInfo) error {
	for i := range conns {
		c := &conns[i]
		if !validConn(c) || c.Node != l.node {
			return &parley.Error{Code: parley.EInvalid, Op: op, Message: "connection " + c.ConnID + " lacks an id or is not of node " + l.node}
		}
	}
	return nil
}

type connKey struct{ app, user, conn string }

// diffConns returns the connections of after that before lacks, and
// those of before that after lacks.
func diffConns(before, after []parley.ConnInfo) (added, gone []parley.ConnInfo) {
	in := func(cs []parley.ConnInfo) map[connKey]struct{} {
		m := make(map[connKey]struct{}, len(cs))
		for i := range cs {
			m[connKey{cs[i].AppID, cs[i].UserID, cs[i].ConnID}] = struct{}{}
		}
		return m
	}
	inBefore, inAfter := in(before), in(after)
	for _, c := range after {
		if _, ok := inBefore[connKey{c.AppID, c.UserID, c.ConnID}]; !ok {
			added = append(added, c)
		}
	}
	for _, c := range before {
		if _, ok := inAfter[connKey{c.AppID, c.UserID, c.ConnID}]; !ok {
			gone = append(gone, c)
		}
	}
	return added, gone
}

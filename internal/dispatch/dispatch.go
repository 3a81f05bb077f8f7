// Package dispatch routes deliveries to the nodes that hold their
// recipients' connections: one registry lookup for a whole batch, then one
// bus message per destination node (never one per recipient), and a
// direct call for the local node.
//
// A Dispatcher is safe for concurrent use and has no goroutines of its
// own.
package dispatch

import (
	"context"
	"log/slog"
	"sync"
	"time"

	"github.com/parley-im/parley"
)

// Local receives the deliveries meant for connections on this node.
type Local interface {
	Deliver(ds []parley.Delivery)
}

// Dispatcher delivers to devices wherever they are connected.
type Dispatcher struct {
	node  string
	reg   parley.Registry
	bus   parley.Bus
	local Local
	log   *slog.Logger
	m     *Metrics

	offline map[string]func(d parley.Delivery, users []string) // by delivery kind

	// Failed sends are logged at most once per node per failLogEvery,
	// with how many failed since: a bus outage must not flood the log.
	failMu sync.Mutex
	fails  map[string]*failLog
}

// failLogEvery is how often a node's failed sends are logged at most.
const failLogEvery = 5 * time.Second

type failLog struct {
	last              time.Time
	batches, delivers int
}

// failed records a failed send to node and logs it unless one was logged
// for node within failLogEvery; the next line counts what was not logged.
func (d *Dispatcher) failed(node string, err error, deliveries int) {
	d.failMu.Lock()
	if d.fails == nil {
		d.fails = make(map[string]*failLog)
	}
	f := d.fails[node]
	if f == nil {
		f = &failLog{}
		d.fails[node] = f
	}
	f.batches++
	f.delivers += deliveries
	now := time.Now()
	if now.Sub(f.last) < failLogEvery {
		d.failMu.Unlock()
		return
	}
	batches, delivers := f.batches, f.delivers
	f.last, f.batches, f.delivers = now, 0, 0
	d.failMu.Unlock()
	d.log.Warn("bus send failed; pushes to that node are lost, its devices catch up by sync",
		"node_id", node, "err", err, "batches", batches, "deliveries", delivers, "window", failLogEvery)
}

// New returns a Dispatcher for node. m may be nil: no metrics.
func New(node string, reg parley.Registry, bus parley.Bus, local Local, log *slog.Logger, m *Metrics) *Dispatcher {
	return &Dispatcher{node: node, reg: reg, bus: bus, local: local, log: log, m: m}
}

// OnOffline makes Push call f for every delivery of the given kind with
// the users of it that have no connection on any node (none: no call),
// after the registry lookup that routing does anyway. f runs on Push's
// goroutine and must not block; d and users must not be kept without a
// copy. A failed lookup calls nothing. One hook per kind: call it for
// each kind, before the first Push; it is not safe for concurrent use
// with Push.
func (d *Dispatcher) OnOffline(kind string, f func(d parley.Delivery, users []string)) {
	if d.offline == nil {
		d.offline = make(map[string]func(parley.Delivery, []string))
	}
	d.offline[kind] = f
}

// Push routes each delivery to the nodes where its users have connections.
// A delivery whose users are all offline goes nowhere (they sync later).
// Push returns the first error met but still tries every node.
func (d *Dispatcher) Push(ctx context.Context, ds []parley.Delivery) error {
	perNode, err := d.route(ctx, ds)
	if err != nil {
		return err
	}
	var first error
	for node, batch := range perNode {
		if node == d.node {
			d.local.Deliver(batch)
			d.m.handed(true, batch)
			continue
		}
		if err := d.bus.Send(ctx, node, batch); err != nil {
			d.failed(node, err, len(batch))
			if first == nil {
				first = err
			}
			continue
		}
		d.m.handed(false, batch)
	}
	return first
}

type appUser struct{ app, user string }

// route looks up every recipient once and splits the deliveries by node,
// each copy naming only the recipients on that node.
func (d *Dispatcher) route(ctx context.Context, ds []parley.Delivery) (map[string][]parley.Delivery, error) {
	byApp := make(map[string][]string)
	seen := make(map[appUser]struct{})
	for i := range ds {
		for _, u := range ds[i].Users {
			k := appUser{ds[i].AppID, u}
			if _, ok := seen[k]; !ok {
				seen[k] = struct{}{}
				byApp[ds[i].AppID] = append(byApp[ds[i].AppID], u)
			}
		}
	}
	nodesOf := make(map[appUser][]string, len(seen))
	for app, users := range byApp {
		conns, err := d.reg.Locate(ctx, app, users)
		if err != nil {
			return nil, err
		}
		for _, c := range conns {
			k := appUser{app, c.UserID}
			if !contains(nodesOf[k], c.Node) {
				nodesOf[k] = append(nodesOf[k], c.Node)
			}
		}
	}
	if d.offline != nil {
		d.tellOffline(ds, nodesOf)
	}
	perNode := make(map[string][]parley.Delivery)
	for i := range ds {
		split := make(map[string][]string)
		for _, u := range ds[i].Users {
			for _, n := range nodesOf[appUser{ds[i].AppID, u}] {
				split[n] = append(split[n], u)
			}
		}
		for n, users := range split {
			c := ds[i]
			c.Users = users
			perNode[n] = append(perNode[n], c)
		}
	}
	return perNode, nil
}

// tellOffline calls the OnOffline hook for the deliveries of its kind.
func (d *Dispatcher) tellOffline(ds []parley.Delivery, nodesOf map[appUser][]string) {
	var off []string
	for i := range ds {
		f := d.offline[ds[i].Kind]
		if f == nil {
			continue
		}
		off = off[:0]
		for _, u := range ds[i].Users {
			if len(nodesOf[appUser{ds[i].AppID, u}]) == 0 {
				off = append(off, u)
			}
		}
		if len(off) > 0 {
			f(ds[i], off)
		}
	}
}

func contains(s []string, v string) bool {
	for _, x := range s {
		if x == v {
			return true
		}
	}
	return false
}

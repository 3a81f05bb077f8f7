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

// nodeSet is the nodes that hold a user's connections, without an
// allocation for the common case of one node.
type nodeSet struct {
	first string
	more  []string
}

func (n *nodeSet) add(node string) {
	switch {
	case n.first == "":
		n.first = node
	case n.first != node && !contains(n.more, node):
		n.more = append(n.more, node)
	}
}

// nodeLocator is implemented by registries that can say which nodes hold
// each user's connections without copying the connection rows
// (inmem.Registry): routing a group message asks about thousands of
// users, and Locate's rows were most of a node's garbage in the group
// benchmark. route uses it when the registry has it, Locate otherwise.
type nodeLocator interface {
	// LocateNodes calls found(i, node) once for each connection of
	// userIDs[i], a user listed twice at each of its indexes, and may
	// call it from under its own locks: found must not call the
	// registry.
	LocateNodes(ctx context.Context, appID string, userIDs []string, found func(i int, node string)) error
}

// route looks up every recipient once and splits the deliveries by node,
// each copy naming only the recipients on that node. A batch nearly always
// holds one app's deliveries, and a group message one delivery naming
// thousands of users: route makes one registry lookup per app, keeps what
// it learns in a slice parallel to each delivery's users rather than in
// a table keyed by user, and allocates nothing per recipient beyond that
// slice and the copies' user lists.
func (d *Dispatcher) route(ctx context.Context, ds []parley.Delivery) (map[string][]parley.Delivery, error) {
	nodes := make([][]nodeSet, len(ds)) // nodes[i][j]: where ds[i].Users[j] is connected
	done := make([]bool, len(ds))
	var same []int
	for i := range ds {
		if done[i] {
			continue
		}
		app := ds[i].AppID
		same = append(same[:0], i)
		total := len(ds[i].Users)
		for j := i + 1; j < len(ds); j++ {
			if !done[j] && ds[j].AppID == app {
				same = append(same, j)
				total += len(ds[j].Users)
			}
		}
		users := ds[i].Users
		if len(same) > 1 {
			users = make([]string, 0, total)
			for _, j := range same {
				users = append(users, ds[j].Users...)
			}
		}
		all := make([]nodeSet, total)
		if err := d.locate(ctx, app, users, all); err != nil {
			return nil, err
		}
		off := 0
		for _, j := range same {
			nodes[j] = all[off : off+len(ds[j].Users)]
			off += len(ds[j].Users)
			done[j] = true
		}
	}
	if d.offline != nil {
		d.tellOffline(ds, nodes)
	}
	perNode := make(map[string][]parley.Delivery)
	split := make(map[string][]string)
	for i := range ds {
		clear(split)
		for j, u := range ds[i].Users {
			n := nodes[i][j]
			if n.first == "" {
				continue
			}
			split[n.first] = append(split[n.first], u)
			for _, node := range n.more {
				split[node] = append(split[node], u)
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

// locate sets out[i] to the nodes holding the connections of users[i].
func (d *Dispatcher) locate(ctx context.Context, app string, users []string, out []nodeSet) error {
	if nl, ok := d.reg.(nodeLocator); ok {
		return nl.LocateNodes(ctx, app, users, func(i int, node string) { out[i].add(node) })
	}
	conns, err := d.reg.Locate(ctx, app, users)
	if err != nil {
		return err
	}
	if len(users) == 1 {
		for _, c := range conns {
			out[0].add(c.Node)
		}
		return nil
	}
	m := make(map[string]nodeSet, len(conns))
	for _, c := range conns {
		n := m[c.UserID]
		n.add(c.Node)
		m[c.UserID] = n
	}
	for i, u := range users {
		out[i] = m[u]
	}
	return nil
}

// tellOffline calls the OnOffline hook for the deliveries of its kind;
// nodes is route's.
func (d *Dispatcher) tellOffline(ds []parley.Delivery, nodes [][]nodeSet) {
	var off []string
	for i := range ds {
		f := d.offline[ds[i].Kind]
		if f == nil {
			continue
		}
		off = off[:0]
		for j, u := range ds[i].Users {
			if nodes[i][j].first == "" {
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

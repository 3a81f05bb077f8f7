package server

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"path/filepath"
	"strings"
	"sync"
	"time"

	natsserver "github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
	"github.com/redis/go-redis/v9"

	"github.com/parley-im/parley"
	"github.com/parley-im/parley/internal/balance"
	"github.com/parley-im/parley/internal/events"
	"github.com/parley-im/parley/internal/inmem"
	"github.com/parley-im/parley/internal/jetstream"
	"github.com/parley-im/parley/internal/natsbus"
	"github.com/parley-im/parley/internal/redisreg"
	"github.com/parley-im/parley/internal/singleton"
)

// NATSEmbedded is the value of Config.NATS that runs a NATS server inside
// the node.
const NATSEmbedded = "embedded"

// routing is how a node finds connections and reaches other nodes: the
// connection table (in memory, or Redis with this node's lease) and the
// bus (in process, or NATS, possibly served by this node).
type routing struct {
	reg   parley.Registry
	bus   closingBus
	rdb   *redis.Client
	redis *redisreg.Registry // when the table is in Redis
	lease *redisreg.Lease
	nc    *nats.Conn
	ns    *natsserver.Server

	stopAnnounce chan struct{} // closed by close; nil if not announcing
	announced    chan struct{} // closed when the announcer returns

	groupSub *nats.Subscription // forgetGroups

	stopSingles context.CancelFunc // ends the singleton leases' Run
	singlesCtx  context.Context
	singles     *sync.WaitGroup
}

// singleton runs active(true) while this node holds the cluster-wide
// lease named name (in Redis), and active(false) when it stops holding
// it, until stopSingletons. Without Redis there is one node: it is
// always active.
func (r *routing) singleton(cfg *Config, name string, active func(bool)) {
	if r.rdb == nil {
		active(true)
		return
	}
	if r.stopSingles == nil {
		var ctx context.Context
		ctx, r.stopSingles = context.WithCancel(context.Background())
		r.singlesCtx, r.singles = ctx, new(sync.WaitGroup)
	}
	prefix := cfg.RedisPrefix
	if prefix == "" {
		prefix = "parley:"
	}
	l := singleton.New(r.rdb, prefix+"singleton:"+name, 0, cfg.Logger)
	r.singles.Add(1)
	go func() {
		defer r.singles.Done()
		l.Run(r.singlesCtx, active)
	}()
}

// stopSingletons gives up every singleton lease (each active(false) has
// run when it returns).
func (r *routing) stopSingletons() {
	if r.stopSingles != nil {
		r.stopSingles()
		r.singles.Wait()
		r.stopSingles = nil
	}
}

type closingBus interface {
	parley.Bus
	Close() error
}

// openRouting builds the registry and the bus that cfg asks for. With
// Redis it takes the node's lease at once, so that the gateway may
// register connections; startLease then keeps it.
func openRouting(ctx context.Context, cfg *Config, busMetrics *natsbus.Metrics) (r routing, err error) {
	defer func() {
		if err != nil {
			r.close(context.Background())
		}
	}()
	if cfg.Redis == "" {
		r.reg = inmem.NewRegistry()
	} else {
		opt, err := redis.ParseURL(cfg.Redis)
		if err != nil {
			return r, fmt.Errorf("redis: %w", err)
		}
		r.rdb = redis.NewClient(opt)
		reg := redisreg.New(r.rdb, redisreg.Options{Prefix: cfg.RedisPrefix, Logger: cfg.Logger})
		if r.lease, err = reg.Acquire(ctx, cfg.Node); err != nil {
			return r, fmt.Errorf("redis: taking the node's lease: %w", err)
		}
		r.reg, r.redis = reg, reg
	}
	switch cfg.NATS {
	case "":
		r.bus = inmem.NewBus(1024)
		return r, nil
	case NATSEmbedded:
		r.ns, err = natsbus.StartEmbedded(natsbus.EmbeddedOptions{
			Port: cfg.NATSPort, JetStream: true, StoreDir: filepath.Join(cfg.DataDir, "nats"),
			Name: cfg.Node, Log: cfg.Logger,
		})
		if err != nil {
			return r, err
		}
		r.nc, err = natsbus.ConnectInProcess(r.ns, cfg.Node, cfg.Logger)
	default:
		r.nc, err = nats.Connect(cfg.NATS, natsbus.ConnOptions(cfg.Node, cfg.Logger)...)
	}
	if err != nil {
		return r, fmt.Errorf("nats: %w", err)
	}
	r.bus = natsbus.New(r.nc, natsbus.Options{Prefix: natsSubject(cfg, "node"), Log: cfg.Logger, Metrics: busMetrics})
	return r, nil
}

// Subjects on NATS, each after the deployment's Config.NATSPrefix, so
// that deployments sharing a NATS never see each other's traffic:
// deliveries to nodes (internal/natsbus), sends handed to logic nodes
// (internal/remote), group changes (each node drops its cached view of
// the group: internal/chat, groupsync.go) and the event stream
// (internal/jetstream; its streams are named after it too).
func natsSubject(cfg *Config, what string) string {
	p := cfg.NATSPrefix
	if p == "" {
		p = DefaultNATSPrefix
	}
	return p + "." + what
}

// DefaultNATSPrefix starts every NATS subject of a deployment.
const DefaultNATSPrefix = "parley"

// validNATSPrefix: dot-separated tokens of [A-Za-z0-9_-], at most 64 bytes.
func validNATSPrefix(p string) bool {
	if p == "" {
		return true
	}
	if len(p) > 64 {
		return false
	}
	for _, tok := range strings.Split(p, ".") {
		if tok == "" {
			return false
		}
		for _, c := range tok {
			if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '_' || c == '-') {
				return false
			}
		}
	}
	return true
}

type groupChange struct {
	Node  string `json:"node"`
	App   string `json:"app"`
	Group string `json:"group"`
}

// groupChanged tells the other nodes that this node committed a change
// to a group. Best effort: a node that misses it still reloads a group
// whose view refuses a sender.
func (r *routing) groupChanged(cfg *Config) func(app, group string) {
	if r.nc == nil {
		return nil
	}
	node, log, subject := cfg.Node, cfg.Logger, natsSubject(cfg, "groups.changed")
	return func(app, group string) {
		b, _ := json.Marshal(groupChange{Node: node, App: app, Group: group})
		if err := r.nc.Publish(subject, b); err != nil {
			log.Warn("telling other nodes of a group change failed", "err", err, "group_id", group)
		}
	}
}

// forgetGroups makes forget run for every group change another node
// commits, until close.
func (r *routing) forgetGroups(cfg *Config, forget func(app, group string)) error {
	if r.nc == nil {
		return nil
	}
	node := cfg.Node
	sub, err := r.nc.Subscribe(natsSubject(cfg, "groups.changed"), func(m *nats.Msg) {
		var c groupChange
		if len(m.Data) > 1024 || json.Unmarshal(m.Data, &c) != nil || c.Node == node || c.App == "" || c.Group == "" {
			return
		}
		forget(c.App, c.Group)
	})
	if err != nil {
		return fmt.Errorf("nats: %w", err)
	}
	r.groupSub = sub
	return nil
}

// Event logs (Config.EventLog).
const (
	EventLogJetStream = "jetstream"
	EventLogStore     = "store"
)

// eventLog returns the log of the event stream cfg asks for: JetStream on
// the node's NATS (checked now, so that a NATS without JetStream fails
// the start with a clear error) or the store's own.
func (r *routing) eventLog(ctx context.Context, cfg *Config, st nodeStore) (events.EventLog, error) {
	kind := cfg.EventLog
	if kind == "" && r.nc != nil {
		kind = EventLogJetStream
	}
	if kind != EventLogJetStream {
		return st.EventLog(), nil
	}
	// JetStream drops messages older than MaxAge itself (by when it
	// stored them), an app's newest too, unlike the stores' logs. That is
	// harmless to offsets: an emptied stream keeps its last sequence, so
	// Last still answers it and Append goes on after it.
	l, err := jetstream.New(r.nc, jetstream.Config{Prefix: natsSubject(cfg, "events"), MaxAge: cfg.EventRetention})
	if err != nil {
		return nil, err
	}
	if err := l.Check(ctx); err != nil {
		return nil, fmt.Errorf("the event stream needs JetStream on NATS (or --event-log store): %w", err)
	}
	return l, nil
}

// startLease keeps the node's lease alive and its rows in step with live
// (the gateway's sessions) until close.
func (r *routing) startLease(live func() []parley.ConnInfo) {
	if r.lease != nil {
		r.lease.Start(live)
	}
}

// announceEvery is how often a node refreshes its directory entry (its
// URL and connection count) for GET /v1/gateway on other nodes.
const announceEvery = 3 * time.Second

// nodes is the node list GET /v1/gateway picks from: the Redis directory
// of live nodes when the table is in Redis (this node announcing itself
// there every announceEvery until close), else this node alone.
func (r *routing) nodes(self balance.Self, log *slog.Logger) balance.Nodes {
	if r.lease == nil {
		return self
	}
	r.stopAnnounce, r.announced = make(chan struct{}), make(chan struct{})
	go func() {
		defer close(r.announced)
		t := time.NewTicker(announceEvery)
		defer t.Stop()
		for {
			ctx, cancel := context.WithTimeout(context.Background(), announceEvery)
			if err := r.lease.Announce(ctx, self.URL, self.Conns()); err != nil {
				log.Warn("announcing the node failed", "err", err)
			}
			cancel()
			select {
			case <-t.C:
			case <-r.stopAnnounce:
				return
			}
		}
	}()
	return &directory{reg: r.redis}
}

// directory lists the live nodes from Redis, at most once a second.
type directory struct {
	reg *redisreg.Registry

	mu    sync.Mutex
	at    time.Time
	nodes []balance.Node
}

func (d *directory) Nodes(ctx context.Context) ([]balance.Node, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if time.Since(d.at) < time.Second {
		return d.nodes, nil
	}
	infos, err := d.reg.Nodes(ctx)
	if err != nil {
		return nil, err
	}
	d.nodes = d.nodes[:0]
	for _, n := range infos {
		d.nodes = append(d.nodes, balance.Node{ID: n.ID, URL: n.URL, Conns: n.Conns})
	}
	d.at = time.Now()
	return d.nodes, nil
}

// close releases the lease (the node's rows vanish for every other node
// at once) and closes the bus and the connections, in that order.
func (r *routing) close(ctx context.Context) {
	r.stopSingletons()
	if r.groupSub != nil {
		_ = r.groupSub.Unsubscribe()
	}
	if r.stopAnnounce != nil {
		close(r.stopAnnounce)
		<-r.announced
		r.stopAnnounce = nil
	}
	if r.lease != nil {
		r.lease.Stop()
		ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
		_ = r.lease.Release(ctx)
		cancel()
	}
	if r.bus != nil {
		_ = r.bus.Close()
	}
	if r.nc != nil {
		r.nc.Close()
	}
	if r.ns != nil {
		r.ns.Shutdown()
		r.ns.WaitForShutdown()
	}
	if r.rdb != nil {
		_ = r.rdb.Close()
	}
}

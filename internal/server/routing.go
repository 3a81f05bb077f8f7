package server

import (
	"context"
	"fmt"
	"path/filepath"
	"time"

	natsserver "github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
	"github.com/redis/go-redis/v9"

	"github.com/parley-im/parley"
	"github.com/parley-im/parley/internal/inmem"
	"github.com/parley-im/parley/internal/natsbus"
	"github.com/parley-im/parley/internal/redisreg"
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
	lease *redisreg.Lease
	nc    *nats.Conn
	ns    *natsserver.Server
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
		r.reg = reg
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
	r.bus = natsbus.New(r.nc, natsbus.Options{Log: cfg.Logger, Metrics: busMetrics})
	return r, nil
}

// startLease keeps the node's lease alive and its rows in step with live
// (the gateway's sessions) until close.
func (r *routing) startLease(live func() []parley.ConnInfo) {
	if r.lease != nil {
		r.lease.Start(live)
	}
}

// close releases the lease (the node's rows vanish for every other node
// at once) and closes the bus and the connections, in that order.
func (r *routing) close(ctx context.Context) {
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

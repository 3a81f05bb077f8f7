package redisreg

import (
	"context"
	"errors"
	"log/slog"
	"net"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/parley-im/parley"
)

var _ parley.Registry = (*Registry)(nil)

// Options configure a Registry. The zero value of a field takes its
// default.
type Options struct {
	// Prefix starts every key of the table; default "parley:". Nodes that
	// share a table use the same prefix.
	Prefix string
	// TTL is how long a user's connections live after the last
	// registration of any of them (Register, or the Sync a lease's upkeep
	// runs every SyncEvery); default 2 h. A node that vanished without a
	// trace is forgotten after it at the latest.
	TTL time.Duration
	// LeaseTTL is how long a node's lease outlives its last renewal, so
	// how long after a crash its rows are ignored; default 15 s.
	LeaseTTL time.Duration
	// LeaseCache is how long Locate trusts the lease states it read;
	// default 1 s. Negative: read them on every call.
	LeaseCache time.Duration
	// RenewEvery is how often a started lease is renewed; default
	// LeaseTTL/3.
	RenewEvery time.Duration
	// SyncEvery is how often a started lease re-registers the node's live
	// connections, refreshing their expiry; default TTL/4.
	SyncEvery time.Duration
	// CleanEvery is how often a started lease removes the rows of dead
	// nodes (Clean); default 1 min.
	CleanEvery time.Duration
	// Now is the clock; default time.Now.
	Now func() time.Time
	// Logger receives the upkeep's warnings; default slog.Default().
	Logger *slog.Logger
}

func (o *Options) defaults() {
	def := func(d *time.Duration, v time.Duration) {
		if *d == 0 {
			*d = v
		}
	}
	if o.Prefix == "" {
		o.Prefix = "parley:"
	}
	def(&o.TTL, 2*time.Hour)
	def(&o.LeaseTTL, 15*time.Second)
	def(&o.LeaseCache, time.Second)
	def(&o.RenewEvery, o.LeaseTTL/3)
	def(&o.SyncEvery, o.TTL/4)
	def(&o.CleanEvery, time.Minute)
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
}

// Registry is a parley.Registry kept in Redis, shared by every node of a
// deployment. See the package documentation for the key layout and the
// lease protocol. It is safe for concurrent use.
type Registry struct {
	c     redis.UniversalClient
	opt   Options
	cache *leaseCache

	prune   *redis.Script // see pruneScript
	renew   *redis.Script // see renewScript
	release *redis.Script // see releaseScript

	// mu guards own. It is a leaf lock: no Redis call is made with it held.
	mu  sync.Mutex
	own map[string]*Lease // the leases this Registry holds, by node
}

// New returns a Registry on c. It does not touch Redis until it is used.
// It adds a hook to c that tells the started leases whenever c opens a
// connection: after Redis restarts, c's first command dials again, and
// the leases then renew at once rather than at their next tick, so the
// node's rows are restored within a round trip or two of the restart.
func New(c redis.UniversalClient, opt Options) *Registry {
	opt.defaults()
	r := &Registry{
		c:       c,
		opt:     opt,
		cache:   newLeaseCache(opt.LeaseCache),
		prune:   redis.NewScript(pruneScript),
		renew:   redis.NewScript(renewScript),
		release: redis.NewScript(releaseScript),
		own:     make(map[string]*Lease),
	}
	c.AddHook(dialWatch{r})
	return r
}

// dialWatch is the hook New adds: every connection c opens wakes the
// upkeep of the leases this Registry holds.
type dialWatch struct{ r *Registry }

func (w dialWatch) DialHook(next redis.DialHook) redis.DialHook {
	return func(ctx context.Context, network, addr string) (net.Conn, error) {
		conn, err := next(ctx, network, addr)
		if err == nil {
			w.r.wakeLeases()
		}
		return conn, err
	}
}

func (dialWatch) ProcessHook(next redis.ProcessHook) redis.ProcessHook { return next }

func (dialWatch) ProcessPipelineHook(next redis.ProcessPipelineHook) redis.ProcessPipelineHook {
	return next
}

// wakeLeases asks the upkeep of every lease held to renew now. It never
// blocks: a lease already woken stays woken once.
func (r *Registry) wakeLeases() {
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, l := range r.own {
		select {
		case l.wake <- struct{}{}:
		default:
		}
	}
}

func (r *Registry) userKey(app, user string) string {
	return r.opt.Prefix + "c:" + app + ":" + user
}

func (r *Registry) leaseKey(node string) string { return r.opt.Prefix + "lease:" + node }

func (r *Registry) indexKey(member string) string { return r.opt.Prefix + "idx:" + member }

func (r *Registry) instancesKey() string { return r.opt.Prefix + "instances" }

// unavailable wraps a Redis failure.
func unavailable(op string, err error) error {
	return &parley.Error{Code: parley.EUnavailable, Op: op, Message: "connection registry unreachable", Err: err}
}

// Register adds the connection c, or replaces the row of the same
// (AppID, UserID, ConnID), and restarts the expiry (TTL) of the user's
// connections. c.Node must be held by a lease this Registry acquired
// (Acquire): the row belongs to that lease instance and is live exactly
// as long as it is. Returns EInvalid if AppID, UserID, ConnID or Node is
// empty or AppID contains ':', EUnavailable if this Registry holds no
// lease for c.Node or Redis cannot be reached.
func (r *Registry) Register(ctx context.Context, c parley.ConnInfo) error {
	const op = "redisreg.Registry.Register"
	if !validConn(&c) {
		return &parley.Error{Code: parley.EInvalid, Op: op, Message: "app, user, connection and node ids are required; app ids hold no ':'"}
	}
	l := r.lease(c.Node)
	if l == nil {
		return &parley.Error{Code: parley.EUnavailable, Op: op, Message: "this process holds no lease for node " + c.Node}
	}
	if err := l.write(ctx, []parley.ConnInfo{c}); err != nil {
		return unavailable(op, err)
	}
	return nil
}

// validConn reports whether c names its app, user, connection and node,
// and its app id can be part of a key (it holds no ':').
func validConn(c *parley.ConnInfo) bool {
	return c.AppID != "" && c.UserID != "" && c.ConnID != "" && c.Node != "" && !strings.Contains(c.AppID, ":")
}

// lease returns the lease of node this Registry holds, nil if none.
func (r *Registry) lease(node string) *Lease {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.own[node]
}

// Unregister removes a connection, whichever node registered it.
// Removing one that is not registered is not an error. Returns
// EUnavailable if Redis cannot be reached.
func (r *Registry) Unregister(ctx context.Context, appID, userID, connID string) error {
	if strings.Contains(appID, ":") {
		return nil // never registered
	}
	if err := r.c.HDel(ctx, r.userKey(appID, userID), connID).Err(); err != nil {
		return unavailable("redisreg.Registry.Unregister", err)
	}
	return nil
}

// Locate returns the live connections of the given users of appID, each
// once even if a user id is repeated, in no particular order; nil if
// there are none. A connection is live if the lease instance that
// registered it still holds its node's lease, as last read at most
// Options.LeaseCache ago. It reads all the users' rows in one pipelined
// round trip, together with the lease states when the cached ones are
// too old; a second round trip reads the leases of nodes it has never
// seen. Returns EUnavailable if Redis cannot be reached.
func (r *Registry) Locate(ctx context.Context, appID string, userIDs []string) ([]parley.ConnInfo, error) {
	const op = "redisreg.Registry.Locate"
	if len(userIDs) > 1 {
		userIDs = slices.Compact(slices.Sorted(slices.Values(userIDs)))
	}
	if len(userIDs) == 0 || strings.Contains(appID, ":") {
		return nil, nil
	}
	now := r.opt.Now()
	pipe := r.c.Pipeline()
	rows := make([]*redis.MapStringStringCmd, len(userIDs))
	for i, u := range userIDs {
		rows[i] = pipe.HGetAll(ctx, r.userKey(appID, u))
	}
	nodes := r.cache.due(now)
	leases := make([]*redis.StringCmd, len(nodes))
	for i, n := range nodes {
		leases[i] = pipe.Get(ctx, r.leaseKey(n))
	}
	_, _ = pipe.Exec(ctx) // each command's error is checked below
	if nodes != nil {
		r.cache.store(now, nodes, instances(leases), true)
	}
	if err := firstErr(rows); err != nil {
		return nil, unavailable(op, err)
	}

	type located struct {
		c        parley.ConnInfo
		instance string
	}
	var found []located
	for i, cmd := range rows {
		for conn, v := range cmd.Val() {
			c := parley.ConnInfo{AppID: appID, UserID: userIDs[i], ConnID: conn}
			inst, ok := decodeRow(v, &c)
			if !ok {
				r.opt.Logger.Warn("redisreg: unreadable row ignored", "app_id", appID, "user_id", userIDs[i], "conn_id", conn)
				continue
			}
			found = append(found, located{c, inst})
		}
	}
	var out []parley.ConnInfo
	var unknown []located
	for _, f := range found {
		live, known := r.cache.check(now, f.c.Node, f.instance)
		switch {
		case !known:
			unknown = append(unknown, f)
		case live:
			out = append(out, f.c)
		}
	}
	if len(unknown) == 0 {
		return out, nil
	}
	// Nodes never seen before: read their leases, then decide.
	var first []string
	for _, f := range unknown {
		if !slices.Contains(first, f.c.Node) {
			first = append(first, f.c.Node)
		}
	}
	insts, err := r.readLeases(ctx, first)
	if err != nil {
		return nil, unavailable(op, err)
	}
	r.cache.store(now, first, insts, false)
	for _, f := range unknown {
		if live, _ := r.cache.check(now, f.c.Node, f.instance); live {
			out = append(out, f.c)
		}
	}
	return out, nil
}

// readLeases returns the lease instance holding each node, "" for none.
func (r *Registry) readLeases(ctx context.Context, nodes []string) ([]string, error) {
	pipe := r.c.Pipeline()
	cmds := make([]*redis.StringCmd, len(nodes))
	for i, n := range nodes {
		cmds[i] = pipe.Get(ctx, r.leaseKey(n))
	}
	_, _ = pipe.Exec(ctx)
	if err := firstErr(cmds); err != nil {
		return nil, err
	}
	return instances(cmds), nil
}

// instances returns the values of lease reads, "" for a missing key; nil
// if any read failed.
func instances(cmds []*redis.StringCmd) []string {
	if firstErr(cmds) != nil {
		return nil
	}
	out := make([]string, len(cmds))
	for i, c := range cmds {
		out[i] = c.Val()
	}
	return out
}

// firstErr returns the first error among cmds other than redis.Nil (a
// missing key).
func firstErr[C redis.Cmder](cmds []C) error {
	for _, c := range cmds {
		if err := c.Err(); err != nil && !errors.Is(err, redis.Nil) {
			return err
		}
	}
	return nil
}

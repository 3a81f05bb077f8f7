package social

import (
	"context"
	"slices"
	"sync"
	"time"

	"github.com/parley-im/parley"
	"github.com/parley-im/parley/wire"
)

// Presence answers, for each listed user of an app, whether it is online
// and on which platforms, in input order: one registry lookup. users must
// be 1 to parley.MaxPresenceList valid ids (repeats are answered once).
func (s *Service) Presence(ctx context.Context, appID string, users []string) (wire.PresenceRes, error) {
	users, err := parley.ValidateUserList(users, parley.MaxPresenceList)
	if err != nil {
		return wire.PresenceRes{}, err
	}
	return s.presence(ctx, appID, users)
}

// PresenceOf is Presence for a client: it answers only for the listed
// users that viewer cares about, leaving the others out, and takes at
// most wire.MaxPresencePerFrame users.
func (s *Service) PresenceOf(ctx context.Context, appID, viewer string, users []string) (wire.PresenceRes, error) {
	users, err := parley.ValidateUserList(users, wire.MaxPresencePerFrame)
	if err != nil {
		return wire.PresenceRes{}, err
	}
	cared, err := s.store.CaredAbout(ctx, appID, viewer, users, s.interest(appID))
	if err != nil {
		return wire.PresenceRes{}, err
	}
	if len(cared) == 0 {
		return wire.PresenceRes{Users: []parley.Presence{}}, nil
	}
	return s.presence(ctx, appID, cared)
}

func (s *Service) presence(ctx context.Context, appID string, users []string) (wire.PresenceRes, error) {
	conns, err := s.reg.Locate(ctx, appID, users)
	if err != nil {
		return wire.PresenceRes{}, err
	}
	by := make(map[string][]parley.ConnInfo, len(conns))
	for _, c := range conns {
		by[c.UserID] = append(by[c.UserID], c)
	}
	res := wire.PresenceRes{Users: make([]parley.Presence, len(users))}
	for i, u := range users {
		ps := platforms(by[u])
		res.Users[i] = parley.Presence{User: u, Online: len(ps) > 0, Platforms: ps}
	}
	return res, nil
}

// platforms returns the sorted set of the connections' platforms, never
// nil.
func platforms(conns []parley.ConnInfo) []parley.Platform {
	out := make([]parley.Platform, 0, 2)
	for _, c := range conns {
		if !slices.Contains(out, c.Platform) {
			out = append(out, c.Platform)
		}
	}
	slices.Sort(out)
	return out
}

// trackingRegistry is the node's registry as the gateway sees it: every
// registration and removal also reaches the tracker.
type trackingRegistry struct{ s *Service }

var _ parley.Registry = (*trackingRegistry)(nil)

func (r *trackingRegistry) Register(ctx context.Context, c parley.ConnInfo) error {
	if err := r.s.reg.Register(ctx, c); err != nil {
		return err
	}
	r.s.trk.connected(ctx, c.AppID, c.UserID)
	return nil
}

func (r *trackingRegistry) Unregister(ctx context.Context, appID, userID, connID string) error {
	err := r.s.reg.Unregister(ctx, appID, userID, connID)
	r.s.trk.disconnected(appID, userID)
	return err
}

func (r *trackingRegistry) Locate(ctx context.Context, appID string, userIDs []string) ([]parley.ConnInfo, error) {
	return r.s.reg.Locate(ctx, appID, userIDs)
}

type userKey struct{ app, user string }

// change is a presence change to tell the users who care.
type change struct {
	app string
	p   parley.Presence
}

// tracker turns connections coming and going into presence changes.
//
// A user's first connection, or one on a platform not yet told, is told
// at once. A removal is told only after Debounce, when a check finds the
// user's platforms (in the shared registry, so on every node) still
// smaller than what was told; a device that reconnects sooner causes
// nothing. The tracker remembers what it told for users with a connection
// on this node and for users with a check pending, so its memory is
// bounded by the node's connections. With several nodes, each tells what
// it sees: a user online on two nodes may be told online twice (presence
// frames are states, not toggles).
type tracker struct {
	s    *Service
	wake chan struct{}

	// mu guards the fields below. It is a leaf: nothing else (registry,
	// store, pusher) is called while it is held.
	mu      sync.Mutex
	told    map[userKey]toldState
	due     map[userKey]int64 // unix ns when to check a user
	queue   []change
	dropped int
}

// toldState is what the tracker last told of a user: 16 bytes in the
// map's own storage, no allocation of its own, since the tracker holds
// one for every user connected to the node.
type toldState struct {
	platforms platformSet // told online on these; 0: nothing told yet
	gen       uint64      // connections seen; a check that raced one is redone
}

// platformSet is a set of the known platforms, one bit each.
type platformSet uint8

var knownPlatforms = [...]parley.Platform{parley.PlatformAndroid, parley.PlatformH5, parley.PlatformIOS, parley.PlatformPC, parley.PlatformWeb}

// setOf returns the set of the known platforms among ps.
func setOf(ps []parley.Platform) platformSet {
	var s platformSet
	for _, p := range ps {
		if i := slices.Index(knownPlatforms[:], p); i >= 0 {
			s |= 1 << i
		}
	}
	return s
}

func (t *tracker) init(s *Service) {
	t.s = s
	t.wake = make(chan struct{}, 1)
	t.told = make(map[userKey]toldState)
	t.due = make(map[userKey]int64)
}

// connected is called after a connection of the user was registered.
func (t *tracker) connected(ctx context.Context, app, user string) {
	conns, err := t.s.reg.Locate(ctx, app, []string{user})
	if err != nil {
		t.s.log.Warn("presence lookup failed", "err", err, "app_id", app, "user_id", user)
		return
	}
	ps := platforms(conns)
	if len(ps) == 0 {
		return // gone again already: its removal schedules a check
	}
	k := userKey{app, user}
	set := setOf(ps)
	t.mu.Lock()
	st := t.told[k]
	st.gen++
	if st.platforms == 0 || set&^st.platforms != 0 {
		st.platforms = set
		t.enqueue(change{app, parley.Presence{User: user, Online: true, Platforms: ps}})
	}
	t.told[k] = st
	t.mu.Unlock()
}

// disconnected is called after a connection of the user was removed: the
// user is checked Debounce from now (a later removal moves the check).
func (t *tracker) disconnected(app, user string) {
	at := t.s.cfg.Now().Add(t.s.cfg.Debounce).UnixNano()
	t.mu.Lock()
	t.due[userKey{app, user}] = at
	t.mu.Unlock()
}

// enqueue queues a change for the loop. t.mu must be held.
func (t *tracker) enqueue(c change) {
	if len(t.queue) >= t.s.cfg.QueueLen {
		t.dropped++
		return
	}
	t.queue = append(t.queue, c)
	select {
	case t.wake <- struct{}{}:
	default:
	}
}

func (t *tracker) run() {
	defer close(t.s.done)
	tick := time.NewTicker(t.s.cfg.Tick)
	defer tick.Stop()
	for {
		select {
		case <-t.s.stop:
			return
		case <-tick.C:
			t.check()
		case <-t.wake:
		}
		t.tell()
	}
}

// check looks again at the users whose check is due.
func (t *tracker) check() {
	now := t.s.cfg.Now().UnixNano()
	var keys []userKey
	var gens []uint64
	t.mu.Lock()
	for k, at := range t.due {
		if at <= now {
			keys = append(keys, k)
			delete(t.due, k)
			gens = append(gens, t.told[k].gen)
		}
	}
	t.mu.Unlock()
	for i, k := range keys {
		ctx, cancel := context.WithTimeout(context.Background(), t.s.cfg.RequestTimeout)
		conns, err := t.s.reg.Locate(ctx, k.app, []string{k.user})
		cancel()
		if err != nil {
			t.s.log.Warn("presence lookup failed", "err", err, "app_id", k.app, "user_id", k.user)
			continue
		}
		ps := platforms(conns)
		local := slices.ContainsFunc(conns, func(c parley.ConnInfo) bool { return c.Node == t.s.cfg.Node })
		t.mu.Lock()
		st, ok := t.told[k]
		_, pending := t.due[k] // removed again since: that check decides
		switch {
		case !ok || pending:
			// Nothing told by this node, or a later check decides.
		case st.gen != gens[i]:
			// A connection came while the registry was read: what was
			// read may be stale. Look again at the next tick.
			t.due[k] = now
		default:
			switch {
			case len(ps) == 0:
				t.enqueue(change{k.app, parley.Presence{User: k.user, Online: false, Platforms: ps}})
			case setOf(ps) != st.platforms:
				t.enqueue(change{k.app, parley.Presence{User: k.user, Online: true, Platforms: ps}})
			}
			if local {
				st.platforms = setOf(ps)
				t.told[k] = st
			} else {
				delete(t.told, k)
			}
		}
		t.mu.Unlock()
	}
}

// tell sends the queued changes to the users who care about them, online
// ones only: one store query per change, and one dispatcher call for the
// whole queue (per 10,000 recipients), which looks every recipient up at
// once. Of a user's changes queued together only the latest is told: it
// is the user's state now.
func (t *tracker) tell() {
	t.mu.Lock()
	queue, dropped := t.queue, t.dropped
	t.queue, t.dropped = nil, 0
	t.mu.Unlock()
	if dropped > 0 {
		t.s.m.droppedChanges(dropped)
		t.s.log.Warn("presence changes dropped: queue full", "dropped", dropped)
	}
	var batch []parley.Delivery
	recipients := 0
	flush := func() {
		if len(batch) == 0 {
			return
		}
		ctx, cancel := context.WithTimeout(context.Background(), t.s.cfg.RequestTimeout)
		if err := t.s.push.Push(ctx, batch); err != nil {
			t.s.log.Warn("presence fan-out failed", "err", err, "changes", len(batch))
		}
		cancel()
		batch, recipients = nil, 0
	}
	for _, c := range latest(queue) {
		select {
		case <-t.s.stop:
			return
		default:
		}
		if t.s.cfg.Events != nil {
			t.s.cfg.Events.PresenceEvent(c.app, c.p)
		}
		ctx, cancel := context.WithTimeout(context.Background(), t.s.cfg.RequestTimeout)
		who, err := t.s.store.Interested(ctx, c.app, c.p.User, t.s.interest(c.app), parley.MaxInterested)
		if err == nil && t.s.cfg.Presence != nil {
			var more []string
			if more, err = t.s.cfg.Presence.PresenceChanged(ctx, c.app, c.p.User, c.p.Online); err == nil {
				who = mergeUsers(who, more)
			}
		}
		cancel()
		if err != nil {
			t.s.log.Warn("presence lookup of who cares failed", "err", err, "app_id", c.app, "user_id", c.p.User)
			continue
		}
		t.s.m.told(c.p.Online, len(who))
		if len(who) == 0 {
			continue
		}
		if recipients+len(who) > maxFanout {
			flush()
		}
		batch = append(batch, parley.Delivery{AppID: c.app, Users: who, Kind: DeliverFrame, Payload: wire.PresencePush(c.p)})
		recipients += len(who)
	}
	flush()
}

// mergeUsers appends to who the users of more it lacks.
func mergeUsers(who, more []string) []string {
	for _, u := range more {
		if !slices.Contains(who, u) {
			who = append(who, u)
		}
	}
	return who
}

// latest returns the last change of each user in queue, in the order of
// those last changes.
func latest(queue []change) []change {
	seen := make(map[userKey]bool, len(queue))
	out := make([]change, 0, len(queue))
	for i := len(queue) - 1; i >= 0; i-- {
		k := userKey{queue[i].app, queue[i].p.User}
		if !seen[k] {
			seen[k] = true
			out = append(out, queue[i])
		}
	}
	slices.Reverse(out)
	return out
}

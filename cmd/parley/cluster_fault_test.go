package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/parley-im/parley"
	"github.com/parley-im/parley/client"
	"github.com/parley-im/parley/internal/events"
	"github.com/parley-im/parley/internal/testservers"
)

// The fault tests of three nodes under load (see cluster_test.go).

// load is the traffic of a fault test. Users u00..u11 are at home on node
// i%3 (u09..u11 on long-poll, the others on WebSocket); each sends without
// pause, one message in flight, alternately to the next user and to the
// group g:all of all twelve; the client gives each message its own client
// message id and retries it, through a reconnection, for up to 30 s. The
// business backend ("ops") sends into the group g:probe through the
// server API every 50 ms with ids of its own, to node n1 until a request
// fails and then to the next node, retrying with the same id. pr1, pr2
// and pr3 (on n1, n2, n3) only receive g:probe: the time a push takes to
// reach them after a fault is how long routing took to recover.
type load struct {
	c       *cluster
	members []*member // u00..u11, then pr1..pr3
	convs   map[string][]*member
	cancel  context.CancelFunc
	wg      sync.WaitGroup

	mu     sync.Mutex
	acks   []ack
	failed []failure
	// The backend's requests that failed and were made again, and
	// answers that said dup (an earlier attempt had been stored).
	apiRetries, apiDups int
}

// ack is a send that was answered with the stored message.
type ack struct {
	by  string // the sending user, or "api"
	msg parley.Message
	at  time.Time
}

// failure is a send that was never answered.
type failure struct {
	by  string
	at  time.Time
	err error
}

const (
	loadUsers  = 12
	probeGroup = "g:probe"
	allGroup   = "g:all"
)

func loadUser(i int) string { return fmt.Sprintf("u%02d", i%loadUsers) }

// startLoad creates the users and groups, connects every device and
// starts sending.
func startLoad(c *cluster) *load {
	t := c.t
	t.Helper()
	l := &load{c: c, convs: map[string][]*member{}}
	var users []string
	for i := range loadUsers {
		users = append(users, loadUser(i))
	}
	c.users(append(users, "ops", "pr1", "pr2", "pr3")...)
	c.group("all", users[0], users[1:])
	c.group("probe", "ops", []string{"pr1", "pr2", "pr3"})
	for i, u := range users {
		transport := client.TransportWS
		if i >= loadUsers-3 {
			transport = client.TransportLongPoll
		}
		m := c.connect(u, i%3, transport)
		l.members = append(l.members, m)
		l.convs[allGroup] = append(l.convs[allGroup], m)
	}
	for i, u := range users {
		conv := parley.DirectConvID(u, loadUser(i+1))
		l.convs[conv] = []*member{l.members[i], l.members[(i+1)%loadUsers]}
	}
	for i := range 3 {
		m := c.connect(fmt.Sprintf("pr%d", i+1), i, client.TransportWS)
		l.members = append(l.members, m)
		l.convs[probeGroup] = append(l.convs[probeGroup], m)
	}
	ctx, cancel := context.WithCancel(context.Background())
	l.cancel = cancel
	for i := range loadUsers {
		l.wg.Add(1)
		go l.chat(ctx, i)
	}
	l.wg.Add(1)
	go l.backend(ctx)
	t.Cleanup(l.stop)
	return l
}

// chat is user i's sender.
func (l *load) chat(ctx context.Context, i int) {
	defer l.wg.Done()
	m := l.members[i]
	for n := 0; ctx.Err() == nil; n++ {
		body := text(fmt.Sprintf("%s#%d", m.user, n))
		// Not ctx: a send under way finishes even when the load stops,
		// so that every send ends answered or failed.
		sctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		var msg *parley.Message
		var err error
		if n%2 == 0 {
			msg, err = m.c.Send(sctx, loadUser(i+1), "", body)
		} else {
			msg, err = m.c.SendConv(sctx, allGroup, "", body)
		}
		cancel()
		l.record(m.user, msg, err)
		if err != nil {
			sleep(ctx, 100*time.Millisecond)
		}
	}
}

// backend is the business backend's sender.
func (l *load) backend(ctx context.Context) {
	defer l.wg.Done()
	node := 0
	tick := time.NewTicker(50 * time.Millisecond)
	defer tick.Stop()
	for n := 0; ; n++ {
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
		req := map[string]any{"from": "ops", "conv": probeGroup, "cmid": fmt.Sprintf("api-%d", n), "body": text(fmt.Sprintf("api#%d", n))}
		var res struct {
			Msg *parley.Message
			Dup bool
		}
		var err error
		for deadline := time.Now().Add(30 * time.Second); ; {
			if err = l.c.api(node, "POST", "/v1/server/messages", req, &res); err == nil || time.Now().After(deadline) {
				break
			}
			l.mu.Lock()
			l.apiRetries++
			l.mu.Unlock()
			node = (node + 1) % len(l.c.nodes)
			time.Sleep(20 * time.Millisecond)
		}
		if res.Dup {
			l.mu.Lock()
			l.apiDups++
			l.mu.Unlock()
		}
		l.record("api", res.Msg, err)
	}
}

func (l *load) record(by string, msg *parley.Message, err error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if err != nil || msg == nil {
		l.failed = append(l.failed, failure{by: by, at: time.Now(), err: err})
		return
	}
	l.acks = append(l.acks, ack{by: by, msg: *msg, at: time.Now()})
}

// stop ends the senders, waiting for the sends under way.
func (l *load) stop() {
	l.cancel()
	l.wg.Wait()
}

func sleep(ctx context.Context, d time.Duration) {
	select {
	case <-ctx.Done():
	case <-time.After(d):
	}
}

// firstAck is when user's first send answered after t was (zero if none).
func (l *load) firstAck(user string, t time.Time) time.Time {
	l.mu.Lock()
	defer l.mu.Unlock()
	for _, a := range l.acks {
		if a.by == user && a.at.After(t) {
			return a.at
		}
	}
	return time.Time{}
}

// failuresBetween lists the failed sends in [from, to).
func (l *load) failuresBetween(from, to time.Time) []failure {
	l.mu.Lock()
	defer l.mu.Unlock()
	var out []failure
	for _, f := range l.failed {
		if !f.at.Before(from) && f.at.Before(to) {
			out = append(out, f)
		}
	}
	return out
}

// pushRecovery waits (up to within) until each of the probe receivers
// has received a message of g:probe that its node accepted at or after
// t, and returns the longest wait from t; ok is false if one has not.
func (l *load) pushRecovery(t time.Time, within time.Duration, nodes ...int) (worst time.Duration, ok bool) {
	for _, m := range l.convs[probeGroup] {
		if len(nodes) > 0 && !slices.Contains(nodes, m.home) {
			continue
		}
		var first time.Time
		if !waitFor(within, func() bool { first = m.firstAfter(probeGroup, t); return !first.IsZero() }) {
			return 0, false
		}
		worst = max(worst, first.Sub(t))
	}
	return worst, true
}

// verdict is what a fault test found once the load stopped.
type verdict struct {
	acked, unacked, stored int
	// lost: acknowledged messages not stored as acknowledged, plus
	// stored messages a device never received; dup: messages stored
	// twice (the same text: one send) plus messages a device received
	// twice; reordered: messages a device received after a higher seq.
	lost, dup, reordered int
	history              map[string][]parley.Message // by conversation
}

func (v verdict) String() string {
	return fmt.Sprintf("%d sends acknowledged, %d unanswered; %d messages stored; lost %d, duplicated %d, reordered %d",
		v.acked, v.unacked, v.stored, v.lost, v.dup, v.reordered)
}

// finish stops the load, lets every device catch up and checks every
// conversation: its stored history (gapless, each send stored once, each
// acknowledged message at the seq it was acknowledged with) and every
// member device's received sequence (each stored seq exactly once, in
// order). Problems are test errors; the verdict counts them.
func (l *load) finish(t *testing.T) verdict {
	t.Helper()
	l.stop()
	v := verdict{history: map[string][]parley.Message{}}
	l.mu.Lock()
	v.acked, v.unacked = len(l.acks), len(l.failed)
	for _, f := range l.failed {
		t.Logf("unanswered send by %s at %s: %v", f.by, f.at.Format("15:04:05.000"), f.err)
	}
	l.mu.Unlock()
	for conv := range l.convs {
		msgs, err := l.c.history(conv)
		if err != nil {
			t.Fatal(err)
		}
		v.history[conv] = msgs
		v.stored += len(msgs)
		texts := map[string]int{}
		for _, m := range msgs {
			if s := bodyText(m); s != "" {
				if texts[s]++; texts[s] == 2 {
					v.dup++
					t.Errorf("%s: %q stored twice", conv, s)
				}
			}
		}
	}
	for _, a := range l.acks {
		msgs := v.history[a.msg.ConvID]
		if a.msg.Seq == 0 || a.msg.Seq > uint64(len(msgs)) || msgs[a.msg.Seq-1].ID != a.msg.ID {
			v.lost++
			t.Errorf("acknowledged %s seq %d (%s, by %s) is not stored as such", a.msg.ConvID, a.msg.Seq, a.msg.ID, a.by)
		}
	}
	// Devices catch up on their own: a reconnected one has resynced, and
	// one that missed pushes pulled the gap at the next push.
	deadline := time.Now().Add(20 * time.Second)
	for conv, ms := range l.convs {
		n := uint64(len(v.history[conv]))
		for _, m := range ms {
			waitFor(time.Until(deadline), func() bool { lost, _, _ := m.tally(conv, n); return lost == 0 })
			lost, dup, reordered := m.tally(conv, n)
			if lost+dup+reordered > 0 {
				t.Errorf("%s (home %s) in %s of %d messages: lost %d, duplicated %d, reordered %d",
					m.user, l.c.nodes[m.home].id, conv, n, lost, dup, reordered)
			}
			v.lost, v.dup, v.reordered = v.lost+lost, v.dup+dup, v.reordered+reordered
		}
	}
	return v
}

// checkEventLog replays the app's event stream from offset 0 through the
// server API and checks that it holds every stored message exactly once
// (by event id) and nothing else of those conversations, at gapless
// offsets.
func checkEventLog(t *testing.T, c *cluster, stored map[string][]parley.Message) {
	t.Helper()
	want := map[string]bool{}
	for _, msgs := range stored {
		for _, m := range msgs {
			want[events.MessageEventID(m.ID)] = true
		}
	}
	seen := map[string]int{}
	var offset uint64
	missing := func() int {
		n := 0
		for id := range want {
			if seen[id] == 0 {
				n++
			}
		}
		return n
	}
	deadline := time.Now().Add(30 * time.Second)
	for missing() > 0 && time.Now().Before(deadline) {
		var p events.Page
		if err := c.api(-1, "GET", fmt.Sprintf("/v1/server/events?after=%d&limit=1000&wait=1", offset), nil, &p); err != nil {
			t.Fatal(err)
		}
		for _, e := range p.Events {
			if e.Offset != offset+1 {
				t.Fatalf("event log: offset %d after %d, want gapless", e.Offset, offset)
			}
			offset = e.Offset
			seen[e.ID]++
			if e.Type == events.TypeMessage && !want[e.ID] {
				var m parley.Message
				_ = json.Unmarshal(e.Data, &m)
				if _, ours := stored[m.ConvID]; ours {
					t.Errorf("event log: message event %s of %s seq %d is not a stored message", e.ID, m.ConvID, m.Seq)
				}
			}
		}
	}
	dups := 0
	for id, n := range seen {
		if n > 1 {
			dups++
			t.Errorf("event log: event %s appears %d times", id, n)
		}
	}
	if n := missing(); n > 0 {
		t.Errorf("event log: %d of %d stored messages have no event after 30s", n, len(want))
	}
	t.Logf("event log replayed from 0: %d events, %d message events expected, missing %d, duplicated %d",
		offset, len(want), missing(), dups)
}

// testClusterKill: node n1 is killed (SIGKILL) under load. Its devices
// reconnect to n2 and n3 and resync; every acknowledged message is
// stored once, every device receives every message of its conversations
// once and in order, and the event stream replayed from the start holds
// every message once.
func testClusterKill(t *testing.T, bin string) {
	c := startCluster(t, bin, clusterOptions{})
	l := startLoad(c)
	time.Sleep(2 * time.Second)
	victim := c.nodes[0]
	killed := time.Now()
	victim.kill(t)
	var reconnect, firstSend time.Duration
	for _, m := range l.members {
		if m.home != 0 {
			continue
		}
		var at time.Time
		if !waitFor(15*time.Second, func() bool { at = m.connectedAfter(killed); return !at.IsZero() }) {
			t.Fatalf("%s did not reconnect within 15s of %s's death", m.user, victim.id)
		}
		reconnect = max(reconnect, at.Sub(killed))
		if strings.HasPrefix(m.user, "u") {
			if !waitFor(15*time.Second, func() bool { at = l.firstAck(m.user, killed); return !at.IsZero() }) {
				t.Fatalf("%s sent nothing within 15s of %s's death", m.user, victim.id)
			}
			firstSend = max(firstSend, at.Sub(killed))
		}
	}
	time.Sleep(4 * time.Second) // the load goes on with two nodes
	v := l.finish(t)
	t.Logf("kill -9 of %s: every device of it reconnected within %v, sent again within %v; the backend retried %d requests on another node (%d answered dup); %v",
		victim.id, reconnect.Round(time.Millisecond), firstSend.Round(time.Millisecond), l.apiRetries, l.apiDups, v)
	t.Run("event replay", func(t *testing.T) { checkEventLog(t, c, v.history) })
}

// testClusterRedisRestart: the Redis holding the connection table is
// killed and started again empty under load. Each node registers its
// connections again: pushes reach every node's devices within 10 s, and
// nothing acknowledged is lost.
func testClusterRedisRestart(t *testing.T, bin string) {
	addr, restart := testservers.RedisServer(t)
	c := startCluster(t, bin, clusterOptions{redis: addr})
	l := startLoad(c)
	time.Sleep(2 * time.Second)
	down := time.Now()
	restart()
	back := time.Now()
	recovery, ok := l.pushRecovery(back, 15*time.Second)
	if !ok {
		t.Errorf("pushes did not reach every node's devices within 15s of Redis coming back")
	} else if recovery > 10*time.Second {
		t.Errorf("pushes reached every node's devices %v after Redis came back, want < 10s", recovery)
	}
	time.Sleep(3 * time.Second)
	v := l.finish(t)
	t.Logf("Redis killed and restarted empty (down %v): pushes reached every node again %v after; %v",
		back.Sub(down).Round(time.Millisecond), recovery.Round(time.Millisecond), v)
	t.Run("event replay", func(t *testing.T) { checkEventLog(t, c, v.history) })
}

// testClusterNATSOutage: the NATS server is stopped for 10 s under load.
// Sends go on (stored; pushes to other nodes are lost and repaired by
// sync) or fail with a clear error; nothing acknowledged is lost; once
// NATS is back, pushes cross nodes again.
func testClusterNATSOutage(t *testing.T, bin string) {
	c := startCluster(t, bin, clusterOptions{})
	l := startLoad(c)
	time.Sleep(2 * time.Second)
	down := time.Now()
	c.nats.Stop()
	time.Sleep(10 * time.Second)
	// pr1 shares n1 with the backend's requests: its pushes never
	// needed NATS.
	into := down.Add(time.Second)
	if local := l.convs[probeGroup][0].firstAfter(probeGroup, into); local.IsZero() || local.Sub(into) > 3*time.Second {
		t.Errorf("pr1 on n1: no push of n1 within 3s, a second into the NATS outage (first at %v)", local)
	}
	c.nats.Start()
	back := time.Now()
	// The backend sends through n1: pr2 and pr3 get its pushes over NATS.
	recovery, ok := l.pushRecovery(back, 15*time.Second, 1, 2)
	if !ok {
		t.Errorf("pushes did not cross nodes within 15s of NATS coming back")
	} else if recovery > 10*time.Second {
		t.Errorf("pushes crossed nodes %v after NATS came back, want < 10s", recovery)
	}
	during := 0
	l.mu.Lock()
	for _, a := range l.acks {
		if a.at.After(down) && a.at.Before(back) {
			during++
		}
	}
	l.mu.Unlock()
	fails := l.failuresBetween(down, back.Add(time.Second))
	for _, f := range fails {
		var perr *parley.Error
		if !errors.As(f.err, &perr) || perr.Code != parley.EUnavailable || perr.Message == "" {
			t.Errorf("a send during the outage failed without a clear unavailable error: %v", f.err)
		}
	}
	time.Sleep(3 * time.Second)
	v := l.finish(t)
	t.Logf("NATS stopped for %v: %d sends acknowledged and %d failed meanwhile; pushes crossed nodes again %v after; %v",
		back.Sub(down).Round(time.Millisecond), during, len(fails), recovery.Round(time.Millisecond), v)
	t.Run("event replay", func(t *testing.T) { checkEventLog(t, c, v.history) })
}

// testClusterConsultAutoResolve: with the shop's auto_resolve_seconds at
// 1 and every node running its timers, each consultation whose user
// stays silent after the agent's message is resolved by "_system" exactly
// once: one resolved system message in its thread.
func testClusterConsultAutoResolve(t *testing.T, bin string) {
	c := startCluster(t, bin, clusterOptions{})
	const shoppers = 6
	var users []string
	for i := range shoppers {
		users = append(users, fmt.Sprintf("s%d", i))
	}
	c.users(append(users, "agent")...)
	c.must(0, "PUT", "/v1/server/consult/shops/s1", map[string]any{"name": "Shop", "auto_resolve_seconds": 1}, nil)
	c.must(1, "PUT", "/v1/server/consult/queues/s1", map[string]any{"shop": "s1", "strategy": "least_loaded"}, nil)
	c.must(2, "PUT", "/v1/server/consult/agents/agent", map[string]any{"shop": "s1", "max_load": shoppers, "status": "online"}, nil)
	agent := c.connect("agent", 1, client.TransportWS)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	ids := map[string]string{} // user -> consultation
	var shops []*member
	for i, u := range users {
		m := c.connect(u, i%3, client.TransportWS)
		shops = append(shops, m)
		co, err := m.c.OpenConsult(ctx, "s1", "", "", nil)
		if err != nil {
			t.Fatal(err)
		}
		ids[u] = co.ID
		if _, err := m.c.SendConv(ctx, parley.ConsultConvID("s1", u), "", text("hello?")); err != nil {
			t.Fatal(err)
		}
	}
	state := func(m *member) *parley.Consultation {
		res, err := m.c.ConsultInfo(ctx, ids[m.user])
		if err != nil {
			t.Fatal(err)
		}
		return res.Consult
	}
	for _, m := range shops {
		if !waitFor(10*time.Second, func() bool { return state(m).State == parley.ConsultAssigned }) {
			t.Fatalf("%s's consultation: state %s, want assigned", m.user, state(m).State)
		}
		if _, err := agent.c.SendConv(ctx, parley.ConsultConvID("s1", m.user), "", text("how can I help?")); err != nil {
			t.Fatal(err)
		}
	}
	answered := time.Now()
	for _, m := range shops {
		if !waitFor(10*time.Second, func() bool { return state(m).State == parley.ConsultResolved }) {
			t.Fatalf("%s's consultation: state %s 10s after the agent's message, want resolved", m.user, state(m).State)
		}
		if co := state(m); co.ResolvedBy != parley.SystemUserID {
			t.Errorf("%s's consultation resolved by %q, want %q", m.user, co.ResolvedBy, parley.SystemUserID)
		}
	}
	resolvedIn := time.Since(answered)
	time.Sleep(2500 * time.Millisecond) // every node's timer runs twice more
	for _, u := range users {
		msgs, err := c.history(parley.ConsultConvID("s1", u))
		if err != nil {
			t.Fatal(err)
		}
		resolved := 0
		for _, m := range msgs {
			var b struct{ Event, Consult string }
			if m.Kind == parley.KindSystem && json.Unmarshal(m.Body, &b) == nil && b.Event == "resolved" && b.Consult == ids[u] {
				resolved++
			}
		}
		if resolved != 1 {
			t.Errorf("%s's thread has %d resolved events, want 1", u, resolved)
		}
	}
	t.Logf("%d consultations auto-resolved once each with three nodes' timers running, all within %v of the agent's messages",
		shoppers, resolvedIn.Round(time.Millisecond))
}

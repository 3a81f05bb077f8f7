package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/parley-im/parley"
	"github.com/parley-im/parley/client"
	"github.com/parley-im/parley/internal/testservers"
)

// The multi-process tests: three `parley serve` processes of the real
// binary in production mode, sharing one PostgreSQL database
// (testservers.Postgres), one Redis (the shared one under a prefix of the
// test's own, or a private redis-server that the test restarts) and one
// NATS server (embedded in the test process, reached over TCP, which the
// test stops and starts again). Clients are the Go client, each told
// every node's address so that it fails over when its own node dies.
// cluster_fault_test.go has the fault tests; docs/benchmarks.md ("Fault
// tests (three nodes)") records their numbers.

// TestCluster builds the binary once and runs each scenario on a cluster
// of its own.
func TestCluster(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the binary and runs three nodes")
	}
	ignore := goleak.IgnoreCurrent()
	// Registered first, so it runs after every other cleanup (clients
	// closed, nodes killed, the NATS server stopped).
	t.Cleanup(func() { goleak.VerifyNone(t, ignore) })
	bin := buildBinary(t)
	t.Run("chat", func(t *testing.T) { testClusterChat(t, bin) })
	t.Run("consult auto-resolve", func(t *testing.T) { testClusterConsultAutoResolve(t, bin) })
	t.Run("kill -9", func(t *testing.T) { testClusterKill(t, bin) })
	t.Run("redis restart", func(t *testing.T) { testClusterRedisRestart(t, bin) })
	t.Run("nats outage", func(t *testing.T) { testClusterNATSOutage(t, bin) })
}

// cluster is three nodes sharing a database, a Redis and a NATS server.
type cluster struct {
	t     *testing.T
	key   string // the demo app's API key
	nodes []*clusterNode
	nats  *testservers.NATSServer
	http  *http.Client
}

type clusterNode struct {
	id, addr, url string
	cmd           *exec.Cmd
	log           string // the node's stdout and stderr
	exited        chan struct{}
}

// clusterOptions: redis is a Redis address ("" for the shared test Redis
// under a prefix of the test's own).
type clusterOptions struct {
	redis string
}

// startCluster starts nodes n1, n2 and n3 of bin (n1 first: it migrates
// the database and creates the demo app). Their logs go to files that are
// printed if the test fails; the nodes are killed when the test ends.
func startCluster(t *testing.T, bin string, o clusterOptions) *cluster {
	t.Helper()
	pg := testservers.Postgres(t)
	redisURL, prefix := "redis://"+o.redis, "t:"
	if o.redis == "" {
		rdb := testservers.Redis(t)
		redisURL, prefix = "redis://"+rdb.Options().Addr, testservers.RedisPrefix(t, rdb)
	}
	c := &cluster{t: t, nats: testservers.StartNATS(t), http: &http.Client{Timeout: 15 * time.Second}}
	t.Cleanup(c.http.CloseIdleConnections)
	for i := 1; i <= 3; i++ {
		data := t.TempDir()
		c.nodes = append(c.nodes, c.startNode(bin, fmt.Sprintf("n%d", i), data,
			"--postgres", pg, "--redis", redisURL, "--redis-prefix", prefix, "--nats", c.nats.URL(),
			// Short timers, so that the tests see failures quickly.
			"--heartbeat", "2s", "--idle-timeout", "6s", "--retry-interval", "2s", "--presence-debounce", "200ms"))
		if i == 1 {
			c.key = strings.TrimSpace(readFile(t, filepath.Join(data, "demo-app.key")))
		}
	}
	t.Cleanup(func() {
		if t.Failed() {
			for _, n := range c.nodes {
				b, _ := os.ReadFile(n.log)
				lines := strings.Split(strings.TrimSpace(string(b)), "\n")
				t.Logf("last log lines of node %s:\n%s", n.id, strings.Join(lines[max(0, len(lines)-40):], "\n"))
			}
		}
	})
	return c
}

var servingOn = regexp.MustCompile(`serving on (http://\S+)`)

// startNode runs `bin serve` as node id on a free port of 127.0.0.1 and
// returns once it serves.
func (c *cluster) startNode(bin, id, data string, flags ...string) *clusterNode {
	t := c.t
	t.Helper()
	n := &clusterNode{id: id, log: filepath.Join(t.TempDir(), id+".log"), exited: make(chan struct{})}
	logf, err := os.Create(n.log)
	if err != nil {
		t.Fatal(err)
	}
	args := append([]string{"serve", "--node", id, "--addr", "127.0.0.1:0", "--data", data, "--log-level", "warn"}, flags...)
	n.cmd = exec.Command(bin, args...)
	n.cmd.Stderr = logf
	stdout, err := n.cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := n.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	served := watchLines(stdout, logf, servingOn)
	go func() {
		_ = n.cmd.Wait() // after the pipe's reader is done
		logf.Close()
		close(n.exited)
	}()
	t.Cleanup(func() { n.kill(t) })
	select {
	case n.url = <-served:
	case <-n.exited:
		b, _ := os.ReadFile(n.log)
		t.Fatalf("node %s exited at start:\n%s", id, b)
	case <-time.After(30 * time.Second):
		t.Fatalf("node %s did not serve within 30s", id)
	}
	n.addr = strings.TrimPrefix(n.url, "http://")
	return n
}

// kill ends the node with SIGKILL, as a crash would, and waits for it.
func (n *clusterNode) kill(t *testing.T) {
	_ = n.cmd.Process.Signal(syscall.SIGKILL)
	select {
	case <-n.exited:
	case <-time.After(10 * time.Second):
		t.Errorf("node %s still running 10s after SIGKILL", n.id)
	}
}

func (n *clusterNode) alive() bool {
	select {
	case <-n.exited:
		return false
	default:
		return true
	}
}

// api calls the server API of node i (or, for i < 0, of the first live
// node) and decodes a 200 answer into out.
func (c *cluster) api(i int, method, path string, in, out any) error {
	if i < 0 {
		for j, n := range c.nodes {
			if n.alive() {
				i = j
				break
			}
		}
	}
	var body io.Reader
	if in != nil {
		b, err := json.Marshal(in)
		if err != nil {
			return err
		}
		body = bytes.NewReader(b)
	}
	req, err := http.NewRequest(method, c.nodes[i].url+path, body)
	if err != nil {
		return err
	}
	req.Header.Set("Authorization", "Bearer "+c.key)
	res, err := c.http.Do(req)
	if err != nil {
		return err
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	if res.StatusCode != http.StatusOK {
		return fmt.Errorf("%s %s on %s: status %d: %s", method, path, c.nodes[i].id, res.StatusCode, b)
	}
	if out != nil {
		return json.Unmarshal(b, out)
	}
	return nil
}

// must is api that fails the test on an error.
func (c *cluster) must(i int, method, path string, in, out any) {
	c.t.Helper()
	if err := c.api(i, method, path, in, out); err != nil {
		c.t.Fatal(err)
	}
}

func (c *cluster) users(ids ...string) {
	c.t.Helper()
	var us []map[string]string
	for _, id := range ids {
		us = append(us, map[string]string{"id": id})
	}
	c.must(0, "POST", "/v1/server/users", map[string]any{"users": us}, nil)
}

func (c *cluster) group(id, owner string, members []string) {
	c.t.Helper()
	c.must(0, "POST", "/v1/server/groups", map[string]any{"id": id, "owner": owner, "name": id, "members": members}, nil)
}

// history reads a conversation's whole history through the server API.
func (c *cluster) history(conv string) ([]parley.Message, error) {
	var all []parley.Message
	for {
		var page struct{ Msgs []parley.Message }
		path := fmt.Sprintf("/v1/server/conversations/%s/messages?after=%d&limit=200", conv, len(all))
		if err := c.api(-1, "GET", path, nil, &page); err != nil {
			return nil, err
		}
		if len(page.Msgs) == 0 {
			return all, nil
		}
		for _, m := range page.Msgs {
			if m.Seq != uint64(len(all))+1 {
				return nil, fmt.Errorf("%s: got seq %d after %d, want gapless", conv, m.Seq, len(all))
			}
			all = append(all, m)
		}
	}
}

// failover is a DialContext that ignores the address asked for and dials
// addrs in order, returning the first connection made: a client given
// every node's address, its own first, moves to the next one when its
// node is gone.
func failover(addrs ...string) func(ctx context.Context, network, _ string) (net.Conn, error) {
	return func(ctx context.Context, network, _ string) (net.Conn, error) {
		var errs []error
		for _, a := range addrs {
			d := net.Dialer{Timeout: time.Second}
			nc, err := d.DialContext(ctx, network, a)
			if err == nil {
				return nc, nil
			}
			errs = append(errs, err)
		}
		return nil, errors.Join(errs...)
	}
}

// member is one user's device connected to a home node (failing over to
// the others), recording what OnMessage delivers per conversation and
// when its connection comes and goes.
type member struct {
	user string
	home int
	c    *client.Client

	mu     sync.Mutex
	convs  map[string]*seqLog
	states []stateAt
}

type stateAt struct {
	at    time.Time
	state client.State
}

// seqLog is what one device received in one conversation: each seq's
// count, arrival time and server timestamp, and how many came after a
// higher one.
type seqLog struct {
	count     map[uint64]int
	at        map[uint64]time.Time
	ts        map[uint64]int64
	max       uint64
	reordered int
}

// connect dials a device of user at node home over transport, with every
// other node as fallback, and closes it when the test ends.
func (c *cluster) connect(user string, home int, transport string) *member {
	c.t.Helper()
	var tok struct{ Token string }
	c.must(home, "POST", "/v1/server/tokens", map[string]string{"user": user}, &tok)
	m := &member{user: user, home: home, convs: map[string]*seqLog{}}
	addrs := []string{c.nodes[home].addr}
	for i, n := range c.nodes {
		if i != home {
			addrs = append(addrs, n.addr)
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	cl, err := client.Dial(ctx, client.Options{
		URL: c.nodes[home].url, Token: tok.Token, Device: "d1", Transport: transport,
		DialContext: failover(addrs...),
		BackoffMin:  50 * time.Millisecond, BackoffMax: 500 * time.Millisecond,
		OnMessage: m.received,
		OnState: func(s client.State, _ error) {
			m.mu.Lock()
			m.states = append(m.states, stateAt{time.Now(), s})
			m.mu.Unlock()
		},
	})
	if err != nil {
		c.t.Fatalf("connect %s to %s: %v", user, c.nodes[home].id, err)
	}
	m.c = cl
	c.t.Cleanup(func() { _ = cl.Close() })
	return m
}

func (m *member) received(msg parley.Message) {
	now := time.Now()
	m.mu.Lock()
	defer m.mu.Unlock()
	l := m.convs[msg.ConvID]
	if l == nil {
		l = &seqLog{count: map[uint64]int{}, at: map[uint64]time.Time{}, ts: map[uint64]int64{}}
		m.convs[msg.ConvID] = l
	}
	if l.count[msg.Seq] == 0 {
		l.at[msg.Seq], l.ts[msg.Seq] = now, msg.Time
		if msg.Seq < l.max {
			l.reordered++
		}
		l.max = max(l.max, msg.Seq)
	}
	l.count[msg.Seq]++
}

// tally counts what m received of conv against its stored length n:
// seqs never received, received more than once (or never stored), and
// received after a higher one.
func (m *member) tally(conv string, n uint64) (lost, dup, reordered int) {
	m.mu.Lock()
	defer m.mu.Unlock()
	l := m.convs[conv]
	if l == nil {
		return int(n), 0, 0
	}
	for s := uint64(1); s <= n; s++ {
		if l.count[s] == 0 {
			lost++
		}
	}
	for s, k := range l.count {
		if s > n {
			dup += k
		} else {
			dup += k - 1
		}
	}
	return lost, dup, l.reordered
}

// firstAfter is when m first received a message of conv that its node
// accepted (per the message's timestamp) at or after t; zero if none has
// arrived yet.
func (m *member) firstAfter(conv string, t time.Time) time.Time {
	m.mu.Lock()
	defer m.mu.Unlock()
	var first time.Time
	if l := m.convs[conv]; l != nil {
		for seq, ts := range l.ts {
			if at := l.at[seq]; ts >= t.UnixMilli() && (first.IsZero() || at.Before(first)) {
				first = at
			}
		}
	}
	return first
}

// connectedAfter is when m's connection was next up after t (zero if it
// has not been).
func (m *member) connectedAfter(t time.Time) time.Time {
	m.mu.Lock()
	defer m.mu.Unlock()
	for _, s := range m.states {
		if s.state == client.StateConnected && s.at.After(t) {
			return s.at
		}
	}
	return time.Time{}
}

// text is a text message body.
func text(s string) json.RawMessage {
	b, _ := json.Marshal(map[string]string{"text": s})
	return b
}

// bodyText is a stored message's text ("" if it has none).
func bodyText(m parley.Message) string {
	var b struct{ Text string }
	_ = json.Unmarshal(m.Body, &b)
	return b.Text
}

// waitFor polls cond every 20 ms until it holds or within passes.
func waitFor(within time.Duration, cond func() bool) bool {
	deadline := time.Now().Add(within)
	for !cond() {
		if time.Now().After(deadline) {
			return false
		}
		time.Sleep(20 * time.Millisecond)
	}
	return true
}

// testClusterChat: alice on n1, bob on n2 and carol on n3 chat one to one
// and in a group; each device gets every message of its conversations,
// in order, once.
func testClusterChat(t *testing.T, bin string) {
	c := startCluster(t, bin, clusterOptions{})
	c.users("alice", "bob", "carol")
	alice := c.connect("alice", 0, client.TransportWS)
	bob := c.connect("bob", 1, client.TransportWS)
	carol := c.connect("carol", 2, client.TransportLongPoll)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	send := func(m *member, to, conv, s string) {
		t.Helper()
		var err error
		if conv != "" {
			_, err = m.c.SendConv(ctx, conv, "", text(s))
		} else {
			_, err = m.c.Send(ctx, to, "", text(s))
		}
		if err != nil {
			t.Fatalf("%s sends %q: %v", m.user, s, err)
		}
	}
	send(alice, "bob", "", "hi bob, from n1")
	send(bob, "alice", "", "hi alice, from n2")
	send(carol, "bob", "", "hi bob, from n3")
	send(bob, "carol", "", "hi carol, from n2")
	c.group("trio", "alice", []string{"bob", "carol"})
	for _, m := range []*member{alice, bob, carol} {
		send(m, "", "g:trio", "to everyone from "+m.user)
	}
	want := map[string][]string{
		parley.DirectConvID("alice", "bob"): {"hi bob, from n1", "hi alice, from n2"},
		parley.DirectConvID("bob", "carol"): {"hi bob, from n3", "hi carol, from n2"},
		"g:trio":                            {"", "to everyone from alice", "to everyone from bob", "to everyone from carol"},
	}
	for conv, texts := range want {
		msgs, err := c.history(conv)
		if err != nil {
			t.Fatal(err)
		}
		var got []string
		for _, m := range msgs {
			got = append(got, bodyText(m))
		}
		if fmt.Sprint(got) != fmt.Sprint(texts) {
			t.Fatalf("%s stored: got %q, want %q", conv, got, texts)
		}
		for _, m := range []*member{alice, bob, carol} {
			if conv != "g:trio" && !strings.Contains(conv, m.user) {
				continue
			}
			n := uint64(len(msgs))
			if !waitFor(10*time.Second, func() bool { lost, _, _ := m.tally(conv, n); return lost == 0 }) {
				t.Errorf("%s on %s: did not receive all %d messages of %s", m.user, c.nodes[m.home].id, n, conv)
			}
			if lost, dup, reordered := m.tally(conv, n); lost+dup+reordered != 0 {
				t.Errorf("%s in %s: lost %d, duplicated %d, reordered %d", m.user, conv, lost, dup, reordered)
			}
		}
	}
}

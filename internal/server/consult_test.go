package server_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/parley-im/parley"
	"github.com/parley-im/parley/internal/consult"
	"github.com/parley-im/parley/internal/consult/consulttest"
	"github.com/parley-im/parley/internal/server"
)

// cc is a WebSocket client for the consult tests: requests are matched
// to their answers by id, and every other frame is kept, in order, for
// the waits below (pushes may arrive before or after an answer).
type cc struct {
	*wsClient
	user    string
	backlog []map[string]any
	ids     atomic.Int64
}

func consultLogin(t *testing.T, n *node, user string) *cc {
	t.Helper()
	return &cc{wsClient: login(t, n, user), user: user}
}

// raw returns the next frame, acking msg pushes.
func (c *cc) raw(t *testing.T) map[string]any {
	t.Helper()
	f := c.wsClient.next(t)
	if f["type"] == "msg" {
		c.send(t, fmt.Sprintf(`{"type":"ack","n":[%d]}`, uint64(f["n"].(float64))))
	}
	return f
}

// req sends a request frame (its id is added) and returns the data of
// its res, or the code of its err.
func (c *cc) req(t *testing.T, frame string) (map[string]any, string) {
	t.Helper()
	id := fmt.Sprintf("r%d", c.ids.Add(1))
	c.send(t, `{"id":"`+id+`",`+strings.TrimPrefix(frame, "{"))
	for {
		f := c.raw(t)
		if (f["type"] == "res" || f["type"] == "err") && f["id"] == id {
			if f["type"] == "err" {
				return nil, errCode(f)
			}
			d, _ := f["data"].(map[string]any)
			return d, ""
		}
		c.backlog = append(c.backlog, f)
	}
}

func (c *cc) ok(t *testing.T, frame string) map[string]any {
	t.Helper()
	d, code := c.req(t, frame)
	if code != "" {
		t.Fatalf("%s %s: got err %q", c.user, frame, code)
	}
	return d
}

// frame returns the next kept or new frame.
func (c *cc) frame(t *testing.T) map[string]any {
	t.Helper()
	if len(c.backlog) > 0 {
		f := c.backlog[0]
		c.backlog = c.backlog[1:]
		return f
	}
	return c.raw(t)
}

// await returns the first kept or new frame that match accepts; the
// frames it passes over stay kept, in order, for later waits.
func (c *cc) await(t *testing.T, match func(f map[string]any) bool) map[string]any {
	t.Helper()
	if i := slices.IndexFunc(c.backlog, match); i >= 0 {
		f := c.backlog[i]
		c.backlog = slices.Delete(c.backlog, i, i+1)
		return f
	}
	for {
		f := c.raw(t)
		if match(f) {
			return f
		}
		c.backlog = append(c.backlog, f)
	}
}

// consultPush waits for the next consult push of one of events.
func (c *cc) consultPush(t *testing.T, events ...string) map[string]any {
	t.Helper()
	return c.await(t, func(f map[string]any) bool {
		return f["type"] == "consult" && slices.Contains(events, f["event"].(string))
	})
}

func consultOf(f map[string]any) map[string]any { return f["consult"].(map[string]any) }

// consultSetup creates shop s1 with the queue s1 of strategy and agents
// a1, a2, a3 (capacity 2, weights 3, 2, 1, online unless listed in away)
// and users; it returns the agents' clients.
func consultSetup(t *testing.T, n *node, strategy string, users []string, away ...string) map[string]*cc {
	t.Helper()
	n.users(t, append([]string{"a1", "a2", "a3"}, users...)...)
	if st := n.api(t, "PUT", "/v1/server/consult/shops/s1", map[string]any{"name": "Kettles", "greeting": "Hello, how can I help?"}, nil); st != 200 {
		t.Fatalf("shop: status %d", st)
	}
	if st := n.api(t, "PUT", "/v1/server/consult/queues/s1", map[string]any{"shop": "s1", "strategy": strategy}, nil); st != 200 {
		t.Fatalf("queue: status %d", st)
	}
	agents := map[string]*cc{}
	for i, a := range []string{"a1", "a2", "a3"} {
		status := "online"
		if slices.Contains(away, a) {
			status = "away"
		}
		body := map[string]any{"shop": "s1", "weight": 3 - i, "max_load": 2, "status": status, "supervisor": a == "a3"}
		if st := n.api(t, "PUT", "/v1/server/consult/agents/"+a, body, nil); st != 200 {
			t.Fatalf("agent %s: status %d", a, st)
		}
		agents[a] = consultLogin(t, n, a)
	}
	return agents
}

// consultNow has a user open a consultation of s1 and write, and returns
// the client, the consultation id and the first of the assigned or
// waiting pushes.
func consultNow(t *testing.T, n *node, user, text string) (*cc, string, map[string]any) {
	t.Helper()
	c := consultLogin(t, n, user)
	d := c.ok(t, `{"type":"consult_open","shop":"s1","entry":"product","context":{"sku":"K-1"}}`)
	id := consultOf(d)["id"].(string)
	c.ok(t, fmt.Sprintf(`{"type":"send","conv":"%s","body":{"text":%q}}`, parley.ConsultConvID("s1", user), text))
	return c, id, c.consultPush(t, "assigned", "waiting")
}

// strategyScenario: a2 starts away; u01 and u02 consult; a2 comes
// online; u03..u10 consult one after the other. The six slots go as
// want says; u07..u10 wait with positions 1..4. Then the agents resolve
// u01..u04's consultations one by one: each frees a slot that goes to
// the head of the line, u07 first, and the others are told their new
// positions.
func strategyScenario(t *testing.T, strategy string, want []string) {
	n := startNode(t, "gws")
	users := []string{"u01", "u02", "u03", "u04", "u05", "u06", "u07", "u08", "u09", "u10"}
	agents := consultSetup(t, n, strategy, users, "a2")
	clients := map[string]*cc{}
	ids := map[string]string{}
	var got []string
	served := map[string]string{}
	for i, u := range users {
		if i == 2 {
			agents["a2"].ok(t, `{"type":"consult_status","status":"online"}`)
		}
		c, id, f := consultNow(t, n, u, "is this kettle 220V?")
		clients[u], ids[u] = c, id
		if i < 6 {
			if f["event"] != "assigned" {
				t.Fatalf("%s: got %v, want assigned", u, f)
			}
			a := consultOf(f)["agent"].(string)
			got = append(got, a)
			served[u] = a
			continue
		}
		if f["event"] != "waiting" || f["position"] != float64(i-5) {
			t.Fatalf("%s: got %v, want waiting at %d", u, f, i-5)
		}
	}
	if !slices.Equal(got, want) {
		t.Fatalf("%s: assignments got %v, want %v", strategy, got, want)
	}
	if strategy == "sticky" {
		// A second round: everyone resolved, then u06..u01 consult
		// again in reverse order and each gets their last agent.
		for _, u := range users[:6] {
			agents[served[u]].ok(t, fmt.Sprintf(`{"type":"consult_resolve","consult":%q}`, ids[u]))
			// Each resolution assigns the head of the line: u07..u10
			// for the first four; resolve those at once too.
		}
		for _, u := range users[6:] {
			f := clients[u].consultPush(t, "assigned")
			a := consultOf(f)["agent"].(string)
			agents[a].ok(t, fmt.Sprintf(`{"type":"consult_resolve","consult":%q}`, consultOf(f)["id"]))
		}
		for i := 5; i >= 0; i-- {
			u := users[i]
			clients[u].ok(t, fmt.Sprintf(`{"type":"send","conv":"%s","body":{"text":"me again"}}`, parley.ConsultConvID("s1", u)))
			f := clients[u].consultPush(t, "assigned")
			if a := consultOf(f)["agent"]; a != served[u] {
				t.Fatalf("sticky: %s got %v, want %s who served them last", u, a, served[u])
			}
		}
		return
	}
	// First come, first served as slots free.
	for k, u := range users[:4] {
		agents[served[u]].ok(t, fmt.Sprintf(`{"type":"consult_resolve","consult":%q}`, ids[u]))
		head := users[6+k]
		f := clients[head].consultPush(t, "assigned")
		if a := consultOf(f)["agent"]; a != served[u] {
			t.Fatalf("%s: assigned to %v, want %s whose slot freed", head, a, served[u])
		}
		for j, w := range users[7+k:] {
			p := clients[w].consultPush(t, "waiting")
			if p["position"] != float64(j+1) {
				t.Fatalf("%s: position %v, want %d", w, p["position"], j+1)
			}
		}
		// The user who resolved is told, and the resolution is a
		// system message in the thread.
		rf := clients[u].consultPush(t, "resolved")
		if consultOf(rf)["resolved_by"] != served[u] {
			t.Fatalf("resolved push: got %v", rf)
		}
	}
}

func TestConsultEven(t *testing.T) {
	strategyScenario(t, "even", []string{"a1", "a3", "a1", "a2", "a3", "a2"})
}

func TestConsultLeastLoaded(t *testing.T) {
	strategyScenario(t, "least_loaded", []string{"a1", "a3", "a2", "a1", "a2", "a3"})
}

func TestConsultWeighted(t *testing.T) {
	strategyScenario(t, "weighted", []string{"a1", "a1", "a2", "a3", "a2", "a3"})
}

func TestConsultSticky(t *testing.T) {
	strategyScenario(t, "sticky", []string{"a1", "a3", "a2", "a1", "a2", "a3"})
}

// TestConsultTransferKeepsHistory: a transfer takes the thread, with its
// history, to the new agent (now a member) and away from the old one.
func TestConsultTransferKeepsHistory(t *testing.T) {
	n := startNode(t, "nbio")
	agents := consultSetup(t, n, "least_loaded", []string{"u1"})
	u, id, f := consultNow(t, n, "u1", "my order is late")
	if consultOf(f)["agent"] != "a1" {
		t.Fatalf("got %v, want a1", f)
	}
	conv := parley.ConsultConvID("s1", "u1")
	agents["a1"].ok(t, fmt.Sprintf(`{"type":"send","conv":%q,"body":{"text":"let me check"}}`, conv))
	d := agents["a1"].ok(t, fmt.Sprintf(`{"type":"consult_transfer","consult":%q,"agent":"a2","note":"logistics"}`, id))
	if consultOf(d)["agent"] != "a2" {
		t.Fatalf("transfer answer: %v", d)
	}
	if p := u.consultPush(t, "transferred"); consultOf(p)["agent"] != "a2" {
		t.Fatalf("user push: %v", p)
	}
	pull := agents["a2"].ok(t, fmt.Sprintf(`{"type":"pull","conv":%q,"limit":50}`, conv))
	var texts []string
	for _, m := range pull["msgs"].([]any) {
		b := m.(map[string]any)["body"].(map[string]any)
		if s, ok := b["text"].(string); ok && b["auto"] == nil {
			texts = append(texts, s)
		}
		if b["event"] == "transferred" && (b["from"] != "a1" || b["note"] != "logistics") {
			t.Fatalf("transfer system message: %v", b)
		}
	}
	if !slices.Equal(texts, []string{"my order is late", "let me check"}) {
		t.Fatalf("history seen by a2: %v", texts)
	}
	if _, code := agents["a1"].req(t, fmt.Sprintf(`{"type":"pull","conv":%q}`, conv)); code != parley.EForbidden {
		t.Fatalf("a1 pulls after the transfer: got %q, want forbidden", code)
	}
	if _, code := agents["a1"].req(t, fmt.Sprintf(`{"type":"consult_resolve","consult":%q}`, id)); code != parley.EForbidden {
		t.Fatalf("a1 resolves after the transfer: got %q, want forbidden", code)
	}
	agents["a2"].ok(t, fmt.Sprintf(`{"type":"send","conv":%q,"body":{"text":"found it"}}`, conv))
	for {
		fr := u.frame(t)
		if fr["type"] == "msg" && fr["msg"].(map[string]any)["from"] == "a2" {
			break
		}
	}
	// The supervisor watches it and sees the same thread.
	w := agents["a3"].ok(t, fmt.Sprintf(`{"type":"consult_watch","consult":%q}`, id))
	if len(w["msgs"].([]any)) != len(pull["msgs"].([]any))+1 {
		t.Fatalf("watch: %d messages, want %d", len(w["msgs"].([]any)), len(pull["msgs"].([]any))+1)
	}
	if _, code := agents["a1"].req(t, fmt.Sprintf(`{"type":"consult_watch","consult":%q}`, id)); code != parley.EForbidden {
		t.Fatalf("watch by a non-supervisor: got %q, want forbidden", code)
	}
}

// TestConsultAutoResolve: with auto_resolve_seconds 60 the consultation
// resolves 60 s (of the injected clock) after the agent's message if the
// user stays silent; a user message in between restarts the wait.
func TestConsultAutoResolve(t *testing.T) {
	clock := consulttest.NewClock(time.Date(2026, 3, 2, 9, 0, 0, 0, time.UTC))
	n := startNode(t, "gws", func(c *server.Config) { c.ConsultClock = clock })
	agents := consultSetup(t, n, "least_loaded", []string{"u1"})
	if st := n.api(t, "PUT", "/v1/server/consult/shops/s1", map[string]any{"auto_resolve_seconds": 60}, nil); st != 200 {
		t.Fatalf("shop: %d", st)
	}
	u, id, _ := consultNow(t, n, "u1", "hello?")
	conv := parley.ConsultConvID("s1", "u1")
	state := func() string {
		return consultOf(u.ok(t, fmt.Sprintf(`{"type":"consult_info","consult":%q}`, id)))["state"].(string)
	}
	// waitDue waits for the worker to record the last message: the
	// consultation is due to resolve after an agent's message, not after
	// the user's.
	waitDue := func(want bool) {
		t.Helper()
		deadline := time.Now().Add(5 * time.Second)
		for {
			c := consultOf(u.ok(t, fmt.Sprintf(`{"type":"consult_info","consult":%q}`, id)))
			if due := c["resolve_due"] != nil; due == want {
				return
			}
			if time.Now().After(deadline) {
				t.Fatalf("resolve_due: got %v, want it set %v", c["resolve_due"], want)
			}
			time.Sleep(5 * time.Millisecond)
		}
	}
	// step returns once the timer step it set off has run, so "not
	// resolved yet" below is a fact, not a guess.
	step := stepper(t, clock)
	agents["a1"].ok(t, fmt.Sprintf(`{"type":"send","conv":%q,"body":{"text":"yes?"}}`, conv))
	waitDue(true)
	step(50 * time.Second)
	u.ok(t, fmt.Sprintf(`{"type":"send","conv":%q,"body":{"text":"one more thing"}}`, conv))
	waitDue(false)
	step(50 * time.Second) // 100 s after the agent's message, 50 after the user's
	if s := state(); s != "assigned" {
		t.Fatalf("after the user wrote: state %s, want assigned", s)
	}
	agents["a1"].ok(t, fmt.Sprintf(`{"type":"send","conv":%q,"body":{"text":"done?"}}`, conv))
	waitDue(true)
	step(59 * time.Second)
	if s := state(); s != "assigned" {
		t.Fatalf("59 s of silence: state %s, want assigned", s)
	}
	step(2 * time.Second)
	f := u.consultPush(t, "resolved")
	if c := consultOf(f); c["resolved_by"] != parley.SystemUserID || c["agent"] != "a1" {
		t.Fatalf("resolved push: %v", f)
	}
	// Rated once, by the user only.
	if _, code := agents["a1"].req(t, fmt.Sprintf(`{"type":"consult_rate","consult":%q,"score":5}`, id)); code != parley.EForbidden {
		t.Fatalf("agent rates: got %q, want forbidden", code)
	}
	u.ok(t, fmt.Sprintf(`{"type":"consult_rate","consult":%q,"score":4,"comment":"fine"}`, id))
	if _, code := u.req(t, fmt.Sprintf(`{"type":"consult_rate","consult":%q,"score":5}`, id)); code != parley.EConflict {
		t.Fatalf("second rating: got %q, want conflict", code)
	}
}

// stepper returns a function that moves clock by d and returns once
// the consult timer step the move set off has run (consulttest's Step).
func stepper(t *testing.T, clock *consulttest.Clock) func(d time.Duration) {
	return func(d time.Duration) {
		t.Helper()
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if err := clock.Step(ctx, d); err != nil {
			t.Fatalf("stepping the clock: %v", err)
		}
	}
}

// consultDebounce is the presence debounce of the consult tests: they
// never reconnect within it on purpose, so it only has to be short.
const consultDebounce = 50 * time.Millisecond

// TestConsultPresenceToServingAgents: when a user comes online, the agent
// serving them is told; another online agent is not.
func TestConsultPresenceToServingAgents(t *testing.T) {
	n := startNode(t, "gws", func(c *server.Config) { c.PresenceDebounce = consultDebounce })
	agents := consultSetup(t, n, "least_loaded", []string{"u1"})
	u, _, f := consultNow(t, n, "u1", "hi")
	if consultOf(f)["agent"] != "a1" {
		t.Fatalf("got %v, want a1", f)
	}
	_ = u.conn.NetConn().Close()
	for {
		p := agents["a1"].frame(t)
		if p["type"] == "presence" && p["user"] == "u1" && p["online"] == false {
			break
		}
	}
	u2 := consultLogin(t, n, "u1")
	for {
		p := agents["a1"].frame(t)
		if p["type"] == "presence" && p["user"] == "u1" && p["online"] == true {
			break
		}
	}
	_ = u2
	// The same push went to a1 and would have gone to a2: a moment and
	// a ping later, it would be there.
	agents["a2"].quiet(t, "presence", 4*consultDebounce)
}

// TestConsultHundredAtOnce: 100 users consult at the same moment against
// 10 agents of capacity 3: exactly 30 are assigned, none twice, no agent
// over capacity; as the 30 are resolved at once, the next 30 in line
// (the head of the waiting line as it stood) are assigned, and so on.
func TestConsultHundredAtOnce(t *testing.T) {
	n := startNode(t, "gws")
	var users, agents []string
	for i := range 100 {
		users = append(users, fmt.Sprintf("h%03d", i))
	}
	for i := range 10 {
		agents = append(agents, fmt.Sprintf("g%02d", i))
	}
	n.users(t, append(agents, users...)...)
	n.api(t, "PUT", "/v1/server/consult/shops/s1", map[string]any{}, nil)
	for _, a := range agents {
		if st := n.api(t, "PUT", "/v1/server/consult/agents/"+a, map[string]any{"shop": "s1", "max_load": 3, "status": "online"}, nil); st != 200 {
			t.Fatalf("agent: %d", st)
		}
	}
	// Every client asks before any answer is awaited, so that the
	// server works on the authentications, then the openings, together
	// (as it would for 100 real users) rather than one at a time.
	clients := make([]*cc, len(users))
	for i, u := range users {
		clients[i] = &cc{wsClient: dialWS(t, n), user: u}
		clients[i].send(t, `{"type":"auth","id":"a","token":"`+n.token(t, u)+`","device":"d1","platform":"web"}`)
	}
	for _, frame := range []string{"", `{"type":"consult_open","id":"o","shop":"s1"}`} {
		for _, c := range clients {
			if frame != "" {
				c.send(t, frame)
			}
		}
		for _, c := range clients {
			if f := c.await(t, func(f map[string]any) bool { return f["type"] == "res" || f["type"] == "err" }); f["type"] != "res" {
				t.Fatalf("%s: got %v", c.user, f)
			}
		}
	}
	var wg sync.WaitGroup
	for i, c := range clients {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := c.conn.WriteString(fmt.Sprintf(`{"type":"send","id":"x","conv":"%s","body":{"text":"now!"}}`, parley.ConsultConvID("s1", users[i]))); err != nil {
				t.Errorf("send: %v", err)
			}
		}()
	}
	wg.Wait()
	st := n.Store().(consult.Store)
	ctx := context.Background()
	count := func(state parley.ConsultState) []parley.Consultation {
		t.Helper()
		cs, err := st.Consults(ctx, "demo", consult.Filter{Shop: "s1", States: []parley.ConsultState{state}})
		if err != nil {
			t.Fatal(err)
		}
		return cs
	}
	var line []parley.Consultation // the waiting line when the last round was resolved
	for round := 0; round < 4; round++ {
		want := min(30, 100-30*round)
		// Wait on the agents' loads (ten rows; they move with the
		// assignments, in the same transactions), then for the line to
		// hold everyone else.
		deadline := time.Now().Add(30 * time.Second)
		for {
			as, err := st.Agents(ctx, "demo", "s1")
			if err != nil {
				t.Fatal(err)
			}
			total := 0
			for _, a := range as {
				if a.Load > a.MaxLoad {
					t.Fatalf("agent %s holds %d, over its capacity %d", a.ID, a.Load, a.MaxLoad)
				}
				total += a.Load
			}
			if total > want {
				t.Fatalf("round %d: loads add up to %d, want %d", round, total, want)
			}
			if total == want && len(count(parley.ConsultPending)) == max(0, 100-30*(round+1)) {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("round %d: loads add up to %d, want %d", round, total, want)
			}
			time.Sleep(20 * time.Millisecond)
		}
		assigned := count(parley.ConsultAssigned)
		if len(assigned) != want {
			t.Fatalf("round %d: %d assigned, want %d", round, len(assigned), want)
		}
		if round > 0 {
			var got, head []string
			for _, c := range assigned {
				got = append(got, c.ID)
			}
			for _, c := range line[:want] {
				head = append(head, c.ID)
			}
			slices.Sort(got)
			slices.Sort(head)
			if !slices.Equal(got, head) {
				t.Fatalf("round %d: assigned %v, want the head of the line %v", round, got, head)
			}
		}
		var err error
		if line, err = st.Waiting(ctx, "demo", "s1", parley.MaxConsultsListed); err != nil {
			t.Fatal(err)
		}
		var rwg sync.WaitGroup
		for _, c := range assigned {
			rwg.Add(1)
			go func() {
				defer rwg.Done()
				if st := n.api(t, "POST", "/v1/server/consult/consultations/"+c.ID+"/resolve", nil, nil); st != 200 {
					t.Errorf("resolve: %d", st)
				}
			}()
		}
		rwg.Wait()
	}
	evs, err := st.Events(ctx, "demo", 0, 1<<53)
	if err != nil {
		t.Fatal(err)
	}
	times := map[string]int{}
	for _, e := range evs {
		if e.Kind == consult.EvAssigned {
			times[e.Consult]++
		}
	}
	if len(times) != 100 {
		t.Fatalf("%d consultations were assigned, want 100", len(times))
	}
	for id, k := range times {
		if k != 1 {
			t.Fatalf("consultation %s assigned %d times", id, k)
		}
	}
}

// TestConsultMetricsOfAScriptedDay: a day of three consultations on the
// injected clock gives the metrics computed by hand, and the same after
// a restart of the node.
func TestConsultMetricsOfAScriptedDay(t *testing.T) {
	day := time.Date(2026, 3, 2, 0, 0, 0, 0, time.UTC)
	clock := consulttest.NewClock(day.Add(9 * time.Hour))
	data := t.TempDir()
	start := func() *node {
		cfg := server.Config{Addr: "127.0.0.1:0", DataDir: data, Transport: "gws", Out: io.Discard, ConsultClock: clock,
			Logger: slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))}
		s, err := server.Start(context.Background(), cfg)
		if err != nil {
			t.Fatal(err)
		}
		key, _ := os.ReadFile(filepath.Join(data, server.DemoKeyFile))
		return &node{Server: s, key: strings.TrimSpace(string(key)), data: data}
	}
	n := start()
	agents := consultSetup(t, n, "least_loaded", []string{"u1", "u2", "u3"})
	conv := func(u string) string { return parley.ConsultConvID("s1", u) }
	say := func(c *cc, u, text string) {
		c.ok(t, fmt.Sprintf(`{"type":"send","conv":%q,"body":{"text":%q}}`, conv(u), text))
	}
	// settle waits for k message events, then a1 resolves id and the
	// user rates it.
	settle := func(k int, user *cc, id string, score int) {
		waitRecorded(t, n, k)
		agents["a1"].ok(t, fmt.Sprintf(`{"type":"consult_resolve","consult":%q}`, id))
		user.ok(t, fmt.Sprintf(`{"type":"consult_rate","consult":%q,"score":%d}`, id, score))
	}
	// 09:00:00 u1 writes, a1 answers after 20 s; u1 writes at 09:01:00,
	// a1 answers at 09:01:50; resolved at 09:05:00; rated 5.
	u1, id1, _ := consultNow(t, n, "u1", "hi")
	clock.Advance(20 * time.Second)
	say(agents["a1"], "u1", "hello")
	clock.Advance(40 * time.Second)
	say(u1, "u1", "is it in stock?")
	clock.Advance(50 * time.Second)
	say(agents["a1"], "u1", "yes")
	clock.Advance(190 * time.Second)
	settle(4, u1, id1, 5)
	// 10:30:00 u2 writes, a1 answers after 45 s, resolved at 10:40, rated 3.
	clock.Advance(85 * time.Minute)
	u2, id2, _ := consultNow(t, n, "u2", "hi")
	clock.Advance(45 * time.Second)
	say(agents["a1"], "u2", "hello")
	clock.Advance(9*time.Minute + 15*time.Second)
	settle(6, u2, id2, 3)
	// 11:00:00 u3 writes, nobody answers; the backend resolves at 11:10.
	clock.Advance(20 * time.Minute)
	_, id3, _ := consultNow(t, n, "u3", "anyone?")
	clock.Advance(10 * time.Minute)
	waitRecorded(t, n, 7)
	if st := n.api(t, "POST", "/v1/server/consult/consultations/"+id3+"/resolve", nil, nil); st != 200 {
		t.Fatalf("resolve: %d", st)
	}
	from, to := day.UnixMilli(), day.Add(24*time.Hour).UnixMilli()
	h := func(hour int) int64 { return day.Add(time.Duration(hour) * time.Hour).UnixMilli() }
	want := consult.Report{
		From: from, To: to, Consultations: 3, Replied: 2, FirstReply30s: 1, FirstReply60s: 2,
		ReplyRate30s: 1.0 / 3, ReplyRate60s: 2.0 / 3, AvgFirstReplyMs: 32_500,
		Responses: 3, AvgResponseMs: (20_000 + 50_000 + 45_000) / 3.0, NoResponse: 1,
		Resolved: 3, AvgResolutionMs: (300_000 + 600_000 + 600_000) / 3.0,
		Ratings: 2, AvgRating: 4, RatingCounts: [5]int{0, 0, 1, 0, 1},
		Hours:  []consult.HourCount{{Hour: h(9), Count: 1}, {Hour: h(10), Count: 1}, {Hour: h(11), Count: 1}},
		Agents: []consult.AgentReport{{Agent: "a1", Assigned: 3, PeakLoad: 1, Load: 0}},
	}
	check := func(n *node, when string) {
		t.Helper()
		var got consult.Report
		if st := n.api(t, "GET", fmt.Sprintf("/v1/server/consult/metrics?shop=s1&from=%d&to=%d", from, to), nil, &got); st != 200 {
			t.Fatalf("%s: metrics status %d", when, st)
		}
		gj, _ := json.Marshal(got)
		wj, _ := json.Marshal(want)
		if string(gj) != string(wj) {
			t.Fatalf("%s: metrics\ngot  %s\nwant %s", when, gj, wj)
		}
		var none consult.Report
		n.api(t, "GET", fmt.Sprintf("/v1/server/consult/metrics?agent=a2&from=%d&to=%d", from, to), nil, &none)
		if none.Consultations != 0 {
			t.Fatalf("%s: a2's consultations: got %d, want 0", when, none.Consultations)
		}
	}
	check(n, "before the restart")
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	_ = n.Close(ctx)
	cancel()
	n2 := start()
	t.Cleanup(func() { _ = n2.Close(context.Background()) })
	check(n2, "after the restart")
}

// waitRecorded waits until the demo app's event log holds k message
// events (the workers record them after the sends are answered).
func waitRecorded(t *testing.T, n *node, k int) {
	t.Helper()
	st := n.Store().(consult.Store)
	deadline := time.Now().Add(5 * time.Second)
	for {
		evs, err := st.Events(context.Background(), "demo", 0, 1<<53)
		if err != nil {
			t.Fatal(err)
		}
		got := 0
		for _, e := range evs {
			if e.Kind == consult.EvUserMsg || e.Kind == consult.EvAgentMsg {
				got++
			}
		}
		if got >= k {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d message events recorded, want %d", got, k)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

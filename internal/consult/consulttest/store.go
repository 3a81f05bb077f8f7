package consulttest

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"slices"
	"sync"
	"testing"

	"github.com/parley-im/parley"
	"github.com/parley-im/parley/internal/consult"
)

// Harness is an implementation under test: the store, and a way to
// create users of an app (agents must be users).
type Harness struct {
	Store    consult.Store
	AddUsers func(ctx context.Context, appID string, ids ...string) error
}

// RunStoreTests runs the consult.Store contract suite: one named subtest
// per promise of the interface's doc comments. open is called once per
// subtest; every subtest works in an app of its own, so a shared
// database works as well as a fresh one.
func RunStoreTests(t *testing.T, open func(t *testing.T) Harness) {
	run := func(name string, f func(t *testing.T, s *suite)) {
		t.Run(name, func(t *testing.T) {
			h := open(t)
			b := make([]byte, 6)
			_, _ = rand.Read(b)
			s := &suite{h: h, st: h.Store, app: "ct" + hex.EncodeToString(b), ctx: context.Background()}
			s.setup(t)
			f(t, s)
		})
	}
	run("SettingsRoundTrip", testSettings)
	run("OpenIsOncePerThread", testOpenOnce)
	run("AssignRespectsStateAndCapacity", testAssignGuards)
	run("TransferAndResolveRelease", testTransferResolve)
	run("ConcurrentAssignmentsNeverOverCapacity", testConcurrentAssign)
	run("MessagesRepliesAndDue", testMessages)
	run("WaitingOrderAndLookups", testWaitingAndLookups)
	run("RateOnceAfterResolution", testRate)
	run("EventsAndLoads", testEvents)
}

type suite struct {
	h   Harness
	st  consult.Store
	app string
	ctx context.Context
	at  int64
}

// setup creates shop "s1" with agents a1..a3 (online, max 2) and users
// u1..u9.
func (s *suite) setup(t *testing.T) {
	t.Helper()
	ids := []string{"a1", "a2", "a3"}
	for i := 1; i <= 9; i++ {
		ids = append(ids, fmt.Sprintf("u%d", i))
	}
	if err := s.h.AddUsers(s.ctx, s.app, ids...); err != nil {
		t.Fatal(err)
	}
	if err := s.st.PutShop(s.ctx, &parley.Shop{AppID: s.app, ID: "s1", Name: "Shop"}); err != nil {
		t.Fatalf("PutShop: %v", err)
	}
	for _, a := range ids[:3] {
		ag := &parley.Agent{AppID: s.app, ID: a, Shop: "s1", Weight: 1, MaxLoad: 2, Status: parley.AgentOnline, Teams: []string{"t-" + a}}
		if err := s.st.PutAgent(s.ctx, ag); err != nil {
			t.Fatalf("PutAgent %s: %v", a, err)
		}
	}
	s.at = 1_000_000
}

func (s *suite) tick() int64 { s.at += 1000; return s.at }

// open opens a pending consultation for user.
func (s *suite) open(t *testing.T, user string) *parley.Consultation {
	t.Helper()
	at := s.tick()
	c := &parley.Consultation{AppID: s.app, ID: fmt.Sprintf("c-%s-%d", user, at), Shop: "s1", User: user,
		Conv: parley.ConsultConvID("s1", user), Queue: "s1", State: parley.ConsultPending, OpenedAt: at, PendingAt: at}
	created, err := s.st.Open(s.ctx, c)
	if err != nil || !created {
		t.Fatalf("Open %s: got %v, %v, want created", user, created, err)
	}
	return c
}

func (s *suite) assign(c *parley.Consultation, agent string) (*parley.Consultation, error) {
	return s.st.Transition(s.ctx, consult.Transition{AppID: s.app, ID: c.ID, To: parley.ConsultAssigned, Agent: agent,
		From: []parley.ConsultState{parley.ConsultPending, parley.ConsultAssigned}, By: parley.SystemUserID, At: s.tick()})
}

func (s *suite) load(t *testing.T, agent string) int {
	t.Helper()
	a, err := s.st.Agent(s.ctx, s.app, agent)
	if err != nil {
		t.Fatalf("Agent %s: %v", agent, err)
	}
	return a.Load
}

func (s *suite) members(t *testing.T, conv string) []string {
	t.Helper()
	m, err := s.st.Members(s.ctx, s.app, conv)
	if err != nil {
		t.Fatalf("Members %s: %v", conv, err)
	}
	return m
}

func wantCode(t *testing.T, what string, err error, code string) {
	t.Helper()
	if got := parley.ErrorCode(err); got != code {
		t.Fatalf("%s: got error %v (%q), want %q", what, err, got, code)
	}
}

func testSettings(t *testing.T, s *suite) {
	sh, err := s.st.Shop(s.ctx, s.app, "s1")
	if err != nil || sh.Name != "Shop" || sh.AppID != s.app {
		t.Fatalf("Shop: got %+v, %v", sh, err)
	}
	_, err = s.st.Shop(s.ctx, s.app, "nope")
	wantCode(t, "Shop missing", err, parley.ENotFound)
	wantCode(t, "PutQueue without shop", s.st.PutQueue(s.ctx, &parley.ConsultQueue{AppID: s.app, ID: "q", Shop: "nope", Strategy: parley.StrategyEven}), parley.ENotFound)
	q := &parley.ConsultQueue{AppID: s.app, ID: "q1", Shop: "s1", Strategy: parley.StrategyEven, Team: "t"}
	if err := s.st.PutQueue(s.ctx, q); err != nil {
		t.Fatal(err)
	}
	got, err := s.st.Queue(s.ctx, s.app, "q1")
	if err != nil || got.Strategy != parley.StrategyEven || got.Team != "t" {
		t.Fatalf("Queue: got %+v, %v", got, err)
	}
	if qs, err := s.st.Queues(s.ctx, s.app, "s1"); err != nil || len(qs) != 1 {
		t.Fatalf("Queues: got %+v, %v", qs, err)
	}
	wantCode(t, "PutAgent of no user", s.st.PutAgent(s.ctx, &parley.Agent{AppID: s.app, ID: "ghost", Shop: "s1", Weight: 1, MaxLoad: 1, Status: parley.AgentOnline}), parley.ENotFound)
	a, err := s.st.SetAgentStatus(s.ctx, s.app, "a1", parley.AgentAway)
	if err != nil || a.Status != parley.AgentAway {
		t.Fatalf("SetAgentStatus: got %+v, %v", a, err)
	}
	// A profile update keeps status and load.
	upd := &parley.Agent{AppID: s.app, ID: "a1", Shop: "s1", Weight: 5, MaxLoad: 3, Status: parley.AgentOnline}
	if err := s.st.PutAgent(s.ctx, upd); err != nil || upd.Status != parley.AgentAway || upd.Weight != 5 {
		t.Fatalf("PutAgent update: got %+v, %v, want away with weight 5", upd, err)
	}
	_, err = s.st.SetAgentStatus(s.ctx, s.app, "ghost", parley.AgentOnline)
	wantCode(t, "SetAgentStatus of no agent", err, parley.ENotFound)
	if as, err := s.st.Agents(s.ctx, s.app, "s1"); err != nil || len(as) != 3 || as[0].ID != "a1" {
		t.Fatalf("Agents: got %+v, %v", as, err)
	}
}

func testOpenOnce(t *testing.T, s *suite) {
	conv := parley.ConsultConvID("s1", "u1")
	var wg sync.WaitGroup
	created := make([]bool, 8)
	ids := make([]string, 8)
	for i := range created {
		wg.Add(1)
		go func() {
			defer wg.Done()
			c := &parley.Consultation{AppID: s.app, ID: fmt.Sprintf("o%d", i), Shop: "s1", User: "u1", Conv: conv,
				Queue: "s1", State: parley.ConsultInitial, OpenedAt: 5}
			ok, err := s.st.Open(s.ctx, c)
			if err != nil {
				t.Errorf("Open: %v", err)
			}
			created[i], ids[i] = ok, c.ID
		}()
	}
	wg.Wait()
	n := 0
	for i := range created {
		if created[i] {
			n++
		}
		if ids[i] != ids[0] {
			t.Fatalf("Open answered different consultations: %v", ids)
		}
	}
	if n != 1 {
		t.Fatalf("Open created %d consultations in one thread, want 1", n)
	}
	if m := s.members(t, conv); !slices.Equal(m, []string{"u1"}) {
		t.Fatalf("thread members: got %v, want [u1]", m)
	}
	cur, err := s.st.Current(s.ctx, s.app, conv)
	if err != nil || cur.ID != ids[0] || cur.State != parley.ConsultInitial {
		t.Fatalf("Current: got %+v, %v", cur, err)
	}
	// initial -> pending sets PendingAt.
	p, err := s.st.Transition(s.ctx, consult.Transition{AppID: s.app, ID: cur.ID, From: []parley.ConsultState{parley.ConsultInitial},
		To: parley.ConsultPending, At: 77})
	if err != nil || p.State != parley.ConsultPending || p.PendingAt != 77 {
		t.Fatalf("to pending: got %+v, %v", p, err)
	}
	_, err = s.st.Current(s.ctx, s.app, parley.ConsultConvID("s1", "u9"))
	wantCode(t, "Current of a thread without consultations", err, parley.ENotFound)
}

func testAssignGuards(t *testing.T, s *suite) {
	c1, c2, c3 := s.open(t, "u1"), s.open(t, "u2"), s.open(t, "u3")
	r, err := s.assign(c1, "a1")
	if err != nil || r.State != parley.ConsultAssigned || r.Agent != "a1" || r.AssignedAt == 0 {
		t.Fatalf("assign: got %+v, %v", r, err)
	}
	if m := s.members(t, c1.Conv); !slices.Equal(m, []string{"a1", "u1"}) {
		t.Fatalf("members after assignment: got %v, want [a1 u1]", m)
	}
	_, err = s.assign(c1, "a1")
	wantCode(t, "assign to its own agent", err, parley.EConflict)
	if _, err := s.assign(c2, "a1"); err != nil {
		t.Fatal(err)
	}
	_, err = s.assign(c3, "a1")
	wantCode(t, "assign past capacity", err, parley.EConflict)
	if got := s.load(t, "a1"); got != 2 {
		t.Fatalf("load after a refused assignment: got %d, want 2", got)
	}
	if _, err := s.st.SetAgentStatus(s.ctx, s.app, "a2", parley.AgentAway); err != nil {
		t.Fatal(err)
	}
	_, err = s.assign(c3, "a2")
	wantCode(t, "assign to an away agent", err, parley.EConflict)
	_, err = s.st.Transition(s.ctx, consult.Transition{AppID: s.app, ID: c1.ID, From: []parley.ConsultState{parley.ConsultPending},
		To: parley.ConsultResolved, At: s.tick()})
	wantCode(t, "transition from a state it is not in", err, parley.EConflict)
	_, err = s.st.Transition(s.ctx, consult.Transition{AppID: s.app, ID: "nope", From: []parley.ConsultState{parley.ConsultPending},
		To: parley.ConsultResolved})
	wantCode(t, "transition of no consultation", err, parley.ENotFound)
}

func testTransferResolve(t *testing.T, s *suite) {
	c := s.open(t, "u1")
	if _, err := s.assign(c, "a1"); err != nil {
		t.Fatal(err)
	}
	r, err := s.assign(c, "a2")
	if err != nil || r.Agent != "a2" {
		t.Fatalf("transfer: got %+v, %v", r, err)
	}
	if s.load(t, "a1") != 0 || s.load(t, "a2") != 1 {
		t.Fatalf("loads after transfer: a1 %d a2 %d, want 0 and 1", s.load(t, "a1"), s.load(t, "a2"))
	}
	if m := s.members(t, c.Conv); !slices.Equal(m, []string{"a2", "u1"}) {
		t.Fatalf("members after transfer: got %v, want [a2 u1]", m)
	}
	team := "t-a3"
	r, err = s.st.Transition(s.ctx, consult.Transition{AppID: s.app, ID: c.ID, From: []parley.ConsultState{parley.ConsultAssigned},
		To: parley.ConsultPending, Team: &team, At: s.tick()})
	if err != nil || r.State != parley.ConsultPending || r.Agent != "" || r.Team != team || r.PendingAt != c.PendingAt {
		t.Fatalf("to a team: got %+v, %v (want pending, no agent, team, PendingAt kept %d)", r, err, c.PendingAt)
	}
	if s.load(t, "a2") != 0 {
		t.Fatalf("a2 still loaded after the transfer to a team")
	}
	if _, err := s.assign(c, "a3"); err != nil {
		t.Fatal(err)
	}
	r, err = s.st.Transition(s.ctx, consult.Transition{AppID: s.app, ID: c.ID, From: []parley.ConsultState{parley.ConsultAssigned},
		To: parley.ConsultResolved, By: "a3", At: s.tick()})
	if err != nil || r.State != parley.ConsultResolved || r.Agent != "a3" || r.ResolvedBy != "a3" || r.ResolvedAt == 0 {
		t.Fatalf("resolve: got %+v, %v", r, err)
	}
	if s.load(t, "a3") != 0 {
		t.Fatalf("a3 still loaded after resolving")
	}
	if m := s.members(t, c.Conv); !slices.Equal(m, []string{"u1"}) {
		t.Fatalf("members after resolution: got %v, want [u1]", m)
	}
	// A resolved consultation stays resolved; the next one is new.
	_, err = s.assign(c, "a1")
	wantCode(t, "assign a resolved consultation", err, parley.EConflict)
	c2 := s.open(t, "u1")
	if c2.ID == c.ID {
		t.Fatalf("Open after resolution returned the resolved consultation")
	}
}

func testConcurrentAssign(t *testing.T, s *suite) {
	var cs []*parley.Consultation
	for i := 1; i <= 9; i++ {
		cs = append(cs, s.open(t, fmt.Sprintf("u%d", i)))
	}
	var wg sync.WaitGroup
	var mu sync.Mutex
	won := map[string]int{}
	for i := 0; i < 60; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			c := cs[i%len(cs)]
			agent := fmt.Sprintf("a%d", i%3+1)
			r, err := s.st.Transition(s.ctx, consult.Transition{AppID: s.app, ID: c.ID, To: parley.ConsultAssigned, Agent: agent,
				From: []parley.ConsultState{parley.ConsultPending}, At: 9})
			if err == nil {
				mu.Lock()
				won[r.ID]++
				mu.Unlock()
			} else if parley.ErrorCode(err) != parley.EConflict {
				t.Errorf("Transition: %v", err)
			}
		}()
	}
	wg.Wait()
	total := 0
	for id, n := range won {
		if n != 1 {
			t.Errorf("consultation %s assigned %d times", id, n)
		}
		total += n
	}
	if total != 6 {
		t.Errorf("assignments: got %d, want 6 (3 agents of capacity 2)", total)
	}
	for _, a := range []string{"a1", "a2", "a3"} {
		if n := s.load(t, a); n != 2 {
			t.Errorf("load of %s: got %d, want 2", a, n)
		}
	}
}

func testMessages(t *testing.T, s *suite) {
	c := s.open(t, "u1")
	if _, err := s.assign(c, "a1"); err != nil {
		t.Fatal(err)
	}
	r, err := s.st.RecordMessage(s.ctx, consult.MessageEvent{AppID: s.app, Consult: c.ID, Sender: "a1", FromAgent: true, At: 5000, ResolveAfter: 60_000})
	if err != nil || r.FirstReplyAt != 5000 || r.ResolveDue != 65_000 {
		t.Fatalf("agent message: got %+v, %v, want first reply 5000, due 65000", r, err)
	}
	r, err = s.st.RecordMessage(s.ctx, consult.MessageEvent{AppID: s.app, Consult: c.ID, Sender: "a1", FromAgent: true, At: 6000, ResolveAfter: 60_000})
	if err != nil || r.FirstReplyAt != 5000 || r.ResolveDue != 66_000 {
		t.Fatalf("second agent message: got %+v, %v", r, err)
	}
	if due, err := s.st.DueForResolve(s.ctx, 66_000, 10); err != nil || len(due) != 1 || due[0].ID != c.ID || due[0].AppID != s.app {
		t.Fatalf("DueForResolve: got %+v, %v", due, err)
	}
	// A resolution decided on an old deadline loses to the new one.
	_, err = s.st.Transition(s.ctx, consult.Transition{AppID: s.app, ID: c.ID, From: []parley.ConsultState{parley.ConsultAssigned},
		To: parley.ConsultResolved, IfDue: 65_000, At: 66_000})
	wantCode(t, "resolve on a stale deadline", err, parley.EConflict)
	r, err = s.st.RecordMessage(s.ctx, consult.MessageEvent{AppID: s.app, Consult: c.ID, Sender: "u1", At: 7000})
	if err != nil || r.ResolveDue != 0 {
		t.Fatalf("user message: got %+v, %v, want no deadline", r, err)
	}
	if due, _ := s.st.DueForResolve(s.ctx, 1<<50, 10); slices.ContainsFunc(due, func(d parley.Consultation) bool { return d.ID == c.ID }) {
		t.Fatalf("DueForResolve after the user wrote: still due")
	}
	if _, err := s.st.Transition(s.ctx, consult.Transition{AppID: s.app, ID: c.ID, From: []parley.ConsultState{parley.ConsultAssigned},
		To: parley.ConsultResolved, At: 8000}); err != nil {
		t.Fatal(err)
	}
	_, err = s.st.RecordMessage(s.ctx, consult.MessageEvent{AppID: s.app, Consult: c.ID, Sender: "u1", At: 9000})
	wantCode(t, "message of a resolved consultation", err, parley.EConflict)
}

func testWaitingAndLookups(t *testing.T, s *suite) {
	c1, c2, c3 := s.open(t, "u1"), s.open(t, "u2"), s.open(t, "u3")
	w, err := s.st.Waiting(s.ctx, s.app, "s1", 10)
	if err != nil || len(w) != 3 || w[0].ID != c1.ID || w[1].ID != c2.ID || w[2].ID != c3.ID {
		t.Fatalf("Waiting: got %+v, %v, want c1 c2 c3", w, err)
	}
	if _, err := s.assign(c2, "a2"); err != nil {
		t.Fatal(err)
	}
	if w, _ := s.st.Waiting(s.ctx, s.app, "s1", 10); len(w) != 2 || w[1].ID != c3.ID {
		t.Fatalf("Waiting after an assignment: got %+v", w)
	}
	if _, err := s.st.Transition(s.ctx, consult.Transition{AppID: s.app, ID: c2.ID, From: []parley.ConsultState{parley.ConsultAssigned},
		To: parley.ConsultResolved, At: s.tick()}); err != nil {
		t.Fatal(err)
	}
	if a, err := s.st.LastAgent(s.ctx, s.app, "s1", "u2", "other"); err != nil || a != "a2" {
		t.Fatalf("LastAgent: got %q, %v, want a2", a, err)
	}
	if a, err := s.st.LastAgent(s.ctx, s.app, "s1", "u2", c2.ID); err != nil || a != "" {
		t.Fatalf("LastAgent excluding it: got %q, %v, want none", a, err)
	}
	c4 := s.open(t, "u2")
	if _, err := s.assign(c4, "a1"); err != nil {
		t.Fatal(err)
	}
	ws, err := s.st.Watchers(s.ctx, s.app, "u2", 3)
	slices.Sort(ws)
	if err != nil || !slices.Equal(ws, []string{"a1", "a2"}) {
		t.Fatalf("Watchers: got %v, %v, want [a1 a2]", ws, err)
	}
	if ws, _ := s.st.Watchers(s.ctx, s.app, "u9", 3); len(ws) != 0 {
		t.Fatalf("Watchers of a user never served: got %v", ws)
	}
	cs, err := s.st.Consults(s.ctx, s.app, consult.Filter{User: "u2"})
	if err != nil || len(cs) != 2 || cs[0].ID != c2.ID {
		t.Fatalf("Consults by user: got %+v, %v", cs, err)
	}
	cs, _ = s.st.Consults(s.ctx, s.app, consult.Filter{Shop: "s1", States: []parley.ConsultState{parley.ConsultPending}})
	if len(cs) != 2 {
		t.Fatalf("Consults pending: got %d, want 2", len(cs))
	}
}

func testRate(t *testing.T, s *suite) {
	c := s.open(t, "u1")
	_, err := s.st.Rate(s.ctx, s.app, c.ID, "u1", 5, "", 1)
	wantCode(t, "rate an open consultation", err, parley.EConflict)
	if _, err := s.st.Transition(s.ctx, consult.Transition{AppID: s.app, ID: c.ID, From: []parley.ConsultState{parley.ConsultPending},
		To: parley.ConsultResolved, At: s.tick()}); err != nil {
		t.Fatal(err)
	}
	_, err = s.st.Rate(s.ctx, s.app, c.ID, "u2", 5, "", 1)
	wantCode(t, "rate someone else's", err, parley.EForbidden)
	r, err := s.st.Rate(s.ctx, s.app, c.ID, "u1", 4, "ok", 2)
	if err != nil || r.Rating != 4 || r.Comment != "ok" {
		t.Fatalf("Rate: got %+v, %v", r, err)
	}
	_, err = s.st.Rate(s.ctx, s.app, c.ID, "u1", 5, "", 3)
	wantCode(t, "rate twice", err, parley.EConflict)
}

func testEvents(t *testing.T, s *suite) {
	c := s.open(t, "u1") // opened + pending at 1001000
	if _, err := s.assign(c, "a1"); err != nil {
		t.Fatal(err)
	}
	mid := s.at + 1000 // the transfer's time
	if _, err := s.assign(c, "a2"); err != nil {
		t.Fatal(err)
	}
	evs, err := s.st.Events(s.ctx, s.app, 0, 1<<50)
	if err != nil {
		t.Fatal(err)
	}
	var kinds []string
	for _, e := range evs {
		kinds = append(kinds, string(e.Kind)+":"+e.Agent)
		if e.User != "u1" || e.Shop != "s1" || e.Consult != c.ID {
			t.Fatalf("event %+v: wrong user, shop or consultation", e)
		}
	}
	want := []string{"opened:", "pending:", "assigned:a1", "released:a1", "transferred:a2", "assigned:a2"}
	if !slices.Equal(kinds, want) {
		t.Fatalf("events: got %v, want %v", kinds, want)
	}
	if evs[2].Load != 1 || evs[3].Load != 0 || evs[5].Load != 1 {
		t.Fatalf("loads in events: got %+v", evs)
	}
	if evs[2].Team != "" {
		t.Fatalf("team of an event without team or queue: got %q", evs[2].Team)
	}
	if part, _ := s.st.Events(s.ctx, s.app, mid, mid+1); len(part) != 3 {
		t.Fatalf("Events in [mid, mid+1): got %d, want the 3 of the transfer", len(part))
	}
	loads, err := s.st.AgentLoadsAt(s.ctx, s.app, mid)
	if err != nil || loads["a1"] != 1 || len(loads) != 1 {
		t.Fatalf("AgentLoadsAt(mid): got %v, %v, want a1:1", loads, err)
	}
	loads, _ = s.st.AgentLoadsAt(s.ctx, s.app, mid+1)
	if loads["a1"] != 0 || loads["a2"] != 1 {
		t.Fatalf("AgentLoadsAt after the transfer: got %v, want a1:0 a2:1", loads)
	}
}

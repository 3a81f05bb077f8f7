package consult

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/parley-im/parley"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

func agents(loads ...int) []*parley.Agent {
	ids := []string{"a1", "a2", "a3"}
	var out []*parley.Agent
	for i, l := range loads {
		out = append(out, &parley.Agent{ID: ids[i], Weight: 3 - i, MaxLoad: 2, Load: l, Status: parley.AgentOnline})
	}
	return out
}

// TestPick: each strategy's choice, as docs/protocol.md §15.2 defines it.
func TestPick(t *testing.T) {
	s := &Service{log: slog.New(slog.DiscardHandler)}
	for _, tc := range []struct {
		name     string
		strategy parley.AssignStrategy
		cursor   string
		loads    []int
		want     string
	}{
		{"even starts at the lowest id", parley.StrategyEven, "", []int{1, 0, 0}, "a1"},
		{"even goes after the cursor", parley.StrategyEven, "a1", []int{0, 0, 0}, "a2"},
		{"even wraps around", parley.StrategyEven, "a3", []int{1, 1, 1}, "a1"},
		{"least loaded", parley.StrategyLeastLoaded, "", []int{1, 0, 1}, "a2"},
		{"least loaded tie goes to the lowest id", parley.StrategyLeastLoaded, "", []int{1, 1, 1}, "a1"},
		{"weighted by weight x free slots", parley.StrategyWeighted, "", []int{1, 0, 0}, "a2"},     // 3, 4, 2
		{"weighted tie goes to the lower load", parley.StrategyWeighted, "", []int{2, 1, 0}, "a3"}, // 0, 2, 2
	} {
		t.Run(tc.name, func(t *testing.T) {
			q := &parley.ConsultQueue{Strategy: tc.strategy, Cursor: tc.cursor}
			if got := s.pick(context.Background(), q, &parley.Consultation{}, agents(tc.loads...)); got.ID != tc.want {
				t.Fatalf("got %s, want %s", got.ID, tc.want)
			}
		})
	}
}

// TestRoutingHook: the hook's pick wins when it names an available
// agent; a bad answer falls back to the strategy.
func TestRoutingHook(t *testing.T) {
	answer := `{"agent":"a3"}`
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var req hookRequest
		b, _ := io.ReadAll(r.Body)
		if json.Unmarshal(b, &req) != nil || len(req.Agents) != 3 || req.Consult.ID != "c1" {
			http.Error(w, "bad request", 400)
			return
		}
		_, _ = io.WriteString(w, answer)
	}))
	defer srv.Close()
	s := &Service{log: slog.New(slog.DiscardHandler), cfg: Config{HookTimeout: time.Second, HTTPClient: srv.Client()}}
	q := &parley.ConsultQueue{Strategy: parley.StrategyLeastLoaded, Hook: srv.URL}
	c := &parley.Consultation{ID: "c1"}
	if got := s.pick(context.Background(), q, c, agents(0, 0, 1)); got.ID != "a3" {
		t.Fatalf("hook pick: got %s, want a3", got.ID)
	}
	answer = `{"agent":"ghost"}`
	if got := s.pick(context.Background(), q, c, agents(0, 0, 1)); got.ID != "a1" {
		t.Fatalf("hook naming nobody available: got %s, want the strategy's a1", got.ID)
	}
}

// TestReport: a hand-computed report, with a consultation pending before
// the period (left out) and events after its end (ignored).
func TestReport(t *testing.T) {
	const m = 60_000
	ev := func(c string, k EventKind, at int64, agent string, load, value int) Event {
		return Event{Consult: c, Kind: k, At: at, Shop: "s1", Team: "t1", Agent: agent, Load: load, Value: value}
	}
	evs := []Event{
		ev("old", EvAgentMsg, 1*m, "a1", 0, 0), // pending before From: not counted
		ev("c1", EvPending, 10*m, "", 0, 0),
		ev("c1", EvAssigned, 10*m, "a1", 2, 0),
		ev("c1", EvUserMsg, 10*m, "", 0, 0),
		ev("c1", EvAgentMsg, 10*m+25_000, "a1", 0, 0), // first reply 25 s
		ev("c1", EvUserMsg, 12*m, "", 0, 0),
		ev("c1", EvUserMsg, 13*m, "", 0, 0),
		ev("c1", EvAgentMsg, 14*m, "a1", 0, 0), // response 2 min (from 12)
		ev("c1", EvResolved, 20*m, "a1", 0, 0),
		ev("c1", EvReleased, 20*m, "a1", 1, 0),
		ev("c1", EvRated, 21*m, "a1", 0, 2),
		ev("c2", EvPending, 70*m, "", 0, 0),
		ev("c2", EvAssigned, 70*m, "a2", 1, 0),
		ev("c2", EvUserMsg, 70*m, "", 0, 0),
	}
	r := computeReport(Query{From: 5 * m, To: 120 * m}, evs, map[string]int{"a1": 1})
	want := Report{From: 5 * m, To: 120 * m, Consultations: 2, Replied: 1, FirstReply30s: 1, FirstReply60s: 1,
		ReplyRate30s: 0.5, ReplyRate60s: 0.5, AvgFirstReplyMs: 25_000, Responses: 2, AvgResponseMs: (25_000 + 120_000) / 2.0,
		NoResponse: 1, Resolved: 1, AvgResolutionMs: 10 * m, Ratings: 1, AvgRating: 2, RatingCounts: [5]int{0, 1, 0, 0, 0},
		Hours:  []HourCount{{Hour: 0, Count: 1}, {Hour: 60 * m, Count: 1}},
		Agents: []AgentReport{{Agent: "a1", Assigned: 1, PeakLoad: 2, Load: 1}, {Agent: "a2", Assigned: 1, PeakLoad: 1, Load: 1}}}
	gj, _ := json.Marshal(r)
	wj, _ := json.Marshal(want)
	if string(gj) != string(wj) {
		t.Fatalf("report\ngot  %s\nwant %s", gj, wj)
	}
	if r := computeReport(Query{From: 5 * m, To: 120 * m, Agent: "a2"}, evs, nil); r.Consultations != 1 || r.NoResponse != 1 {
		t.Fatalf("agent a2: got %+v, want its one consultation, unanswered", r)
	}
}

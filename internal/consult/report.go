package consult

import (
	"cmp"
	"context"
	"slices"

	"github.com/parley-im/parley"
)

// Query selects what a Report covers: the consultations that became
// pending in [From, To) (Unix ms), of one shop, team and agent when set,
// and the events up to To. The same query gives the same report at any
// later time: nothing after To counts.
type Query struct {
	Shop, Team, Agent string
	From, To          int64
}

// Report is the service's metrics for a Query, computed from the stored
// events (docs/protocol.md, "Metrics", defines every field).
type Report struct {
	From int64 `json:"from"`
	To   int64 `json:"to"`
	// Consultations became pending (the user's first message) in the
	// period; the fields up to Ratings are about them.
	Consultations int `json:"consultations"`
	// Replied had an agent message before To; FirstReply30s and
	// FirstReply60s within 30 and 60 seconds of becoming pending;
	// ReplyRate30s and ReplyRate60s are those over Consultations.
	Replied         int     `json:"replied"`
	FirstReply30s   int     `json:"first_reply_30s"`
	FirstReply60s   int     `json:"first_reply_60s"`
	ReplyRate30s    float64 `json:"reply_rate_30s"`
	ReplyRate60s    float64 `json:"reply_rate_60s"`
	AvgFirstReplyMs float64 `json:"avg_first_reply_ms"`
	// Responses counts agent answers: an agent message after one or more
	// user messages not yet answered; AvgResponseMs averages the time
	// from the first of those user messages.
	Responses     int     `json:"responses"`
	AvgResponseMs float64 `json:"avg_response_ms"`
	// NoResponse had no agent message before To.
	NoResponse int `json:"no_response"`
	// Resolved were resolved before To; AvgResolutionMs is from pending
	// to resolved.
	Resolved        int     `json:"resolved"`
	AvgResolutionMs float64 `json:"avg_resolution_ms"`
	Ratings         int     `json:"ratings"`
	AvgRating       float64 `json:"avg_rating"`
	RatingCounts    [5]int  `json:"rating_counts"` // scores 1..5
	// Hours counts the consultations by the hour they became pending
	// (pressure per hour), hours without any left out.
	Hours []HourCount `json:"hours"`
	// Agents: per agent of the selection, assignments in the period
	// (transfers to them included) and the most consultations held at
	// once (PeakLoad, from the loads the events record) and at To.
	Agents []AgentReport `json:"agents"`
}

// HourCount is the number of consultations that became pending in the
// hour starting at Hour (Unix ms).
type HourCount struct {
	Hour  int64 `json:"hour"`
	Count int   `json:"count"`
}

// AgentReport is one agent's load in a period.
type AgentReport struct {
	Agent    string `json:"agent"`
	Assigned int    `json:"assigned"`
	PeakLoad int    `json:"peak_load"`
	Load     int    `json:"load"`
}

// MaxReportPeriod is the longest period a Report covers (92 days).
const MaxReportPeriod = 92 * 24 * 3600 * 1000

// Metrics computes the Report of q from the stored events. A
// consultation belongs to the team and agent of its first assignment
// (the team of its queue while it never was). Errors: EInvalid for an
// empty or reversed period or one longer than MaxReportPeriod.
func (s *Service) Metrics(ctx context.Context, appID string, q Query) (*Report, error) {
	if q.From >= q.To || q.To-q.From > MaxReportPeriod || q.From < 0 {
		return nil, parley.Errorf(parley.EInvalid, "the period must be from < to, at most 92 days")
	}
	evs, err := s.store.Events(ctx, appID, q.From, q.To)
	if err != nil {
		return nil, err
	}
	loads, err := s.store.AgentLoadsAt(ctx, appID, q.From)
	if err != nil {
		return nil, err
	}
	return computeReport(q, evs, loads), nil
}

// consultTrack is one consultation's events, followed in order.
type consultTrack struct {
	pending, firstReply, resolved int64
	team, agent                   string
	assigned                      bool
	unanswered                    int64 // the first user message not yet answered
	responses                     []int64
	rating                        int
}

func computeReport(q Query, evs []Event, loadsAtFrom map[string]int) *Report {
	r := &Report{From: q.From, To: q.To, Hours: []HourCount{}, Agents: []AgentReport{}}
	tracks := map[string]*consultTrack{}
	var order []string
	agents := map[string]*AgentReport{}
	agentOf := func(id string) *AgentReport {
		a := agents[id]
		if a == nil {
			a = &AgentReport{Agent: id, PeakLoad: loadsAtFrom[id], Load: loadsAtFrom[id]}
			agents[id] = a
		}
		return a
	}
	for a := range loadsAtFrom {
		if loadsAtFrom[a] > 0 && (q.Agent == "" || q.Agent == a) {
			agentOf(a)
		}
	}
	for _, e := range evs {
		if q.Shop != "" && e.Shop != q.Shop {
			continue
		}
		if (e.Kind == EvAssigned || e.Kind == EvReleased) && e.Agent != "" &&
			(q.Agent == "" || q.Agent == e.Agent) && (q.Team == "" || q.Team == e.Team) {
			a := agentOf(e.Agent)
			a.Load = e.Load
			a.PeakLoad = max(a.PeakLoad, e.Load)
			if e.Kind == EvAssigned {
				a.Assigned++
			}
		}
		t := tracks[e.Consult]
		if e.Kind == EvPending {
			if t == nil {
				t = &consultTrack{pending: e.At, team: e.Team}
				tracks[e.Consult] = t
				order = append(order, e.Consult)
			}
			continue
		}
		if t == nil {
			continue // became pending before the period
		}
		switch e.Kind {
		case EvAssigned:
			if !t.assigned {
				t.assigned, t.agent, t.team = true, e.Agent, e.Team
			}
		case EvUserMsg:
			if t.unanswered == 0 {
				t.unanswered = e.At
			}
		case EvAgentMsg:
			if t.firstReply == 0 {
				t.firstReply = e.At
			}
			if t.unanswered != 0 {
				t.responses = append(t.responses, e.At-t.unanswered)
				t.unanswered = 0
			}
		case EvResolved:
			t.resolved = e.At
		case EvRated:
			t.rating = e.Value
		}
	}
	var firstSum, respSum, resolveSum, ratingSum int64
	hours := map[int64]int{}
	for _, id := range order {
		t := tracks[id]
		if q.Team != "" && t.team != q.Team || q.Agent != "" && t.agent != q.Agent {
			continue
		}
		r.Consultations++
		hours[t.pending/3_600_000*3_600_000]++
		if t.firstReply != 0 {
			d := t.firstReply - t.pending
			r.Replied++
			firstSum += d
			if d <= 30_000 {
				r.FirstReply30s++
			}
			if d <= 60_000 {
				r.FirstReply60s++
			}
		} else {
			r.NoResponse++
		}
		for _, d := range t.responses {
			r.Responses++
			respSum += d
		}
		if t.resolved != 0 {
			r.Resolved++
			resolveSum += t.resolved - t.pending
		}
		if t.rating != 0 {
			r.Ratings++
			ratingSum += int64(t.rating)
			r.RatingCounts[t.rating-1]++
		}
	}
	avg := func(sum int64, n int) float64 {
		if n == 0 {
			return 0
		}
		return float64(sum) / float64(n)
	}
	r.AvgFirstReplyMs = avg(firstSum, r.Replied)
	r.AvgResponseMs = avg(respSum, r.Responses)
	r.AvgResolutionMs = avg(resolveSum, r.Resolved)
	r.AvgRating = avg(ratingSum, r.Ratings)
	r.ReplyRate30s = avg(int64(r.FirstReply30s), r.Consultations)
	r.ReplyRate60s = avg(int64(r.FirstReply60s), r.Consultations)
	for h, n := range hours {
		r.Hours = append(r.Hours, HourCount{Hour: h, Count: n})
	}
	slices.SortFunc(r.Hours, func(a, b HourCount) int { return cmp.Compare(a.Hour, b.Hour) })
	for _, a := range agents {
		r.Agents = append(r.Agents, *a)
	}
	slices.SortFunc(r.Agents, func(a, b AgentReport) int { return cmp.Compare(a.Agent, b.Agent) })
	return r
}

package bench

import (
	"encoding/json"
	"fmt"
	"sort"
	"text/tabwriter"
	"time"
)

// Line is one JSON line of a run's machine-readable output.
type Line struct {
	Time     time.Time `json:"time"`
	Scenario string    `json:"scenario"`
	Kind     string    `json:"kind"` // idle, step, round, summary
	// Exactly one of these is set, as Kind says.
	Idle    *IdleResult  `json:"idle,omitempty"`
	Step    *StepResult  `json:"step,omitempty"`
	Round   *RoundResult `json:"round,omitempty"`
	Summary *Result      `json:"summary,omitempty"`
}

// report writes the table for people and the JSON lines for machines.
func (c *Config) report(res *Result) {
	now := time.Now().UTC()
	if c.JSON != nil {
		enc := json.NewEncoder(c.JSON)
		if res.Idle != nil {
			_ = enc.Encode(Line{Time: now, Scenario: res.Scenario, Kind: "idle", Idle: res.Idle})
		}
		for i := range res.Steps {
			_ = enc.Encode(Line{Time: now, Scenario: res.Scenario, Kind: "step", Step: &res.Steps[i]})
		}
		for i := range res.Rounds {
			_ = enc.Encode(Line{Time: now, Scenario: res.Scenario, Kind: "round", Round: &res.Rounds[i]})
		}
		_ = enc.Encode(Line{Time: now, Scenario: res.Scenario, Kind: "summary", Summary: res})
	}
	w := tabwriter.NewWriter(c.Out, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintf(c.Out, "\n%s: %d users (%d connected, %d failed, %.1fs to connect) from %d worker(s), %s client\n", res.Scenario, res.Users, res.Connected, res.DialErrs, res.DialSecs, res.Procs, res.Client)
	if r := res.Idle; r != nil {
		fmt.Fprintln(w, "conns\thold s\tRSS before MB\tRSS after MB\tRSS/conn KB\tpeak RSS/conn KB\theap/conn KB\tgoroutines/conn\tthreads\t")
		fmt.Fprintf(w, "%d\t%.0f\t%.1f\t%.1f\t%.2f\t%.2f\t%.2f\t%.3f\t%d\t\n", r.Conns, r.HoldSeconds, float64(r.RSSBefore)/(1<<20), float64(r.RSSAfter)/(1<<20),
			r.RSSPerConn/1024, r.RSSPeakPerConn/1024, r.HeapPerConn/1024, r.GoroutinesPerConn, r.Threads)
	}
	if len(res.Steps) > 0 {
		fmt.Fprintln(w, "step\trate/s\tsent\tacked\tstored\tdelivered\terrors\tskipped\tp50 ms\tp99 ms\tp99.9 ms\tmax ms\tack p99 ms\tserver CPU\tgen CPU\t")
		for _, s := range res.Steps {
			stored := "-"
			if s.Stored >= 0 {
				stored = fmt.Sprintf("%.0f", s.Stored)
			}
			fmt.Fprintf(w, "%d\t%.0f\t%d\t%d\t%s\t%d\t%d\t%d\t%.2f\t%.2f\t%.2f\t%.1f\t%.2f\t%.0f%%\t%.0f%%\t\n", s.Step, s.Rate, s.Sent, s.Acked, stored, s.Delivered,
				s.Errors, s.Skipped, s.P50, s.P99, s.P999, s.Max, s.AckP99, 100*s.ServerCPU, 100*s.GenCPU)
		}
	}
	if res.Scenario == ScenarioGroup && len(res.Steps) > 0 {
		_ = w.Flush()
		fmt.Fprintln(w, "step\trate/s\tpushes/s\tto last recipient: p50 ms\tp99 ms\tmax ms\tfrom accepted: p50 ms\tp99 ms\t")
		for _, s := range res.Steps {
			fmt.Fprintf(w, "%d\t%.0f\t%.0f\t%.1f\t%.1f\t%.1f\t%.1f\t%.1f\t\n", s.Step, s.Rate, s.Delivery, s.LastP50, s.LastP99, s.LastMax, s.AcceptedP50, s.AcceptedP99)
		}
	}
	if len(res.Rounds) > 0 {
		fmt.Fprintln(w, "round\tusers\tstored\tdelivered\tAPI ms\tp50 ms\tp99 ms\tlast ms\tdeliveries/s\t")
		for _, r := range res.Rounds {
			fmt.Fprintf(w, "%d\t%d\t%d\t%d\t%.0f\t%.1f\t%.1f\t%.1f\t%.0f\t\n", r.Round, r.Users, r.Stored, r.Delivered, r.APIms, r.P50, r.P99, r.Last, r.PerSec)
		}
	}
	_ = w.Flush()
	if len(res.ErrCodes) > 0 {
		codes := make([]string, 0, len(res.ErrCodes))
		for k := range res.ErrCodes {
			codes = append(codes, k)
		}
		sort.Strings(codes)
		fmt.Fprint(c.Out, "errors by code:")
		for _, k := range codes {
			fmt.Fprintf(c.Out, " %s=%d", k, res.ErrCodes[k])
		}
		fmt.Fprintln(c.Out)
	}
	verdict := "OK"
	if !res.Check.OK() {
		verdict = "FAILED"
	}
	fmt.Fprintf(c.Out, "sequence check %s: %d conversations, %d messages expected, %d lost, %d duplicated, %d out of order, %d unconfirmed; %d connections dropped; generator CPU %.1fs\n",
		verdict, res.Check.Convs, res.Check.Expected, res.Check.Lost, res.Check.Dup, res.Check.Reordered, res.Check.Unconfirmed, res.Drops, res.GenCPU)
}
